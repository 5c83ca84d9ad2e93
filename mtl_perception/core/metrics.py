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
- depth: mean absolute inverse-depth error (1/m, canonical camera) over valid pixels, and, where
  metric depth is known, abs-rel and RMSE in metres. Predicted metric depth follows from the
  ratio of canonical inverse depths, ``depth_pred = depth_true * inv_true / inv_pred``, which
  needs no intrinsics because both share the same camera scaling. Predicted depth is capped at
  ``max_depth_m`` (default 100 m, the renderer's far plane), as KITTI-style evaluations cap at
  80 m: one near-zero inverse depth would otherwise dominate RMSE with an absurd distance.
"""

from __future__ import annotations

from collections.abc import Mapping

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


class MultiTaskMetrics:
    """Accumulates every metric of the tasks present; feed it network outputs and batches."""

    def __init__(self, num_classes: int, ignore_index: int = IGNORE_INDEX,
                 class_names: tuple[str, ...] | None = None, max_depth_m: float = 100.0) -> None:
        self.max_depth_m = max_depth_m
        self.confusion = ConfusionMatrix(num_classes, ignore_index)
        self.class_names = class_names
        self.instance_error = MeanAccumulator()
        self.inverse_depth_error = MeanAccumulator()
        self.abs_rel = MeanAccumulator()
        self.squared_error = MeanAccumulator()
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
                metric = valid & torch.isfinite(depth_true) & (depth_true > 0) & (target > 0)
                depth_pred = (depth_true * target / prediction.clamp_min(1e-6)).clamp_max(
                    self.max_depth_m)
                difference = (depth_pred - depth_true)[metric]
                self.abs_rel.add((difference.abs() / depth_true[metric]).sum().item(),
                                 int(metric.sum().item()))
                self.squared_error.add((difference ** 2).sum().item(), int(metric.sum().item()))

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
            if self.abs_rel.count:
                result['depth_abs_rel'] = self.abs_rel.mean
                result['depth_rmse_m'] = float(np.sqrt(self.squared_error.mean))
        return result


def _to_numpy(array: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        return array.detach().cpu().numpy()
    return np.asarray(array)
