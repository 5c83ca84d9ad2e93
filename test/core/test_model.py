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

"""Network shapes for every head subset and preset, and a tiny model that can learn."""

from itertools import combinations

from mtl_perception.core.config import ModelConfig, preset_config, PRESETS, TASKS
from mtl_perception.core.losses import LossWeighting, TaskLosses
from mtl_perception.core.model import MultiTaskNet
import pytest
import torch

SUBSETS = [subset for n in (1, 2, 3) for subset in combinations(TASKS, n)]


@pytest.mark.parametrize('tasks', SUBSETS, ids=lambda t: '+'.join(t))
def test_every_head_subset_has_the_right_outputs(tasks):
    model = MultiTaskNet(preset_config('tiny', 5, tasks)).eval()
    with torch.no_grad():
        outputs = model(torch.randn(2, 3, 48, 64))
    expected = {'semantic': ('semantic_logits', 5), 'instance': ('instance_offsets', 2),
                'depth': ('inverse_depth', 1)}
    assert set(outputs) == {expected[t][0] for t in tasks}
    for task in tasks:
        key, channels = expected[task]
        assert outputs[key].shape == (2, channels, 48, 64)
    if 'depth' in tasks:
        assert (outputs['inverse_depth'] >= 0).all()


@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_presets_build_and_run(preset):
    model = MultiTaskNet(preset_config(preset, 8)).eval()
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 96, 128))
    assert outputs['semantic_logits'].shape == (1, 8, 96, 128)


def test_presets_grow_in_size():
    sizes = {name: sum(p.numel() for p in MultiTaskNet(preset_config(name, 8)).parameters())
             for name in ('tiny', 'small', 'base')}
    assert sizes['tiny'] < sizes['small'] < sizes['base']


def test_config_round_trip_and_validation():
    config = preset_config('small', 19, ('semantic', 'depth'))
    assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match='unknown model config keys'):
        ModelConfig.from_dict({**config.to_dict(), 'widht': 3})
    with pytest.raises(ValueError, match='subset'):
        ModelConfig(tasks=('normals',))
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        preset_config('huge', 8)


def test_wrong_input_shape_is_a_clear_error():
    model = MultiTaskNet(preset_config('tiny', 3))
    with pytest.raises(ValueError, match=r'expected an image batch \(B, 3, H, W\)'):
        model(torch.randn(3, 32, 32))


def test_tiny_model_overfits_one_batch(toy_batch):
    torch.manual_seed(0)
    model = MultiTaskNet(preset_config('tiny', 8))
    task_losses = TaskLosses(TASKS)
    weighting = LossWeighting(TASKS, mode='uncertainty')
    optimizer = torch.optim.Adam([
        {'params': model.parameters(), 'lr': 5e-3},
        {'params': weighting.parameters(), 'lr': 5e-3, 'weight_decay': 0.0}])

    def losses_now():
        return task_losses(model(toy_batch['image']), toy_batch)

    model.train()
    first = {t: v.item() for t, v in losses_now().items()}
    for _ in range(150):
        total, _ = weighting(losses_now())
        assert torch.isfinite(total)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        last = {t: v.item() for t, v in losses_now().items()}
    assert sum(last.values()) < sum(first.values()) / 10, (first, last)
