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
The ``'grid'`` method: per-class vote histogram, peaks, nearest-peak assignment (torch).

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
"""

from __future__ import annotations

from collections.abc import Sequence

from mtl_perception.core.instances.results import empty_tensors, InstanceResult, InstanceTensors
from mtl_perception.core.instances.votes import (
    as_tensor,
    assign_nearest,
    check_inputs,
    collect_votes,
    COMMON_DEFAULTS,
    finalise,
    thing_table,
)
import numpy as np
import torch
import torch.nn.functional as F


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
    height, width = check_inputs(semantic, offsets)
    if device is None:
        device = semantic.device if isinstance(semantic, torch.Tensor) else 'cpu'
    device = torch.device(device)
    result = cluster_grid_torch(
        as_tensor(semantic, device), as_tensor(offsets, device),
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
    height, width = check_inputs(semantic, offsets)
    device = semantic.device
    votes = collect_votes(semantic, offsets, table.to(device))
    if votes is None:
        return empty_tensors(height, width, device)
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
        return empty_tensors(height, width, device)
    strength = heat[slot, 0, row, column]
    # Peak position: mean of the votes in the 3x3 cells around the candidate, not the cell.
    padded = F.pad(histogram[1:], (1, 1, 1, 1))  # (2, T, Gh + 2, Gw + 2)
    sums = torch.zeros((2, slot.numel()), dtype=padded.dtype, device=device)
    for step_y in range(3):
        for step_x in range(3):
            sums += padded[:, slot, row + step_y, column + step_x]
    centres = (sums / strength).T.contiguous()  # (K, 2) x, y
    keep = suppress_close_peaks(centres, slot, strength, nms_radius_px, max_instances)
    centres, slot = centres[keep], slot[keep]
    assignment, distance2 = assign_nearest(votes, centres, slot, max_distance_px, cell_px)
    return finalise(votes, assignment, distance2, centres, votes.present_classes[slot],
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


def suppress_close_peaks(centres: torch.Tensor, slot: torch.Tensor, strength: torch.Tensor,
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
