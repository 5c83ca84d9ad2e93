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

"""Metrics in the paper's units, on hand-made predictions."""

from mtl_perception.core.metrics import (
    ConfusionMatrix,
    DepthErrors,
    MultiTaskMetrics,
    percentile,
)
import numpy as np
import pytest
import torch


def test_confusion_matrix_iou_with_ignore():
    matrix = ConfusionMatrix(3)
    target = np.array([[0, 0, 1, 1], [2, 2, 255, 255]])
    prediction = np.array([[0, 1, 1, 1], [2, 0, 2, 0]])
    matrix.update(prediction, target)
    # class 0: tp 1, fp 1 (row 1 col 1), fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3; class 2: 1/2
    np.testing.assert_allclose(matrix.iou(), [1 / 3, 2 / 3, 1 / 2])
    assert matrix.mean_iou() == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert matrix.pixel_accuracy() == pytest.approx(4 / 6)


def test_absent_class_is_nan_not_zero():
    matrix = ConfusionMatrix(3)
    matrix.update(np.array([0, 1]), np.array([0, 1]))
    assert np.isnan(matrix.iou()[2]) and matrix.mean_iou() == 1.0


def test_multitask_metrics_units():
    metrics = MultiTaskMetrics(num_classes=2)
    logits = torch.zeros(1, 2, 1, 3)
    logits[0, 1] = 1.0  # predicts class 1 everywhere
    offsets = torch.zeros(1, 2, 1, 3)
    offsets[0, 0, 0, 0] = 3.0
    offsets[0, 1, 0, 0] = 4.0  # error 5 px at pixel 0
    inverse = torch.tensor([[[[0.5, 0.25, 0.1]]]])
    batch = {
        'semantic': torch.tensor([[[1, 1, 0]]]),
        'instance_offsets': torch.zeros(1, 2, 1, 3),
        'instance_mask': torch.tensor([[[True, True, False]]]),
        'inverse_depth': torch.tensor([[[[0.25, 0.25, 0.0]]]]),
        'depth_valid': torch.tensor([[[True, True, True]]]),
        'depth_m': torch.tensor([[[[4.0, 4.0, float('nan')]]]]),
    }
    metrics.update({'semantic_logits': logits, 'instance_offsets': offsets,
                    'inverse_depth': inverse}, batch)
    result = metrics.compute()
    assert result['semantic_miou'] == pytest.approx((0 + 2 / 3) / 2)
    assert result['instance_mean_error_px'] == pytest.approx(2.5)
    assert result['inverse_depth_mean_error'] == pytest.approx((0.25 + 0 + 0.1) / 3)
    # pixel 0: predicted depth 4 * 0.25 / 0.5 = 2 m (abs rel 0.5); pixel 1 exact; sky skipped
    assert result['depth_abs_rel'] == pytest.approx(0.25)
    assert result['depth_rmse_m'] == pytest.approx(np.sqrt(4 / 2))
    # the same DepthErrors as the bag evaluator: |1/2 - 1/4| over the two metric pixels
    assert result['inverse_depth_mean_error_metric'] == pytest.approx(0.25 / 2)
    assert result['depth_delta_1_25'] == pytest.approx(1 / 2)


def test_depth_errors_by_hand():
    errors = DepthErrors()
    predicted = np.array([[2.0, 4.0, 5.0], [np.nan, 0.0, 3.0]])
    true = np.array([[4.0, 4.0, 4.0], [2.0, 2.0, np.inf]])
    # valid: the first row only (NaN prediction, zero prediction, infinite truth are skipped)
    assert errors.update(predicted, true) == pytest.approx((0.5 + 0 + 0.25) / 3)
    assert errors.update(np.array([10.0]), np.array([10.0])) == 0.0
    result = errors.compute()
    assert result['depth_abs_rel'] == pytest.approx(0.75 / 4)
    assert result['depth_rmse_m'] == pytest.approx(np.sqrt((4 + 0 + 1 + 0) / 4))
    # |1/2 - 1/4| + 0 + |1/5 - 1/4| + 0
    assert result['inverse_depth_mean_error_metric'] == pytest.approx((0.25 + 0.05) / 4)
    # 2 m vs 4 m is 2x off, 5 m vs 4 m exactly 1.25x (the bound is strict)
    assert result['depth_delta_1_25'] == pytest.approx(2 / 4)
    assert result['depth_within_10_percent'] == pytest.approx(2 / 4)


def test_depth_errors_without_valid_pixels():
    errors = DepthErrors()
    assert np.isnan(errors.update(np.array([np.nan, 1.0]), np.array([1.0, 0.0])))
    assert errors.compute() == {}
    with pytest.raises(ValueError, match='shape'):
        errors.update(np.ones(2), np.ones(3))


def test_percentile_of_nothing_is_nan():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile((v for v in [5.0]), 99) == 5.0  # any iterable (a deque of samples)
    assert np.isnan(percentile([], 50))
