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
Instances from centre votes: every thing pixel moved by its offset, then grouped.

The network predicts, for each pixel of a thing class, the vector to its instance centre
(``centre = pixel + offset``, channel 0 = x, see docs/conventions.md). Pixels of one instance
therefore vote for (nearly) one point, even when an occluder splits the instance in two, and
grouping the votes groups the pixels.

Why a vote grid and not OPTICS
------------------------------
The paper clusters the votes with OPTICS. OPTICS orders all points by reachability with a
neighbourhood query per point; scikit-learn's implementation costs about 0.5 ms per point on
this project's 2-core CPU, so the 30k-60k thing pixels of a 640x480 frame take tens of
seconds. A robot needs tens of milliseconds. The votes are not an arbitrary point set, though:
they are dense, 2-D, bounded by the image and concentrated in a few sharp modes. So the
default method, ``'grid'``, does what centre-voting detectors do (Hough voting, Panoptic
DeepLab's centre heatmap):

1. histogram the votes of each thing class into a coarse grid (``cell_px``, default 4 px),
   keeping per cell the sum of the vote coordinates too, so a peak's position is not limited
   to the cell size;
2. smooth each histogram with a 3x3 box, so votes split across a cell border count together;
3. keep local maxima (max-pool NMS, ``nms_radius_px``) holding enough votes (``peak_threshold``),
   then suppress weaker maxima of the same class closer than ``nms_radius_px`` (plateaus);
4. give each thing pixel to the nearest peak **of its own class** whose distance to its vote is
   at most ``max_distance_px``, and drop instances smaller than ``min_pixels``.

Every step is a scatter-add, a pooling or a distance to a few peaks: linear in the number of
pixels, with no (pixels x pixels) and no (pixels x peaks) work: suppression is a few rounds of
a (peaks x peaks) product, and assignment compares each vote with the three peaks nearest to
its grid cell, found once per occupied cell (exact, see ``_assign_nearest``). Votes of
different classes never merge, because each class has its own histogram and pixels only join
peaks of their own class. The code is torch, so with tensors on a GPU it runs there
unchanged. The pipeline clusters at the network's resolution (all thresholds in network
pixels) and upsamples the id image, so the instances do not depend on the camera's or the
published image's size (``docs/benchmarks.md`` has the timings).

What it gives up: two instances of one class whose centres are closer than ``nms_radius_px``
become one. OPTICS would separate them only if their vote clouds were tighter than their
distance, which with real (noisy) offsets is the same limit.

The scikit-learn methods (same result type, clustering each class separately) remain for
reference and comparison: ``'optics'`` is the paper's choice (no radius to choose, but slow);
``'dbscan'`` is OPTICS with one fixed radius ``eps_px``, fast with a tree index but sensitive
to that radius when vote noise differs between near and far objects; ``'hdbscan'`` picks
density levels per cluster like OPTICS and is much faster, but it refuses a class with a
single instance unless ``allow_single_cluster`` is set, and then keeps only that cluster's
densest core unless ``cluster_selection_epsilon`` (default 5 px: centres closer than that are
one instance) says how far the cluster reaches. The defaults (OPTICS ``min_samples=20``,
``xi=0.1`` and ``min_cluster_size=min_pixels``, DBSCAN ``eps_px=3``, HDBSCAN
``cluster_selection_epsilon=5``) were chosen on the synthetic
frames of ``mtl_perception.tools.benchmark_instances`` with 1.5 px vote noise. All three
accept ``max_points`` to cluster a random subsample and give the other pixels to the
nearest cluster centre, which keeps tests fast.

Confidence
----------
``confidence`` of an instance is the fraction of its pixels whose vote lands within
``inlier_radius_px`` of its centre: 1 for an instance whose pixels all agree on one centre,
low for a group collected from scattered votes (often a misclassified region).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import inspect
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

METHODS = ('grid', 'optics', 'dbscan', 'hdbscan')

# Parameters every method accepts, with their defaults (pixels of the offset image).
COMMON_DEFAULTS: dict[str, Any] = {
    'min_pixels': 64,  # smaller groups are dropped (noise, slivers at image borders)
    'max_distance_px': 64.0,  # farther votes join no instance
    'inlier_radius_px': 8.0,  # radius for the confidence and the centroid
}


@dataclass
class InstanceResult:
    """
    Instances of one frame; instance ``k`` (1-based) is described by row ``k - 1``.

    ``instance_ids`` is (H, W) int32, 0 where there is no instance. ``class_ids`` (N,) int32 is
    the majority semantic class of the instance's pixels (every method groups pixels of one
    class only, so it is that class). ``pixel_counts`` (N,) int64, ``centroids_px`` (N, 2)
    float32 x, y of the centre the votes agree on (in the offset image's pixels, pixel centres
    at integer coordinates), ``confidence`` (N,) float32 in [0, 1], see the module docstring.
    """

    instance_ids: np.ndarray
    class_ids: np.ndarray
    pixel_counts: np.ndarray
    centroids_px: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.class_ids.shape[0])

    @property
    def num_instances(self) -> int:
        return len(self)

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> InstanceResult:
        """Return the result for a frame without instances."""
        return cls(instance_ids=np.zeros(shape, dtype=np.int32),
                   class_ids=np.zeros(0, dtype=np.int32),
                   pixel_counts=np.zeros(0, dtype=np.int64),
                   centroids_px=np.zeros((0, 2), dtype=np.float32),
                   confidence=np.zeros(0, dtype=np.float32))

    def panoptic_ids(self) -> np.ndarray:
        """
        Return (H, W) int32 ids in the Cityscapes encoding, ``class * 1000 + index``.

        ``index`` counts from 0 within each class, as in ground-truth instance images; pixels
        without an instance are 0.
        """
        if len(self) == 0:
            return np.zeros_like(self.instance_ids)
        order = np.argsort(self.class_ids, kind='stable')
        index = np.empty(len(self), dtype=np.int64)
        sorted_classes = self.class_ids[order]
        first = np.searchsorted(sorted_classes, sorted_classes, side='left')
        index[order] = np.arange(len(self)) - first
        table = np.zeros(len(self) + 1, dtype=np.int32)
        table[1:] = self.class_ids.astype(np.int64) * 1000 + index
        return table[self.instance_ids]


@dataclass
class InstanceTensors:
    """:class:`InstanceResult` as torch tensors on the device the clustering ran on."""

    instance_ids: torch.Tensor  # (H, W) int32
    class_ids: torch.Tensor  # (N,) int32
    pixel_counts: torch.Tensor  # (N,) int64
    centroids_px: torch.Tensor  # (N, 2) float32
    confidence: torch.Tensor  # (N,) float32

    def summary(self) -> dict[str, torch.Tensor]:
        """Return the per-instance tensors (everything but the id image), keyed by field."""
        return {'class_ids': self.class_ids, 'pixel_counts': self.pixel_counts,
                'centroids_px': self.centroids_px, 'confidence': self.confidence}

    @classmethod
    def from_result(cls, result: InstanceResult, device: torch.device) -> InstanceTensors:
        """Return a host :class:`InstanceResult` as tensors on ``device``."""
        return cls(instance_ids=torch.from_numpy(np.ascontiguousarray(result.instance_ids,
                                                                      dtype=np.int32)).to(device),
                   class_ids=torch.from_numpy(result.class_ids.astype(np.int32)).to(device),
                   pixel_counts=torch.from_numpy(result.pixel_counts.astype(np.int64)).to(device),
                   centroids_px=torch.from_numpy(
                       result.centroids_px.astype(np.float32)).to(device),
                   confidence=torch.from_numpy(result.confidence.astype(np.float32)).to(device))

    def numpy(self) -> InstanceResult:
        return InstanceResult(
            instance_ids=self.instance_ids.cpu().numpy(),
            class_ids=self.class_ids.cpu().numpy(),
            pixel_counts=self.pixel_counts.cpu().numpy(),
            centroids_px=self.centroids_px.cpu().numpy(),
            confidence=self.confidence.cpu().numpy())


# ------------------------------------------------------------------------------------------
# Public entry point
# ------------------------------------------------------------------------------------------


def cluster_instances(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor,
                      thing_classes: np.ndarray | Sequence[int], method: str = 'grid',
                      **params: Any) -> InstanceResult:
    """
    Group the thing pixels of one frame into instances by their centre votes.

    ``semantic`` (H, W) holds class ids (uint8 or any integer type; values outside 0..255 are
    not things), ``offsets`` (2, H, W) the x, y offset to the instance centre in pixels;
    non-finite offsets cast no vote. ``thing_classes`` is a boolean table indexed by class id
    (``ClassSet.is_thing()``) or a sequence of thing class ids. ``method`` is one of
    :data:`METHODS`; ``params`` are the keyword parameters of :func:`cluster_grid` or
    :func:`cluster_sklearn`. Parameters that only another method knows are ignored, so one
    settings dict serves every method (a node can switch methods at run time); names no
    method knows raise ``TypeError``. A frame without thing pixels gives an empty result, not
    an error.
    """
    accepted = accepted_parameters(method, params)
    if method == 'grid':
        return cluster_grid(semantic, offsets, thing_classes, **accepted)
    return cluster_sklearn(semantic, offsets, thing_classes, method=method, **accepted)


def accepted_parameters(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """
    Return the entries of ``params`` that ``method`` accepts.

    Names only another method knows are dropped (one settings dict serves every method);
    names no method knows raise ``TypeError``, an unknown method ``ValueError``.
    """
    if method not in METHODS:
        raise ValueError(f'unknown instance method {method!r}; choose one of {METHODS}')
    known = set().union(*(_keyword_names(other) for other in METHODS))
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f'unknown instance parameters {unknown}; {method!r} accepts '
                        f'{sorted(_keyword_names(method))}')
    return {name: value for name, value in params.items() if name in _keyword_names(method)}


def _keyword_names(method: str) -> set[str]:
    """Return the parameter names ``method`` accepts through :func:`cluster_instances`."""
    if method == 'grid':
        return {name for name, parameter in inspect.signature(cluster_grid).parameters.items()
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY}
    return set(COMMON_DEFAULTS) | {'max_points', 'seed'} | set(_SKLEARN_DEFAULTS[method])


def thing_table(thing_classes: np.ndarray | torch.Tensor | Sequence[int]) -> np.ndarray:
    """Return a bool[256] table, True at thing class ids, from a table or a list of ids."""
    if isinstance(thing_classes, torch.Tensor):
        thing_classes = thing_classes.cpu().numpy()
    array = np.asarray(thing_classes)
    if array.dtype == bool:
        if array.ndim != 1 or array.size > 256:
            raise ValueError(f'a thing table must be 1-D with at most 256 entries, got shape '
                             f'{array.shape}')
        table = np.zeros(256, dtype=bool)
        table[: array.size] = array
        return table
    ids = array.reshape(-1).astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError(f'thing class ids must be in 0..255, got {ids.tolist()}')
    table = np.zeros(256, dtype=bool)
    table[ids] = True
    return table


# ------------------------------------------------------------------------------------------
# Shared steps (torch, any device)
# ------------------------------------------------------------------------------------------


@dataclass
class _Votes:
    """The thing pixels that vote, flattened: P entries each."""

    height: int
    width: int
    flat_index: torch.Tensor  # (P,) int64 index into the H * W image
    vote_x: torch.Tensor  # (P,) float32
    vote_y: torch.Tensor  # (P,) float32
    class_id: torch.Tensor  # (P,) int64 semantic class of the pixel
    slot: torch.Tensor  # (P,) int64 index of the class in present_classes
    present_classes: torch.Tensor  # (T,) int64 thing classes that occur, ascending


def _check_inputs(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor
                  ) -> tuple[int, int]:
    if semantic.ndim != 2:
        raise ValueError(f'semantic must be (H, W), got shape {tuple(semantic.shape)}')
    height, width = int(semantic.shape[0]), int(semantic.shape[1])
    if tuple(offsets.shape) != (2, height, width):
        raise ValueError(f'offsets must be (2, H, W) = (2, {height}, {width}), got shape '
                         f'{tuple(offsets.shape)}')
    return height, width


def _as_tensor(array: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.to(device)
    array = np.ascontiguousarray(array)
    if not array.flags.writeable or not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder('='))  # a copy torch can own
    return torch.from_numpy(array).to(device)


def _collect_votes(semantic: torch.Tensor, offsets: torch.Tensor, table: torch.Tensor
                   ) -> _Votes | None:
    """Return the votes of thing pixels with finite offsets, or None when there are none."""
    height, width = semantic.shape
    labels = semantic.reshape(-1).to(torch.int64)
    if semantic.dtype == torch.uint8:
        is_thing = table[labels]
    else:  # ids outside 0..255 are no thing
        is_thing = table[labels.clamp(0, 255)] & (labels >= 0) & (labels <= 255)
    flat_index = torch.nonzero(is_thing).squeeze(1)  # (P,) thing pixels
    offset_x = offsets[0].reshape(-1)[flat_index].float()
    offset_y = offsets[1].reshape(-1)[flat_index].float()
    finite = torch.isfinite(offset_x) & torch.isfinite(offset_y)
    if not bool(finite.all()):
        flat_index, offset_x, offset_y = flat_index[finite], offset_x[finite], offset_y[finite]
    if flat_index.numel() == 0:
        return None
    class_id = labels[flat_index]
    vote_x = (flat_index % width).float() + offset_x
    vote_y = torch.div(flat_index, width, rounding_mode='floor').float() + offset_y
    present = torch.bincount(class_id, minlength=256) > 0
    present_classes = torch.nonzero(present).squeeze(1)
    slot_table = torch.zeros(256, dtype=torch.int64, device=semantic.device)
    slot_table[present_classes] = torch.arange(present_classes.numel(), device=semantic.device)
    return _Votes(height=int(height), width=int(width), flat_index=flat_index, vote_x=vote_x,
                  vote_y=vote_y, class_id=class_id, slot=slot_table[class_id],
                  present_classes=present_classes)


_DIRECT_CENTRES = 16  # up to this many centres per class, each vote is compared with all


def _assign_nearest(votes: _Votes, centres: torch.Tensor, centre_slot: torch.Tensor,
                    max_distance_px: float, cell_px: float = 4.0, candidates: int = 3
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Give each vote the nearest centre of its own class within ``max_distance_px``, exactly.

    Returns (P,) int64 centre indices (-1 = none) and (P,) squared distances to the nearest
    centre of the class (inf when the class has none). No (votes x centres) matrix: votes are
    bucketed into ``cell_px`` cells, the ``candidates`` centres of the cell's class nearest to
    each *occupied* cell's centre are found once per cell (votes pile up on a few cells
    around the instance centres), and each vote is compared with those few (with at most
    ``_DIRECT_CENTRES`` centres per class, simply with those: no cells needed). The triangle
    inequality says when that answer is certain: any other centre is at least
    ``d(cell, next centre) - d(vote, cell)`` from the vote. The rare votes where that bound
    is not conclusive (far from every centre, or outside the image) are compared with every
    centre of their class.
    """
    count = votes.flat_index.numel()
    device = votes.vote_x.device
    assignment = torch.full((count,), -1, dtype=torch.int64, device=device)
    if centres.shape[0] == 0 or count == 0:
        return assignment, torch.full((count,), math.inf, dtype=torch.float32, device=device)
    classes = int(votes.present_classes.numel())
    points = torch.stack([votes.vote_x, votes.vote_y], 1)  # (P, 2)
    per_class = torch.bincount(centre_slot, minlength=classes)  # (T,)
    k_max = int(per_class.max())
    order = torch.argsort(centre_slot, stable=True)
    first = torch.cumsum(per_class, 0) - per_class
    rank = torch.arange(order.numel(), device=device) - first[centre_slot[order]]
    table = torch.full((classes, k_max), -1, dtype=torch.int64, device=device)
    table[centre_slot[order], rank] = order  # (T, Kmax) centre indices of each class
    padded = torch.where(table[..., None] >= 0, centres[table.clamp(min=0)],
                         torch.full((1, 1, 2), math.inf, device=device))  # (T, Kmax, 2)
    if k_max <= _DIRECT_CENTRES:
        # Few centres per class (the usual frame): each vote against its class's few.
        gap = points[:, None, :] - padded[votes.slot]  # (P, Kmax <= 8, 2)
        best2, best = torch.nan_to_num((gap * gap).sum(-1), nan=math.inf).min(dim=1)
        chosen = table[votes.slot, best]
        within = best2 <= float(max_distance_px) ** 2
        return torch.where(within, chosen, assignment), best2.to(torch.float32)
    grid_w = max(int(math.ceil(votes.width / cell_px)), 1)
    grid_h = max(int(math.ceil(votes.height / cell_px)), 1)
    # Votes outside the image use the nearest border cell; the bound below covers them.
    cell_x = torch.floor((votes.vote_x + 0.5) / cell_px).clamp(0, grid_w - 1).to(torch.int64)
    cell_y = torch.floor((votes.vote_y + 0.5) / cell_px).clamp(0, grid_h - 1).to(torch.int64)
    key = (votes.slot * grid_h + cell_y) * grid_w + cell_x
    occupied = torch.zeros(classes * grid_h * grid_w, dtype=torch.bool, device=device)
    occupied[key] = True
    cells = torch.nonzero(occupied).squeeze(1)  # (M,) occupied cells, no sort of P votes
    lookup = torch.full_like(occupied, -1, dtype=torch.int64)
    lookup[cells] = torch.arange(cells.numel(), device=device)
    vote_cell = lookup[key]  # (P,)
    cell_slot = torch.div(cells, grid_h * grid_w, rounding_mode='floor')
    cell_centre = torch.stack([(cells % grid_w).float(),
                               torch.div(cells, grid_w, rounding_mode='floor').remainder(
                                   grid_h).float()], 1) * cell_px + (cell_px - 1) / 2.0
    # The nearest few centres of each occupied cell, plus the next one as a bound.
    delta = cell_centre[:, None, :] - padded[cell_slot]  # (M, Kmax, 2)
    cell_distance = torch.nan_to_num((delta * delta).sum(-1), nan=math.inf, posinf=math.inf)
    take = min(int(candidates), k_max)
    near2, nearest = torch.topk(cell_distance, min(take + 1, k_max), dim=1, largest=False)
    bound = (near2[:, take].sqrt() if k_max > take
             else torch.full_like(near2[:, 0], math.inf))  # (M,)
    options = table[cell_slot[:, None], nearest[:, :take]][vote_cell]  # (P, take)
    gap = points[:, None, :] - centres[options.clamp(min=0)]
    option_distance = torch.where(options >= 0, (gap * gap).sum(-1),
                                  torch.full_like(gap[..., 0], math.inf))
    best2, best = option_distance.min(dim=1)
    chosen = options.gather(1, best[:, None]).squeeze(1)
    to_cell = (points - cell_centre[vote_cell]).norm(dim=1)
    reach = torch.minimum(best2.sqrt(), torch.full_like(best2, float(max_distance_px)))
    unsure = torch.nonzero(bound[vote_cell] - to_cell < reach).squeeze(1)
    if unsure.numel():
        gap = points[unsure, None, :] - padded[votes.slot[unsure]]  # (U, Kmax, 2)
        exact2, exact = torch.nan_to_num((gap * gap).sum(-1), nan=math.inf).min(dim=1)
        best2[unsure] = exact2
        chosen[unsure] = table[votes.slot[unsure], exact]
    within = best2 <= float(max_distance_px) ** 2
    assignment = torch.where(within, chosen, assignment)
    return assignment, best2.to(torch.float32)


def _finalise(votes: _Votes, assignment: torch.Tensor, distance2: torch.Tensor,
              centres: torch.Tensor, centre_class: torch.Tensor, min_pixels: int,
              inlier_radius_px: float) -> InstanceTensors:
    """Drop small groups, number the rest 1..N and measure them."""
    device = assignment.device
    count = centres.shape[0]
    assigned = assignment >= 0
    group = assignment[assigned]
    sizes = torch.bincount(group, minlength=count)[:count]
    keep = sizes >= max(int(min_pixels), 1)
    new_id = torch.cumsum(keep.to(torch.int64), 0) * keep  # (K,) 0 = dropped
    table = torch.cat([torch.zeros(1, dtype=torch.int64, device=device), new_id])
    pixel_id = table[assignment + 1]  # (P,) 0 = none
    instance_ids = torch.zeros(votes.height * votes.width, dtype=torch.int32, device=device)
    instance_ids[votes.flat_index] = pixel_id.to(torch.int32)
    instance_ids = instance_ids.reshape(votes.height, votes.width)

    kept = torch.nonzero(keep).squeeze(1)
    inlier = assigned & (distance2 <= float(inlier_radius_px) ** 2)
    inlier_group = assignment[inlier]
    inliers = torch.bincount(inlier_group, minlength=count)[:count].to(torch.float64)
    sum_x = torch.bincount(inlier_group, weights=votes.vote_x[inlier].double(), minlength=count)
    sum_y = torch.bincount(inlier_group, weights=votes.vote_y[inlier].double(), minlength=count)
    mean = torch.stack([sum_x[:count], sum_y[:count]], 1) / inliers.clamp(min=1)[:, None]
    centroid = torch.where(inliers[:, None] > 0, mean, centres.double())
    confidence = inliers / sizes.clamp(min=1).to(torch.float64)
    return InstanceTensors(instance_ids=instance_ids,
                           class_ids=centre_class[kept].to(torch.int32),
                           pixel_counts=sizes[kept].to(torch.int64),
                           centroids_px=centroid[kept].to(torch.float32),
                           confidence=confidence[kept].to(torch.float32))


def _empty_tensors(height: int, width: int, device: torch.device) -> InstanceTensors:
    return InstanceTensors(
        instance_ids=torch.zeros((height, width), dtype=torch.int32, device=device),
        class_ids=torch.zeros(0, dtype=torch.int32, device=device),
        pixel_counts=torch.zeros(0, dtype=torch.int64, device=device),
        centroids_px=torch.zeros((0, 2), dtype=torch.float32, device=device),
        confidence=torch.zeros(0, dtype=torch.float32, device=device))


# ------------------------------------------------------------------------------------------
# 'grid': vote histogram, peaks, nearest-peak assignment
# ------------------------------------------------------------------------------------------


def cluster_grid(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor,
                 thing_classes: np.ndarray | Sequence[int], *, cell_px: int = 4,
                 nms_radius_px: float = 12.0, peak_threshold: float = 0.5,
                 min_votes: float | None = None,
                 min_pixels: int = COMMON_DEFAULTS['min_pixels'],
                 max_distance_px: float = COMMON_DEFAULTS['max_distance_px'],
                 inlier_radius_px: float = COMMON_DEFAULTS['inlier_radius_px'],
                 max_instances: int = 255, device: str | torch.device | None = None
                 ) -> InstanceResult:
    """
    Cluster votes with a per-class vote grid (numpy or torch in, numpy out).

    Tensors stay on their device unless ``device`` is given; NumPy input runs on ``device``
    (default CPU). See :func:`cluster_grid_torch` for the parameters.
    """
    height, width = _check_inputs(semantic, offsets)
    if device is None:
        device = semantic.device if isinstance(semantic, torch.Tensor) else 'cpu'
    device = torch.device(device)
    result = cluster_grid_torch(
        _as_tensor(semantic, device), _as_tensor(offsets, device),
        torch.from_numpy(thing_table(thing_classes)).to(device), cell_px=cell_px,
        nms_radius_px=nms_radius_px, peak_threshold=peak_threshold, min_votes=min_votes,
        min_pixels=min_pixels,
        max_distance_px=max_distance_px, inlier_radius_px=inlier_radius_px,
        max_instances=max_instances)
    return result.numpy()


@torch.no_grad()
def cluster_grid_torch(semantic: torch.Tensor, offsets: torch.Tensor, table: torch.Tensor, *,
                       cell_px: int = 4, nms_radius_px: float = 12.0,
                       peak_threshold: float = 0.5, min_votes: float | None = None,
                       min_pixels: int = COMMON_DEFAULTS['min_pixels'],
                       max_distance_px: float = COMMON_DEFAULTS['max_distance_px'],
                       inlier_radius_px: float = COMMON_DEFAULTS['inlier_radius_px'],
                       max_instances: int = 255) -> InstanceTensors:
    """
    Cluster votes with a per-class vote grid, on the tensors' device.

    ``semantic`` (H, W) integer, ``offsets`` (2, H, W) float, ``table`` bool (256,) thing
    lookup. Parameters, all in pixels of the offset image:

    - ``cell_px`` (4): grid cell size. Smaller cells separate close centres better but spread
      noisy votes over more cells; 4 px suits 1-3 px of vote noise.
    - ``nms_radius_px`` (12): two peaks of one class closer than this are one instance.
    - ``peak_threshold`` (0.5): a peak needs this fraction of the votes the smallest kept
      instance would put on its centre, i.e. ``peak_threshold * min_pixels`` votes in its
      3x3-cell neighbourhood. It suppresses peaks made of a few stray votes, which would
      otherwise take pixels from real instances before being dropped as too small.
    - ``min_votes`` (None): the same threshold as an absolute vote count, overriding
      ``peak_threshold``.
    - ``min_pixels`` (64), ``max_distance_px`` (64), ``inlier_radius_px`` (8): see the module
      docstring; ``max_instances`` (255) keeps the strongest peaks only.
    """
    if cell_px < 1:
        raise ValueError(f'cell_px must be at least 1, got {cell_px}')
    height, width = _check_inputs(semantic, offsets)
    device = semantic.device
    votes = _collect_votes(semantic, offsets, table.to(device))
    if votes is None:
        return _empty_tensors(height, width, device)
    if min_votes is None:
        min_votes = float(peak_threshold) * min_pixels

    classes = votes.present_classes.numel()
    grid_w, grid_h = -(-width // cell_px), -(-height // cell_px)
    # Pixel u covers [u - 0.5, u + 0.5), so cell j holds votes in [j c - 0.5, (j + 1) c - 0.5).
    cell_x = torch.floor((votes.vote_x + 0.5) / cell_px).to(torch.int64)
    cell_y = torch.floor((votes.vote_y + 0.5) / cell_px).to(torch.int64)
    inside = (cell_x >= 0) & (cell_x < grid_w) & (cell_y >= 0) & (cell_y < grid_h)
    cell = ((votes.slot * grid_h + cell_y) * grid_w + cell_x)[inside]
    cells = classes * grid_h * grid_w
    histogram = torch.stack([
        torch.bincount(cell, minlength=cells),
        torch.bincount(cell, weights=votes.vote_x[inside], minlength=cells),
        torch.bincount(cell, weights=votes.vote_y[inside], minlength=cells),
    ]).float().reshape(3, classes, grid_h, grid_w)  # counts, sum of x, sum of y per cell
    # Votes in each cell's 3x3 neighbourhood; separable pooling is several times faster.
    heat = _box_sum(histogram[0].unsqueeze(1), 1)  # (T, 1, Gh, Gw)
    radius_cells = max(int(round(nms_radius_px / cell_px)), 1)
    # Vote counts are integers; the tolerance absorbs the pooling's float rounding.
    enough = heat >= max(float(min_votes) - 1e-3, 1e-6)
    candidate = (heat >= _max_filter(heat, radius_cells)) & enough
    slot, _, row, column = torch.nonzero(candidate, as_tuple=True)
    if slot.numel() == 0:
        return _empty_tensors(height, width, device)
    strength = heat[slot, 0, row, column]
    # Peak position: mean of the votes in the 3x3 cells around the candidate, not the cell.
    padded = F.pad(histogram[1:], (1, 1, 1, 1))  # (2, T, Gh + 2, Gw + 2)
    sums = torch.zeros((2, slot.numel()), dtype=padded.dtype, device=device)
    for step_y in range(3):
        for step_x in range(3):
            sums += padded[:, slot, row + step_y, column + step_x]
    centres = (sums / strength).T.contiguous()  # (K, 2) x, y
    keep = _suppress_close_peaks(centres, slot, strength, nms_radius_px, max_instances)
    centres, slot = centres[keep], slot[keep]
    assignment, distance2 = _assign_nearest(votes, centres, slot, max_distance_px, cell_px)
    return _finalise(votes, assignment, distance2, centres, votes.present_classes[slot],
                     min_pixels, inlier_radius_px)


def _box_sum(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Sum over each (2 radius + 1)^2 window of (N, 1, H, W), zeros outside."""
    size = 2 * radius + 1
    rows = F.avg_pool2d(image, (1, size), stride=1, padding=(0, radius),
                        count_include_pad=True)
    return F.avg_pool2d(rows, (size, 1), stride=1, padding=(radius, 0),
                        count_include_pad=True) * float(size * size)


def _max_filter(image: torch.Tensor, radius: int) -> torch.Tensor:
    """Maximum over each (2 radius + 1)^2 window of (N, 1, H, W)."""
    size = 2 * radius + 1
    rows = F.max_pool2d(image, (1, size), stride=1, padding=(0, radius))
    return F.max_pool2d(rows, (size, 1), stride=1, padding=(radius, 0))


def _suppress_close_peaks(centres: torch.Tensor, slot: torch.Tensor, strength: torch.Tensor,
                          radius_px: float, max_instances: int) -> torch.Tensor:
    """
    Greedy NMS over the candidate peaks, vectorised; returns kept indices in input order.

    Max-pool NMS alone keeps every cell of a plateau (a vote cloud centred on a cell corner
    fills several cells equally), so equal or weaker candidates of the same class within
    ``radius_px`` of a stronger kept one are dropped here. Greedy NMS keeps a candidate
    exactly when no *kept* stronger neighbour exists; that is the unique fixed point of
    ``keep = not any(neighbour & stronger & keep)``, reached from ``keep = all`` in at most
    as many rounds as the longest chain of neighbours (two or three in practice). Each round
    is one (K, K) matrix-vector product on the device, with no Python loop over candidates.
    """
    count = centres.shape[0]
    device = centres.device
    if count == 0:
        return torch.zeros(0, dtype=torch.int64, device=device)
    order = torch.argsort(strength.double(), descending=True, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(count, device=device)
    delta = centres[:, None, :].double() - centres[None, :, :].double()
    near = ((delta * delta).sum(-1) < float(radius_px) ** 2) & (slot[:, None] == slot[None, :])
    stronger = rank[None, :] < rank[:, None]  # [i, j]: j comes before i in the greedy order
    suppressors = (near & stronger).to(torch.float32)  # (K, K)
    keep = torch.ones(count, dtype=torch.bool, device=device)
    for _ in range(count):
        updated = (suppressors @ keep.to(torch.float32)) == 0
        if bool(torch.equal(updated, keep)):
            break
        keep = updated
    if int(max_instances) < count:
        kept_in_order = keep[order]
        keep[order] = kept_in_order & (torch.cumsum(kept_in_order.to(torch.int64), 0)
                                       <= int(max_instances))
    return torch.nonzero(keep).squeeze(1)


# ------------------------------------------------------------------------------------------
# scikit-learn methods: OPTICS (the paper's), DBSCAN, HDBSCAN
# ------------------------------------------------------------------------------------------

_SKLEARN_DEFAULTS: dict[str, dict[str, Any]] = {
    'optics': {'min_samples': 20, 'xi': 0.1, 'max_eps': math.inf,
               'min_cluster_size': None, 'cluster_method': 'xi', 'eps_px': None},
    'dbscan': {'eps_px': 3.0, 'min_samples': 10},
    'hdbscan': {'min_cluster_size': None, 'min_samples': None, 'allow_single_cluster': True,
                'cluster_selection_epsilon': 5.0},
}


def cluster_sklearn(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor,
                    thing_classes: np.ndarray | Sequence[int], method: str = 'optics', *,
                    min_pixels: int = COMMON_DEFAULTS['min_pixels'],
                    max_distance_px: float = COMMON_DEFAULTS['max_distance_px'],
                    inlier_radius_px: float = COMMON_DEFAULTS['inlier_radius_px'],
                    max_points: int | None = None, seed: int = 0,
                    **options: Any) -> InstanceResult:
    """
    Cluster the votes of each thing class with scikit-learn's OPTICS, DBSCAN or HDBSCAN.

    ``options`` are the method's settings (defaults in ``_SKLEARN_DEFAULTS``):
    ``'optics'``: ``min_samples``, ``xi``, ``max_eps``, ``min_cluster_size``,
    ``cluster_method`` and ``eps_px`` (for ``cluster_method='dbscan'``); ``'dbscan'``:
    ``eps_px``, ``min_samples``; ``'hdbscan'``: ``min_cluster_size`` (default
    ``min_pixels``, as for OPTICS), ``min_samples``, ``allow_single_cluster``,
    ``cluster_selection_epsilon``. With ``max_points`` at most that many votes per class are
    clustered (a seeded random subsample); every pixel is then given to the nearest cluster
    centre of its class within ``max_distance_px``, and size limits are scaled to the sample.
    Groups under ``min_pixels`` are dropped, as in the grid method.
    """
    if method not in _SKLEARN_DEFAULTS:
        raise ValueError(f'unknown scikit-learn method {method!r}; choose one of '
                         f'{sorted(_SKLEARN_DEFAULTS)}')
    unknown = sorted(set(options) - set(_SKLEARN_DEFAULTS[method]))
    if unknown:
        raise TypeError(f'unknown parameters {unknown} for method {method!r}; it accepts '
                        f'{sorted(_SKLEARN_DEFAULTS[method])}')
    settings = {**_SKLEARN_DEFAULTS[method], **options}
    height, width = _check_inputs(semantic, offsets)
    device = torch.device('cpu')
    votes = _collect_votes(_as_tensor(semantic, device), _as_tensor(offsets, device),
                           torch.from_numpy(thing_table(thing_classes)))
    if votes is None:
        return InstanceResult.empty((height, width))
    rng = np.random.default_rng(seed)
    slots = votes.slot.numpy()
    points = torch.stack([votes.vote_x, votes.vote_y], 1).double().numpy()  # (P, 2)
    assignment = np.full(points.shape[0], -1, dtype=np.int64)
    centres: list[np.ndarray] = []
    centre_slot: list[int] = []
    subsampled = False
    for slot in range(votes.present_classes.numel()):
        members = np.flatnonzero(slots == slot)
        fraction = 1.0
        if max_points is not None and members.size > max_points:
            fraction = max_points / members.size
            members = np.sort(rng.choice(members, size=int(max_points), replace=False))
            subsampled = True
        labels = _sklearn_labels(points[members], method, settings, min_pixels * fraction)
        for label in np.unique(labels[labels >= 0]).tolist():
            chosen = members[labels == label]
            assignment[chosen] = len(centres)
            centres.append(points[chosen].mean(0))
            centre_slot.append(slot)
    if not centres:
        return InstanceResult.empty((height, width))
    centre_tensor = torch.as_tensor(np.asarray(centres, dtype=np.float32))  # (K, 2)
    slot_tensor = torch.as_tensor(np.asarray(centre_slot, dtype=np.int64))
    if subsampled:
        assignment_t, distance2 = _assign_nearest(votes, centre_tensor, slot_tensor,
                                                  max_distance_px)
    else:
        assignment_t = torch.from_numpy(assignment)
        delta = (torch.stack([votes.vote_x, votes.vote_y], 1)
                 - centre_tensor[assignment_t.clamp(min=0)])
        distance2 = torch.where(assignment_t >= 0, (delta * delta).sum(1),
                                torch.full_like(votes.vote_x, math.inf))
    return _finalise(votes, assignment_t, distance2, centre_tensor,
                     votes.present_classes[slot_tensor], min_pixels, inlier_radius_px).numpy()


def _sklearn_labels(points: np.ndarray, method: str, settings: dict[str, Any],
                    min_size: float) -> np.ndarray:
    """Return cluster labels (-1 = noise) of (n, 2) votes; too few points are all noise."""
    count = points.shape[0]
    min_samples = settings.get('min_samples') or 1
    if count < max(int(min_samples), 2):
        return np.full(count, -1, dtype=np.int64)
    if method == 'optics':
        from sklearn.cluster import OPTICS
        min_cluster_size = settings['min_cluster_size']
        if min_cluster_size is None:
            min_cluster_size = max(int(min_size), 2)
        extra = ({'eps': settings['eps_px']} if settings['cluster_method'] == 'dbscan'
                 and settings['eps_px'] is not None else {})
        model = OPTICS(min_samples=int(min_samples), xi=float(settings['xi']),
                       max_eps=float(settings['max_eps']),
                       min_cluster_size=min(int(min_cluster_size), count),
                       cluster_method=settings['cluster_method'], **extra)
    elif method == 'dbscan':
        from sklearn.cluster import DBSCAN
        model = DBSCAN(eps=float(settings['eps_px']), min_samples=int(min_samples))
    else:
        from sklearn.cluster import HDBSCAN
        min_cluster_size = settings['min_cluster_size']
        if min_cluster_size is None:
            min_cluster_size = max(int(min_size), 2)
        kwargs: dict[str, Any] = {
            'min_cluster_size': min(int(min_cluster_size), count),
            'min_samples': settings['min_samples'],
            'allow_single_cluster': bool(settings['allow_single_cluster']),
            'cluster_selection_epsilon': float(settings['cluster_selection_epsilon']),
        }
        if 'copy' in inspect.signature(HDBSCAN).parameters:
            kwargs['copy'] = True  # the input is ours to keep; also silences a FutureWarning
        model = HDBSCAN(**kwargs)
    return np.asarray(model.fit(points).labels_, dtype=np.int64)
