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

"""The loss and its weighting follow the paper's formulas exactly."""

import math

from mtl_perception.core.losses import (
    depth_loss,
    instance_loss,
    LossWeighting,
    semantic_loss,
    TaskLosses,
)
import pytest
import torch


def test_uncertainty_weighting_matches_paper_formula():
    weighting = LossWeighting(['semantic', 'instance', 'depth'], mode='uncertainty')
    with torch.no_grad():
        weighting.log_variance['semantic'].fill_(0.3)
        weighting.log_variance['instance'].fill_(-0.7)
        weighting.log_variance['depth'].fill_(1.2)
    losses = {'semantic': torch.tensor(2.0), 'instance': torch.tensor(5.0),
              'depth': torch.tensor(0.25)}
    total, terms = weighting(losses)
    sigma2 = {t: math.exp(s) for t, s in (('semantic', 0.3), ('instance', -0.7),
                                          ('depth', 1.2))}
    # classification: L / sigma^2 + log sigma; regression: L / (2 sigma^2) + log sigma
    expected = {
        'semantic': 2.0 / sigma2['semantic'] + math.log(math.sqrt(sigma2['semantic'])),
        'instance': 5.0 / (2 * sigma2['instance']) + math.log(math.sqrt(sigma2['instance'])),
        'depth': 0.25 / (2 * sigma2['depth']) + math.log(math.sqrt(sigma2['depth'])),
    }
    for task, value in expected.items():
        assert terms[task].item() == pytest.approx(value, rel=1e-6)
    assert total.item() == pytest.approx(sum(expected.values()), rel=1e-6)
    assert weighting.sigmas()['depth'] == pytest.approx(math.sqrt(sigma2['depth']))
    assert weighting.effective_weights()['semantic'] == pytest.approx(1 / sigma2['semantic'])
    assert weighting.effective_weights()['depth'] == pytest.approx(0.5 / sigma2['depth'])


def test_regression_only_form_uses_half_weight_for_classification():
    weighting = LossWeighting(['semantic'], mode='uncertainty', classification_form=False,
                              init_log_variance=0.5)
    total, _ = weighting({'semantic': torch.tensor(3.0)})
    assert total.item() == pytest.approx(0.5 * math.exp(-0.5) * 3.0 + 0.25)


def test_two_task_regression_formula():
    # L = 1/(2 s1^2) L1 + 1/(2 s2^2) L2 + log(s1 s2)
    weighting = LossWeighting(['instance', 'depth'], mode='uncertainty', init_log_variance=0.0)
    with torch.no_grad():
        weighting.log_variance['instance'].fill_(math.log(4.0))  # sigma = 2
        weighting.log_variance['depth'].fill_(math.log(0.25))  # sigma = 0.5
    total, _ = weighting({'instance': torch.tensor(8.0), 'depth': torch.tensor(1.0)})
    assert total.item() == pytest.approx(8.0 / 8 + 1.0 / 0.5 + math.log(2.0 * 0.5))


def test_fixed_and_equal_modes():
    losses = {'semantic': torch.tensor(1.0), 'instance': torch.tensor(10.0),
              'depth': torch.tensor(0.5)}
    fixed = LossWeighting(list(losses), mode='fixed',
                          weights={'semantic': 0.89, 'instance': 0.01, 'depth': 0.1})
    assert fixed(losses)[0].item() == pytest.approx(0.89 + 0.1 + 0.05)
    equal = LossWeighting(list(losses), mode='equal')
    assert equal(losses)[0].item() == pytest.approx(11.5 / 3)
    assert len(list(fixed.parameters())) == 0 and len(list(equal.parameters())) == 0


def test_single_task_uncertainty_works():
    weighting = LossWeighting(['depth'], mode='uncertainty')
    total, _ = weighting({'depth': torch.tensor(0.4)})
    assert total.item() == pytest.approx(0.2)


def test_gradients_reach_log_variances_and_total_may_be_negative():
    weighting = LossWeighting(['semantic', 'depth'], mode='uncertainty', init_log_variance=-3.0)
    total, _ = weighting({'semantic': torch.tensor(0.01), 'depth': torch.tensor(0.01)})
    assert total.item() < 0  # expected once sigma < 1; never clamped
    total.backward()
    for task in ('semantic', 'depth'):
        grad = weighting.log_variance[task].grad
        assert grad is not None and grad.item() != 0
    # d/ds [exp(-s) L + s/2] = -exp(-s) L + 1/2
    expected = -math.exp(3.0) * 0.01 + 0.5
    assert weighting.log_variance['semantic'].grad.item() == pytest.approx(expected, rel=1e-5)


def test_task_losses_hand_computed():
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 1, 0, 0] = math.log(3.0)  # p(class 1) = 3/4 at pixel 0
    labels = torch.tensor([[[1, 255]]])
    assert semantic_loss(logits, labels).item() == pytest.approx(-math.log(0.75))

    offsets = torch.tensor([[[[1.0, 5.0]], [[-2.0, 0.0]]]])  # (1, 2, 1, 2)
    target = torch.zeros_like(offsets)
    mask = torch.tensor([[[True, False]]])
    assert instance_loss(offsets, target, mask).item() == pytest.approx(3.0)

    inverse = torch.tensor([[[[0.5, 0.1]]]])
    target_inverse = torch.tensor([[[[0.25, float('nan')]]]])
    valid = torch.tensor([[[True, False]]])
    assert depth_loss(inverse, target_inverse, valid).item() == pytest.approx(0.25)


def test_empty_masks_give_zero_with_gradient_path():
    offsets = torch.ones(1, 2, 4, 4, requires_grad=True)
    loss = instance_loss(offsets, torch.zeros(1, 2, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and offsets.grad is not None


def test_wrong_target_shape_names_the_problem(toy_batch):
    losses = TaskLosses(['semantic', 'depth'])
    outputs = {'semantic_logits': torch.zeros(2, 8, 64, 64),
               'inverse_depth': torch.zeros(2, 1, 64, 64)}
    bad = dict(toy_batch, semantic=toy_batch['semantic'][:, :32])
    with pytest.raises(ValueError, match=r"semantic loss: target 'semantic' has shape"):
        losses(outputs, bad)
    missing = {k: v for k, v in toy_batch.items() if k != 'depth_valid'}
    with pytest.raises(ValueError, match='depth loss: the batch has no target'):
        losses(outputs, missing)


def test_bad_weighting_configuration():
    with pytest.raises(ValueError, match="unknown weighting mode 'learned'"):
        LossWeighting(['semantic'], mode='learned')
    with pytest.raises(ValueError, match='one weight per task'):
        LossWeighting(['semantic', 'depth'], mode='fixed', weights={'semantic': 1.0})
    with pytest.raises(ValueError, match='finite'):
        LossWeighting(['depth'], mode='fixed', weights={'depth': float('nan')})
    with pytest.raises(ValueError, match='subset'):
        LossWeighting(['normals'])
