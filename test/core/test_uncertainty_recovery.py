# Copyright 2026 mtl_perception maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The science check: learned task uncertainty recovers the true noise of each task.

Three regression tasks share one model; each task's targets carry Gaussian noise of a known,
different sigma. With squared-error task losses (the Gaussian likelihood the weighting is
derived from), the minimum of 0.5 exp(-s) L + 0.5 s lies at exp(s) = L = sigma^2, so the
learned sigmas must approach the true ones, and the learned weights 1/(2 sigma^2) must order
the tasks as their noise says.
"""

from mtl_perception.core.losses import LossWeighting
import torch
from torch import nn

TRUE_SIGMA = {'semantic': 0.2, 'instance': 0.6, 'depth': 1.8}


def test_learned_sigmas_recover_the_true_noise():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    tasks = list(TRUE_SIGMA)
    true_maps = {t: torch.randn(8, 1, generator=generator) for t in tasks}
    shared = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 16))
    heads = nn.ModuleDict({t: nn.Linear(16, 1) for t in tasks})
    # Every task regression here, to test the Gaussian form; the classification form has its
    # own hand-computed test in test_losses.py.
    weighting = LossWeighting(tasks, mode='uncertainty', classification_form=False)
    optimizer = torch.optim.Adam([
        {'params': list(shared.parameters()) + list(heads.parameters()), 'lr': 1e-2},
        {'params': weighting.parameters(), 'lr': 2e-2, 'weight_decay': 0.0},
    ])
    for _ in range(1500):
        x = torch.randn(512, 8, generator=generator)
        features = shared(x)
        losses = {}
        for task in tasks:
            target = x @ true_maps[task] + TRUE_SIGMA[task] * torch.randn(
                512, 1, generator=generator)
            losses[task] = ((heads[task](features) - target) ** 2).mean()
        total, _ = weighting(losses)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    learned = weighting.sigmas()
    for task, sigma in TRUE_SIGMA.items():
        assert abs(learned[task] - sigma) / sigma < 0.10, (task, learned[task], sigma)
    weights = weighting.effective_weights()
    assert weights['semantic'] > weights['instance'] > weights['depth']
