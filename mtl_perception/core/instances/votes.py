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
The steps every clustering method shares: collect the votes, assign them, measure the groups.

The network predicts, for each pixel of a thing class, the vector to its instance centre
(``centre = pixel + offset``, channel 0 = x, see docs/conventions.md). Pixels of one instance
therefore vote for (nearly) one point, even when an occluder splits the instance in two, and
grouping the votes groups the pixels.

:func:`collect_votes` turns the thing pixels with finite offsets into votes
(``pixel + offset``), :func:`assign_nearest` gives each vote the nearest centre of its own class
within ``max_distance_px``, and :func:`finalise` drops groups under ``min_pixels`` and numbers
and measures the rest. Torch on any device; the parameters of :data:`COMMON_DEFAULTS` are
those of these steps, which is why every method accepts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math
from typing import Any

from mtl_perception.core.instances.results import InstanceTensors
import numpy as np
import torch

# Parameters every method accepts, with their defaults (pixels of the offset image).
COMMON_DEFAULTS: dict[str, Any] = {
    'min_pixels': 64,  # smaller groups are dropped (noise, slivers at image borders)
    'max_distance_px': 64.0,  # farther votes join no instance
    'inlier_radius_px': 8.0,  # radius for the confidence and the centroid
}


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


@dataclass
class Votes:
    """The thing pixels that vote, flattened: P entries each."""

    height: int
    width: int
    flat_index: torch.Tensor  # (P,) int64 index into the H * W image
    vote_x: torch.Tensor  # (P,) float32
    vote_y: torch.Tensor  # (P,) float32
    class_id: torch.Tensor  # (P,) int64 semantic class of the pixel
    slot: torch.Tensor  # (P,) int64 index of the class in present_classes
    present_classes: torch.Tensor  # (T,) int64 thing classes that occur, ascending


def check_inputs(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor
                 ) -> tuple[int, int]:
    if semantic.ndim != 2:
        raise ValueError(f'semantic must be (H, W), got shape {tuple(semantic.shape)}')
    height, width = int(semantic.shape[0]), int(semantic.shape[1])
    if tuple(offsets.shape) != (2, height, width):
        raise ValueError(f'offsets must be (2, H, W) = (2, {height}, {width}), got shape '
                         f'{tuple(offsets.shape)}')
    return height, width


def as_tensor(array: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    if isinstance(array, torch.Tensor):
        return array.to(device)
    array = np.ascontiguousarray(array)
    if not array.flags.writeable or not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder('='))  # a copy torch can own
    return torch.from_numpy(array).to(device)


def collect_votes(semantic: torch.Tensor, offsets: torch.Tensor, table: torch.Tensor
                  ) -> Votes | None:
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
    return Votes(height=int(height), width=int(width), flat_index=flat_index, vote_x=vote_x,
                 vote_y=vote_y, class_id=class_id, slot=slot_table[class_id],
                 present_classes=present_classes)


_DIRECT_CENTRES = 16  # up to this many centres per class, each vote is compared with all


def assign_nearest(votes: Votes, centres: torch.Tensor, centre_slot: torch.Tensor,
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


def finalise(votes: Votes, assignment: torch.Tensor, distance2: torch.Tensor,
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
