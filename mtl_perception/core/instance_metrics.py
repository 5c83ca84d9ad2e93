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
Panoptic quality of thing instances (Kirillov et al., CVPR 2019), accumulated over frames.

Definitions, following the reference implementation (cocodataset/panopticapi
``pq_compute_single_core``):

- a predicted and a ground-truth segment of the same class match when their IoU exceeds 0.5
  (this makes matches unique, so no assignment problem); void pixels (ground-truth label
  ``ignore``) are left out of the union: ``IoU = |P & G| / (|P| + |G| - |P & G| - |P & void|)``;
- a ground-truth segment without a match is a false negative; a predicted segment without a
  match is a false positive **unless** more than half of it lies on void pixels or on crowd
  pixels of its class (thing pixels without an instance index, ``gt_ids < 1000``);
- per class, ``SQ = sum IoU / TP``, ``RQ = TP / (TP + FP / 2 + FN / 2)`` and
  ``PQ = SQ * RQ``; the means are over thing classes with at least one TP, FP or FN.

Only thing classes are scored: this measures the instance clustering, not the semantic
segmentation of stuff. The class of a ground-truth segment is the majority of ``gt_semantic``
over its pixels, so ids built from Cityscapes label ids or from train ids both work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mtl_perception.core import IGNORE_INDEX
import numpy as np

MATCH_IOU = 0.5


class PanopticQualityAccumulator:
    """
    Sums TP, FP, FN and matched IoU per thing class over frames; :meth:`compute` at the end.

    ``num_classes``, when given, only checks that the thing ids are class ids of the model.
    """

    def __init__(self, thing_ids: Sequence[int], class_names: Sequence[str] | None = None,
                 ignore: int = IGNORE_INDEX, num_classes: int | None = None) -> None:
        self.thing_ids = tuple(sorted(int(i) for i in thing_ids))
        if num_classes is not None and any(not 0 <= i < num_classes for i in self.thing_ids):
            raise ValueError(f'thing ids {self.thing_ids} must be class ids below {num_classes}')
        self.class_names = tuple(class_names) if class_names is not None else None
        self.ignore = int(ignore)
        size = max(self.thing_ids, default=-1) + 1
        self.true_positives = np.zeros(size, dtype=np.int64)
        self.false_positives = np.zeros(size, dtype=np.int64)
        self.false_negatives = np.zeros(size, dtype=np.int64)
        self.iou_sum = np.zeros(size, dtype=np.float64)

    def update(self, pred_ids: np.ndarray, pred_classes: Mapping[int, int] | Sequence[int]
               | np.ndarray, gt_ids: np.ndarray, gt_semantic: np.ndarray) -> None:
        """Add one frame; see :func:`panoptic_quality` for the arguments."""
        counts = _frame_counts(pred_ids, pred_classes, gt_ids, gt_semantic, self.thing_ids,
                               self.ignore)
        for name, total in zip(('true_positives', 'false_positives', 'false_negatives',
                                'iou_sum'), counts):
            getattr(self, name)[:] += total

    def compute(self) -> dict:
        """
        Return ``pq``, ``sq``, ``rq`` (means over scored classes), totals and ``per_class``.

        ``per_class`` maps each thing class id to ``pq``, ``sq``, ``rq``, ``tp``, ``fp``,
        ``fn`` and (when class names were given) ``name``; classes that never occurred have
        NaN qualities and are left out of the means.
        """
        per_class = {}
        scored_pq, scored_sq, scored_rq = [], [], []
        for class_id in self.thing_ids:
            tp = int(self.true_positives[class_id])
            fp = int(self.false_positives[class_id])
            fn = int(self.false_negatives[class_id])
            if tp + fp + fn == 0:
                pq = sq = rq = float('nan')
            else:
                sq = float(self.iou_sum[class_id] / tp) if tp else 0.0
                rq = tp / (tp + 0.5 * fp + 0.5 * fn)
                pq = sq * rq
                scored_pq.append(pq)
                scored_sq.append(sq)
                scored_rq.append(rq)
            entry = {'pq': pq, 'sq': sq, 'rq': rq, 'tp': tp, 'fp': fp, 'fn': fn}
            if self.class_names is not None and class_id < len(self.class_names):
                entry['name'] = self.class_names[class_id]
            per_class[class_id] = entry
        nan = float('nan')
        return {
            'pq': float(np.mean(scored_pq)) if scored_pq else nan,
            'sq': float(np.mean(scored_sq)) if scored_sq else nan,
            'rq': float(np.mean(scored_rq)) if scored_rq else nan,
            'tp': int(self.true_positives.sum()),
            'fp': int(self.false_positives.sum()),
            'fn': int(self.false_negatives.sum()),
            'num_classes': len(scored_pq),
            'per_class': per_class,
        }


"""Short name of :class:`PanopticQualityAccumulator`."""


def panoptic_quality(pred_ids: np.ndarray, pred_classes: Mapping[int, int] | Sequence[int]
                     | np.ndarray, gt_ids: np.ndarray, gt_semantic: np.ndarray,
                     thing_ids: Sequence[int], ignore: int = IGNORE_INDEX) -> dict:
    """
    Return the thing-class panoptic quality of one frame (keys as in ``compute``).

    ``pred_ids`` (H, W): 0 = no instance, k > 0 = predicted instance k (e.g.
    ``InstanceResult.instance_ids``). ``pred_classes`` gives each instance's class: a mapping
    ``{k: class}`` or an array whose entry ``k - 1`` is the class of instance k (e.g.
    ``InstanceResult.class_ids``). ``gt_ids`` (H, W) uses the Cityscapes encoding
    (``class * 1000 + index`` for thing instances, the class id elsewhere), ``gt_semantic``
    (H, W) the class of every pixel with ``ignore`` for void.
    """
    accumulator = PanopticQualityAccumulator(thing_ids, ignore=ignore)
    accumulator.update(pred_ids, pred_classes, gt_ids, gt_semantic)
    return accumulator.compute()


def _class_lookup(pred_classes: Mapping[int, int] | Sequence[int] | np.ndarray,
                  max_id: int) -> np.ndarray:
    """Return a table ``class_of[k]`` for predicted ids 0..max_id (-1 = unknown)."""
    table = np.full(max_id + 1, -1, dtype=np.int64)
    if isinstance(pred_classes, Mapping):
        for instance, class_id in pred_classes.items():
            if 0 < int(instance) <= max_id:
                table[int(instance)] = int(class_id)
        return table
    classes = np.asarray(pred_classes, dtype=np.int64).reshape(-1)
    if classes.size < max_id:
        raise ValueError(f'pred_ids go up to {max_id} but pred_classes has only '
                         f'{classes.size} entries (entry k - 1 is the class of instance k)')
    table[1:] = classes[:max_id]
    return table


def _frame_counts(pred_ids: np.ndarray, pred_classes: Mapping[int, int] | Sequence[int]
                  | np.ndarray, gt_ids: np.ndarray, gt_semantic: np.ndarray,
                  thing_ids: Sequence[int], ignore: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return per-class TP, FP, FN and IoU sums (indexed by class id) of one frame."""
    pred_ids = np.asarray(pred_ids).astype(np.int64, copy=False)
    gt_ids = np.asarray(gt_ids).astype(np.int64, copy=False)
    gt_semantic = np.asarray(gt_semantic).astype(np.int64, copy=False)
    if not pred_ids.shape == gt_ids.shape == gt_semantic.shape:
        raise ValueError(f'pred_ids {pred_ids.shape}, gt_ids {gt_ids.shape} and gt_semantic '
                         f'{gt_semantic.shape} must have one shape')
    size = max(thing_ids, default=-1) + 1
    tp, fp, fn = (np.zeros(size, dtype=np.int64) for _ in range(3))
    iou_sum = np.zeros(size, dtype=np.float64)
    is_thing = np.zeros(max(size, 256), dtype=bool)
    is_thing[list(thing_ids)] = True
    semantic_index = np.where((gt_semantic >= 0) & (gt_semantic < is_thing.size),
                              gt_semantic, 0)
    thing_pixel = is_thing[semantic_index] & (gt_semantic != ignore)
    void = gt_semantic == ignore

    # Predicted segments: ids 1..max with a thing class.
    pred = np.where(pred_ids > 0, pred_ids, 0).reshape(-1)
    max_pred = int(pred.max(initial=0))
    pred_class = _class_lookup(pred_classes, max_pred)
    pred_is_thing = ((pred_class >= 0) & (pred_class < is_thing.size)
                     & is_thing[np.clip(pred_class, 0, is_thing.size - 1)])
    pred_is_thing[0] = False
    pred = np.where(pred_is_thing[pred], pred, 0)

    # Ground-truth segments: compact index 1..G for thing instances, 0 elsewhere.
    instance_pixel = ((gt_ids >= 1000) & thing_pixel).reshape(-1)
    gt_values, gt_inverse = np.unique(np.where(instance_pixel, gt_ids.reshape(-1), -1),
                                      return_inverse=True)
    has_background = gt_values[0] == -1
    gt = gt_inverse.reshape(-1) + (0 if has_background else 1)  # 0 = not a gt instance
    num_gt = gt_values.size - (1 if has_background else 0)
    semantic_flat = gt_semantic.reshape(-1)
    gt_class = np.full(num_gt + 1, -1, dtype=np.int64)
    if num_gt:
        # Majority class of each segment: sort (segment, class) pairs and take the most common.
        members = gt > 0
        pair = gt[members] * 256 + np.clip(semantic_flat[members], 0, 255)
        pairs, pair_counts = np.unique(pair, return_counts=True)
        segment = pairs // 256
        order = np.lexsort((-pair_counts, segment))
        first = order[np.r_[True, segment[order][1:] != segment[order][:-1]]]
        gt_class[segment[first]] = pairs[first] % 256
    gt_area = np.bincount(gt, minlength=num_gt + 1)
    pred_area = np.bincount(pred, minlength=max_pred + 1)

    # Overlaps of every (gt, pred) pair, and of predictions with void and crowd pixels.
    key = gt * (max_pred + 1) + pred
    keys, overlap = np.unique(key[(gt > 0) & (pred > 0)], return_counts=True)
    pair_gt, pair_pred = keys // (max_pred + 1), keys % (max_pred + 1)
    pred_void = np.bincount(pred[void.reshape(-1)], minlength=max_pred + 1)
    crowd_pixel = (thing_pixel & (gt_ids < 1000)).reshape(-1)
    pred_crowd = np.bincount(pred[crowd_pixel & (semantic_flat == pred_class[pred])],
                             minlength=max_pred + 1)

    same_class = gt_class[pair_gt] == pred_class[pair_pred]
    union = (gt_area[pair_gt] + pred_area[pair_pred] - overlap - pred_void[pair_pred])
    iou = np.where(union > 0, overlap / np.maximum(union, 1), 0.0)
    match = same_class & (iou > MATCH_IOU)
    gt_matched = np.zeros(num_gt + 1, dtype=bool)
    pred_matched = np.zeros(max_pred + 1, dtype=bool)
    gt_matched[pair_gt[match]] = True
    pred_matched[pair_pred[match]] = True
    np.add.at(tp, gt_class[pair_gt[match]], 1)
    np.add.at(iou_sum, gt_class[pair_gt[match]], iou[match])

    unmatched_gt = np.flatnonzero(~gt_matched[1:]) + 1
    unmatched_gt = unmatched_gt[(gt_class[unmatched_gt] >= 0) & (gt_class[unmatched_gt] < size)]
    np.add.at(fn, gt_class[unmatched_gt], 1)
    candidates = np.flatnonzero(pred_is_thing & ~pred_matched & (pred_area > 0))
    ignored = (pred_void[candidates] + pred_crowd[candidates]) > 0.5 * pred_area[candidates]
    false_positive = candidates[~ignored]
    np.add.at(fp, pred_class[false_positive], 1)
    return tp, fp, fn, iou_sum
