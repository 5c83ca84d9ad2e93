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
Speed and panoptic quality of the instance clustering methods, on frames of known truth.

Synthetic frames (:func:`synthetic_frame`): ellipses and rectangles of thing classes on a sky /
ground background, overlapping each other, one of them cut in two by a pole (a stuff-class
occluder), with true centre offsets plus Gaussian noise and a fraction of outlier votes (what a
network gets wrong near boundaries); rendered scenes go through :func:`frame_from_instances`.
Every method clusters the *same* frames with the ground-truth semantic labels, so the numbers
measure the clustering alone: per-frame time (median over repeats, then over frames) and thing
panoptic quality. ``mtl_benchmark_instances`` is the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import platform
import time

from mtl_perception.core.benchmark.sections import markdown_section
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.data.targets import instance_offsets
from mtl_perception.core.instance_metrics import PanopticQualityAccumulator
from mtl_perception.core.instances import cluster_instances
from mtl_perception.core.report import cpu_model, now_iso
import numpy as np
import torch

LOGGER = logging.getLogger(__name__)

SKY, GROUND, STRUCTURE = 0, 1, 2  # SYNTH_CLASSES stuff ids
IGNORE = 255


@dataclass
class Frame:
    """One synthetic frame: network-like inputs and the exact ground truth."""

    semantic: np.ndarray  # (H, W) uint8 class ids (also the ground truth, 255 = void)
    offsets: np.ndarray  # (2, H, W) float32 noisy offsets, NaN outside thing pixels
    gt_ids: np.ndarray  # (H, W) int32, class * 1000 + index on thing instances
    gt_semantic: np.ndarray  # (H, W) uint8, tiny remnants of instances set to void
    true_offsets: np.ndarray  # (2, H, W) float32 exact offsets, NaN outside instances
    occluded_id: int  # gt id of the instance cut in two by the pole

    @property
    def thing_pixels(self) -> int:
        return int((self.gt_ids >= 1000).sum())


def synthetic_frame(width: int = 640, height: int = 480, seed: int = 0, num_objects: int = 8,
                    noise_px: float = 1.5, outlier_fraction: float = 0.02,
                    min_visible_px: int = 200,
                    thing_ids: tuple[int, ...] = SYNTH_CLASSES.thing_ids) -> Frame:
    """
    Return a frame of overlapping thing objects, one split by an occluding pole.

    Objects sit on a jittered 4 x 2 layout so neighbours touch or overlap; later objects
    occlude earlier ones. Object 0 is a wide rectangle with a vertical pole (class
    ``structure``) through its middle, so its visible pixels form two parts whose centre lies
    on the pole. Offsets are exact (centre of the visible pixels minus pixel) plus
    ``N(0, noise_px)`` per component; ``outlier_fraction`` of thing pixels vote uniformly
    within +-10 % of the width instead. Instances with fewer than ``min_visible_px`` visible
    pixels (scaled with the image area) become void in the ground truth.
    """
    rng = np.random.default_rng(seed)
    scale = width / 640.0
    semantic = np.full((height, width), SKY, dtype=np.uint8)
    semantic[height // 3:] = GROUND
    object_index = np.full((height, width), -1, dtype=np.int32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    classes = []
    pole_x = width / 2.0
    columns, rows = 4, 2
    for index in range(num_objects):
        slot = index % (columns * rows)
        centre_x = (slot % columns + 0.5) * width / columns + rng.uniform(-0.06, 0.06) * width
        centre_y = (height * (0.45 + 0.3 * (slot // columns))
                    + rng.uniform(-0.05, 0.05) * height)
        half_w = rng.uniform(0.045, 0.085) * width
        half_h = rng.uniform(0.045, 0.085) * width
        if index == 0:
            half_w, half_h = 0.12 * width, 0.05 * width  # wide: the pole splits it in two
            shape = np.abs(xs - centre_x) <= half_w
            shape &= np.abs(ys - centre_y) <= half_h
        elif rng.random() < 0.5:
            shape = ((xs - centre_x) / half_w) ** 2 + ((ys - centre_y) / half_h) ** 2 <= 1.0
        else:
            shape = (np.abs(xs - centre_x) <= half_w) & (np.abs(ys - centre_y) <= half_h)
        class_id = int(thing_ids[int(rng.integers(len(thing_ids)))])
        semantic[shape] = class_id
        object_index[shape] = index
        classes.append(class_id)
        if index == 0:
            pole_x = centre_x
    pole = np.abs(xs - pole_x) <= 0.02 * width
    semantic[pole] = STRUCTURE
    object_index[pole] = -1

    gt_ids = semantic.astype(np.int32)
    gt_semantic = semantic.copy()
    true_offsets = np.full((2, height, width), np.nan, dtype=np.float32)
    per_class_count: dict[int, int] = {}
    occluded_id = 0
    for index, class_id in enumerate(classes):
        mask = object_index == index
        if mask.sum() < min_visible_px * scale * scale:
            gt_semantic[mask] = IGNORE
            gt_ids[mask] = 0
            continue
        instance_id = class_id * 1000 + per_class_count.get(class_id, 0)
        per_class_count[class_id] = per_class_count.get(class_id, 0) + 1
        gt_ids[mask] = instance_id
        true_offsets[0][mask] = xs[mask].mean() - xs[mask]
        true_offsets[1][mask] = ys[mask].mean() - ys[mask]
        if index == 0:
            occluded_id = instance_id
    offsets = true_offsets + rng.normal(0.0, noise_px, size=true_offsets.shape).astype(
        np.float32)
    thing = np.isfinite(true_offsets[0])
    outliers = thing & (rng.random((height, width)) < outlier_fraction)
    spread = 0.1 * width
    offsets[:, outliers] = rng.uniform(-spread, spread, size=(2, int(outliers.sum())))
    # Void remnants keep their class and a vote, as a network would give them.
    remnant = (gt_semantic == IGNORE)
    offsets[:, remnant] = rng.normal(0.0, noise_px, size=(2, int(remnant.sum())))
    return Frame(semantic=semantic, offsets=offsets.astype(np.float32), gt_ids=gt_ids,
                 gt_semantic=gt_semantic, true_offsets=true_offsets, occluded_id=occluded_id)


def frame_from_instances(semantic: np.ndarray, instance_ids: np.ndarray, seed: int,
                         noise_px: float = 1.5, outlier_fraction: float = 0.02) -> Frame:
    """
    Return a frame of exact semantics and instances (e.g. rendered), offsets with noise.

    ``instance_ids`` (H, W) holds ``class * 1000 + index`` on thing instances; offsets are the
    exact ones plus the same noise and outlier votes as :func:`synthetic_frame`.
    """
    height, width = semantic.shape
    rng = np.random.default_rng(seed)
    gt_ids = np.where(instance_ids >= 1000, instance_ids, 0).astype(np.int32)
    offsets_exact, mask = instance_offsets(gt_ids)
    true_offsets = np.where(mask[None], offsets_exact, np.nan).astype(np.float32)
    offsets = true_offsets + rng.normal(0.0, noise_px, size=true_offsets.shape).astype(
        np.float32)
    outliers = mask & (rng.random((height, width)) < outlier_fraction)
    spread = 0.1 * width
    offsets[:, outliers] = rng.uniform(-spread, spread, size=(2, int(outliers.sum())))
    return Frame(semantic=semantic, offsets=offsets.astype(np.float32),
                 gt_ids=gt_ids, gt_semantic=semantic, true_offsets=true_offsets,
                 occluded_id=0)


@dataclass
class MethodResult:
    """Timings and quality of one method on one frame size."""

    method: str
    frames: int
    median_ms: float
    pq: float
    sq: float
    rq: float


def run_method(frames: list[Frame], method: str, repeats: int,
               params: dict | None = None) -> MethodResult:
    """Cluster every frame ``repeats`` times; median per frame, then median over frames."""
    params = params or {}
    thing = SYNTH_CLASSES.is_thing()
    accumulator = PanopticQualityAccumulator(SYNTH_CLASSES.thing_ids)
    per_frame_ms = []
    for frame in frames:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = cluster_instances(frame.semantic, frame.offsets, thing, method=method,
                                       **params)
            times.append((time.perf_counter() - start) * 1e3)
        per_frame_ms.append(float(np.median(times)))
        accumulator.update(result.instance_ids, result.class_ids, frame.gt_ids,
                           frame.gt_semantic)
        LOGGER.info('%s: frame of %d thing pixels in %.1f ms, %d instances', method,
                    frame.thing_pixels, per_frame_ms[-1], len(result))
    quality = accumulator.compute()
    return MethodResult(method=method, frames=len(frames),
                        median_ms=float(np.median(per_frame_ms)), pq=quality['pq'],
                        sq=quality['sq'], rq=quality['rq'])


def clustering_section(results: dict[str, list[MethodResult]], command: str,
                       thing_pixels: dict[str, float], source: str, frames: int,
                       objects: int, noise_px: float, outlier_fraction: float, repeats: int,
                       slow_repeats: int, optics_max_points: int | None) -> str:
    """Return the markdown report, with each target checked."""
    if source == 'rendered':
        data = (f'- data: {frames} PyBullet-rendered scenes per size (the renderer of '
                '`mtl_synth`, seeds 50000+), exact instances, offsets = exact + noise sigma '
                f'{noise_px} px, {100 * outlier_fraction:g} % outlier votes; '
                'ground-truth semantic labels, so only the clustering is measured. Every '
                'method runs on the same frames in the same run.')
    else:
        data = (f'- data: {frames} synthetic frames per size ({objects} thing objects '
                'each, overlapping, one split in two by a pole), offset noise sigma '
                f'{noise_px} px, {100 * outlier_fraction:g} % outlier votes; '
                'ground-truth semantic labels, so only the clustering is measured. Every '
                'method runs on the same frames in the same run.')
    facts = [
        f'command: `{command}`',
        f'hardware: {cpu_model()}; torch {torch.__version__} with '
        f'{torch.get_num_threads()} threads; Python {platform.python_version()}',
        f'date: {now_iso()}',
        data[2:],
        f'timing: median over {repeats} repeats per frame for the grid '
        f'({slow_repeats} for the scikit-learn methods), then median over frames; '
        'PQ over thing classes, accumulated over the frames.',
        'caveat: ' + ('the frames are easy for every method (well separated centres, '
                      'perfect semantics), so PQ shows that the grid loses nothing here, not '
                      'how methods rank on real network output. '
                      if source == 'synthetic' else
                      'perfect semantics and noisy but unbiased offsets; network output is '
                      'harder. ')
        + "The scikit-learn methods use this package's defaults "
        '(`core/instances/sklearn_methods.py`); with OPTICS `xi=0.05` and '
        '`min_cluster_size=32` it found no instance at 640x480 (it split each dense vote cloud '
        'into tiny leaf clusters).',
    ]
    if optics_max_points:
        facts.append(f'OPTICS clustered a random subsample of at most {optics_max_points} '
                     'votes per class (then nearest-centre assignment); the full OPTICS is '
                     'slower still.')
    columns = ['size', 'thing px / frame', 'method', 'median ms / frame', 'slower than grid',
               'PQ', 'SQ', 'RQ']
    cells = []
    verdicts = []
    for size, size_results in results.items():
        grid = next((r for r in size_results if r.method == 'grid'), None)
        for result in size_results:
            ratio = (f'{result.median_ms / grid.median_ms:.0f}x' if grid and result is not grid
                     else '1x' if grid else '-')
            cells.append([size, f'{thing_pixels[size]:.0f}', result.method,
                          f'{result.median_ms:.1f}', ratio, f'{100 * result.pq:.1f}',
                          f'{100 * result.sq:.1f}', f'{100 * result.rq:.1f}'])
        optics = next((r for r in size_results if r.method == 'optics'), None)
        if grid and optics:
            ratio = optics.median_ms / grid.median_ms
            verdicts.append(f'- {size}: grid is {ratio:.0f}x faster than OPTICS (target >= '
                            f'100x: {"met" if ratio >= 100 else "MISSED"}); PQ grid '
                            f'{100 * grid.pq:.1f} vs OPTICS {100 * optics.pq:.1f} (target: '
                            f'equal or better: '
                            f'{"met" if grid.pq >= optics.pq - 1e-9 else "MISSED"}).')
        if grid and size == '640x480':
            verdicts.append(f'- 640x480: grid takes {grid.median_ms:.1f} ms per frame (target '
                            f'<= 30 ms: {"met" if grid.median_ms <= 30 else "MISSED"}).')
    return (markdown_section(f'Instance clustering ({source} frames)', facts, columns, cells)
            + '\n'.join(['', 'Targets:', ''] + verdicts) + '\n')
