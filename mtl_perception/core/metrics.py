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
Metrics of the paper's table, accumulated over a data set.

- semantic: mean IoU from a confusion matrix (pixels labelled ``ignore_index`` are skipped);
- instance: mean error in pixels, the Euclidean norm of (predicted - true) offset averaged over
  pixels of instances;
- depth: :class:`DepthErrors`, the one definition of the depth errors (the trainer, the bag
  evaluator and the demo all use it): over pixels where predicted and true metric depth are
  both finite and > 0, abs-rel, RMSE in metres, mean absolute inverse-depth error (1/m) and
  the share within 1.25x. :class:`MultiTaskMetrics` also reports the mean absolute
  canonical inverse-depth error over the data set's valid pixels (the training target), and
  turns the canonical prediction into metres with the true depth's scale,
  ``depth_pred = depth_true * inv_true / inv_pred`` (no intrinsics needed: both share the same
  camera scaling), capped at ``max_depth_m`` (default 100 m, the renderer's far plane, as
  KITTI-style evaluations cap at 80 m: one near-zero inverse depth would otherwise dominate
  RMSE with an absurd distance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mtl_perception.core import IGNORE_INDEX
import numpy as np
import torch


class ConfusionMatrix:
    """Confusion matrix for semantic segmentation (rows: truth, columns: prediction)."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX) -> None:
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def update(self, prediction: np.ndarray | torch.Tensor,
               target: np.ndarray | torch.Tensor) -> None:
        prediction = _to_numpy(prediction).reshape(-1).astype(np.int64)
        target = _to_numpy(target).reshape(-1).astype(np.int64)
        if prediction.shape != target.shape:
            raise ValueError(f'prediction has {prediction.size} pixels, target {target.size}')
        keep = (target != self.ignore_index) & (target >= 0) & (target < self.num_classes)
        keep &= (prediction >= 0) & (prediction < self.num_classes)
        index = target[keep] * self.num_classes + prediction[keep]
        self.matrix += np.bincount(index, minlength=self.num_classes ** 2).reshape(
            self.num_classes, self.num_classes)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for classes that appear in neither truth nor prediction."""
        true_positive = np.diag(self.matrix).astype(np.float64)
        union = self.matrix.sum(0) + self.matrix.sum(1) - true_positive
        with np.errstate(invalid='ignore', divide='ignore'):
            return np.where(union > 0, true_positive / union, np.nan)

    def mean_iou(self) -> float:
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan')

    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.diag(self.matrix).sum() / total) if total else float('nan')


class MeanAccumulator:
    """Running sum and count, so per-pixel means are exact over a whole data set."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def add(self, total: float, count: int) -> None:
        self.total += float(total)
        self.count += int(count)

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else float('nan')


class DepthErrors:
    """
    Depth errors of predicted against true metric depth, accumulated pixel by pixel.

    A pixel counts when both depths are finite and > 0 (sky, holes and NaN outputs do not).
    """

    def __init__(self) -> None:
        self.count = 0
        self.abs_rel_sum = 0.0
        self.squared_sum = 0.0  # m^2
        self.inverse_abs_sum = 0.0  # 1/m
        self.within_125 = 0  # max(pred / true, true / pred) < 1.25
        self.within_10_percent = 0  # abs-rel < 0.1

    def update(self, predicted_m: np.ndarray | torch.Tensor,
               true_m: np.ndarray | torch.Tensor) -> float:
        """Add one frame (any equal shapes); return its abs-rel (NaN without valid pixels)."""
        predicted = _to_numpy(predicted_m).astype(np.float64, copy=False)
        true = _to_numpy(true_m).astype(np.float64, copy=False)
        if predicted.shape != true.shape:
            raise ValueError(f'predicted depth has shape {predicted.shape}, true {true.shape}')
        with np.errstate(invalid='ignore'):
            valid = np.isfinite(predicted) & np.isfinite(true) & (predicted > 0) & (true > 0)
        predicted, true = predicted[valid], true[valid]
        if not predicted.size:
            return float('nan')
        relative = np.abs(predicted - true) / true
        self.count += int(predicted.size)
        self.abs_rel_sum += float(relative.sum())
        self.squared_sum += float(((predicted - true) ** 2).sum())
        self.inverse_abs_sum += float(np.abs(1.0 / predicted - 1.0 / true).sum())
        self.within_125 += int((np.maximum(predicted / true, true / predicted) < 1.25).sum())
        self.within_10_percent += int((relative < 0.1).sum())
        return float(relative.mean())

    def compute(self) -> dict[str, float]:
        """Return the errors keyed by metric name; empty before any valid pixel."""
        if not self.count:
            return {}
        return {'depth_abs_rel': self.abs_rel_sum / self.count,
                'depth_rmse_m': float(np.sqrt(self.squared_sum / self.count)),
                'inverse_depth_mean_error_metric': self.inverse_abs_sum / self.count,
                'depth_delta_1_25': self.within_125 / self.count,
                'depth_within_10_percent': self.within_10_percent / self.count}


class MultiTaskMetrics:
    """Accumulates every metric of the tasks present; feed it network outputs and batches."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 class_names: tuple[str, ...] | None = None, max_depth_m: float = 100.0) -> None:
        self.max_depth_m = max_depth_m
        self.confusion = ConfusionMatrix(num_classes, ignore_index)
        self.class_names = class_names
        self.instance_error = MeanAccumulator()
        self.inverse_depth_error = MeanAccumulator()
        self.depth = DepthErrors()
        self.seen = set()

    @torch.no_grad()
    def update(self, outputs: Mapping[str, torch.Tensor],
               batch: Mapping[str, torch.Tensor]) -> None:
        if 'semantic_logits' in outputs:
            self.seen.add('semantic')
            self.confusion.update(outputs['semantic_logits'].argmax(1), batch['semantic'])
        if 'instance_offsets' in outputs:
            self.seen.add('instance')
            mask = batch['instance_mask'].to(outputs['instance_offsets'].device)
            error = torch.linalg.vector_norm(
                outputs['instance_offsets'].float()
                - batch['instance_offsets'].to(mask.device).float(), dim=1)
            self.instance_error.add(error[mask].sum().item(), int(mask.sum().item()))
        if 'inverse_depth' in outputs:
            self.seen.add('depth')
            prediction = outputs['inverse_depth'].float()[:, 0]
            target = batch['inverse_depth'].to(prediction.device).float()[:, 0]
            valid = batch['depth_valid'].to(prediction.device)
            self.inverse_depth_error.add(
                (prediction - target).abs()[valid].sum().item(), int(valid.sum().item()))
            if 'depth_m' in batch:
                depth_true = batch['depth_m'].to(prediction.device).float()[:, 0]
                scaled = valid & (target > 0)  # the true scale is known
                depth_pred = (depth_true * target / prediction.clamp_min(1e-6)).clamp_max(
                    self.max_depth_m)
                self.depth.update(torch.where(scaled, depth_pred, torch.nan), depth_true)

    def compute(self) -> dict[str, float | dict[str, float]]:
        """Return the metrics in the paper's units, keyed by name."""
        result: dict[str, float | dict[str, float]] = {}
        if 'semantic' in self.seen:
            result['semantic_miou'] = self.confusion.mean_iou()
            result['semantic_pixel_accuracy'] = self.confusion.pixel_accuracy()
            names = self.class_names or tuple(str(i) for i in range(self.confusion.num_classes))
            result['semantic_iou_per_class'] = {
                name: float(v) for name, v in zip(names, self.confusion.iou())}
        if 'instance' in self.seen:
            result['instance_mean_error_px'] = self.instance_error.mean
        if 'depth' in self.seen:
            result['inverse_depth_mean_error'] = self.inverse_depth_error.mean
            result.update(self.depth.compute())
        return result


def percentile(values: Iterable[float], q: float) -> float:
    """Return the q-th percentile, q in [0, 100], of the values; NaN when there are none."""
    array = np.fromiter(values, float)
    return float(np.percentile(array, q)) if array.size else float('nan')


def _to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)
