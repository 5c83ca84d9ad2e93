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
Real photos with ground-truth disparity: how much the network knows about real depth.

Synthetic test splits measure how well the model learned the renderer; a robot meets real
cameras. The only real photos with dense depth ground truth that ship inside an installable
package (nothing is downloaded) are the Middlebury 2014 "Motorcycle" pair in scikit-image's
wheel (``skimage.data.stereo_motorcycle``: left image, right image, disparity in pixels, NaN
where unknown; calibration valid for the shipped x4-downsampled images). Disparity ``d`` gives
depth ``Z = f * B / (d + doffs)``.

Two numbers per photo, both independent of the unknown global scale of a monocular network:

- Spearman rank correlation between predicted inverse depth and true disparity (1 = the
  predicted depth ordering of every pixel pair is right);
- scale-invariant log error (Eigen et al., NeurIPS 2014): the standard deviation of
  ``log(predicted depth) - log(true depth)`` over valid pixels, in log units (0 = right up to
  one scale factor).

The same numbers for the trivial prior "lower rows are nearer" say what a model must beat.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class StereoPhoto:
    """One real photo with its ground-truth disparity and the calibration to turn it to depth."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8 RGB, the left image
    disparity_px: np.ndarray  # (H, W) float32, NaN where unknown
    fx_px: float
    baseline_m: float
    doffs_px: float  # x difference of the principal points (right minus left)

    @property
    def depth_m(self) -> np.ndarray:
        """Return ground-truth depth in metres, NaN where the disparity is unknown."""
        with np.errstate(divide='ignore', invalid='ignore'):
            depth = self.fx_px * self.baseline_m / (self.disparity_px + self.doffs_px)
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan).astype(np.float32)


def load_motorcycle() -> StereoPhoto:
    """
    Return Middlebury 2014 Motorcycle from scikit-image's wheel, read offline.

    Calibration from the ``skimage.data.stereo_motorcycle`` docstring (valid for its x4
    downsampled images): f = 994.978 px, baseline 193.001 mm, doffs 31.086 px.
    """
    try:
        from skimage import data
    except ImportError:
        raise RuntimeError('real-photo evaluation needs scikit-image (`pip install '
                           'scikit-image`): its wheel ships the Middlebury photos') from None
    left, _, disparity = data.stereo_motorcycle()
    disparity = np.asarray(disparity, dtype=np.float32)
    disparity[~np.isfinite(disparity)] = np.nan
    return StereoPhoto('middlebury2014_motorcycle', np.ascontiguousarray(left), disparity,
                       fx_px=994.978, baseline_m=0.193001, doffs_px=31.086)


def load_real_stereo_photos() -> list[StereoPhoto]:
    """Return every real photo with ground-truth depth that an installed package ships."""
    return [load_motorcycle()]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Return the Spearman rank correlation of two arrays over the entries finite in both."""
    from scipy.stats import spearmanr

    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f'spearman needs arrays of one size, got {a.size} and {b.size}')
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.sum() < 3:
        return math.nan
    return float(spearmanr(a[valid], b[valid]).statistic)


def scale_invariant_log_error(depth_m: np.ndarray, true_depth_m: np.ndarray) -> float:
    """
    Return the scale-invariant log error: std of ``log(depth) - log(true depth)``.

    Pixels where either depth is missing, zero or negative are left out; one global scale
    factor on ``depth_m`` does not change the result.
    """
    depth = np.asarray(depth_m, dtype=np.float64)
    truth = np.asarray(true_depth_m, dtype=np.float64)
    if depth.shape != truth.shape:
        raise ValueError(f'depth maps differ in shape: {depth.shape} vs {truth.shape}')
    valid = np.isfinite(depth) & np.isfinite(truth) & (depth > 0) & (truth > 0)
    if valid.sum() < 2:
        return math.nan
    difference = np.log(depth[valid]) - np.log(truth[valid])
    return float(np.sqrt(max(np.mean(difference ** 2) - np.mean(difference) ** 2, 0.0)))


def row_prior_inverse_depth(height: int, width: int) -> np.ndarray:
    """Return the trivial prior "lower rows are nearer" as an inverse-depth map (H, W)."""
    rows = np.arange(height, dtype=np.float32) + 1.0
    return np.repeat(rows[:, None], width, axis=1)


def score_inverse_depth(photo: StereoPhoto, inverse_depth: np.ndarray) -> dict[str, float]:
    """
    Return Spearman and scale-invariant log error of one inverse-depth map (image size).

    The inverse depth may carry any positive scale (canonical or metric units alike).
    """
    if inverse_depth.shape != photo.disparity_px.shape:
        raise ValueError(f"inverse depth {inverse_depth.shape} must have the photo's size "
                         f'{photo.disparity_px.shape}')
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.where(inverse_depth > 0, 1.0 / inverse_depth, np.nan)
    return {'spearman': spearman(inverse_depth, photo.disparity_px),
            'silog': scale_invariant_log_error(depth, photo.depth_m),
            'valid_pixels': int(np.isfinite(photo.disparity_px).sum())}


def evaluate_real_stereo(predictor: Any, photos: list[StereoPhoto] | None = None,
                         out_dir: str | Path | None = None) -> dict[str, Any]:
    """
    Run ``predictor`` (a ``Predictor``) on each real photo and score its inverse depth.

    Returns per-photo scores for the model and for the row prior; with ``out_dir`` writes a
    picture per photo (photo | predicted inverse depth | true disparity).
    """
    photos = load_real_stereo_photos() if photos is None else photos
    results: dict[str, Any] = {}
    for photo in photos:
        height, width = photo.disparity_px.shape
        prediction = predictor.predict(photo.image, output_size=(width, height),
                                       outputs={'depth'})
        inverse_depth = np.asarray(prediction.inverse_depth, dtype=np.float32)
        model = score_inverse_depth(photo, inverse_depth)
        prior = score_inverse_depth(photo, row_prior_inverse_depth(height, width))
        entry: dict[str, Any] = {'model': model, 'row_prior': prior,
                                 'network_size': list(prediction.network_size)}
        if out_dir is not None:
            path = Path(out_dir) / f'{photo.name}.png'
            write_real_stereo_figure(photo, inverse_depth, path)
            entry['figure'] = str(path)
        results[photo.name] = entry
    return results


def _colorize(values: np.ndarray) -> np.ndarray:
    """Map values to a turbo-like RGB image using their 2nd-98th percentiles; NaN is black."""
    finite = np.isfinite(values)
    out = np.zeros((*values.shape, 3), dtype=np.uint8)
    if not finite.any():
        return out
    low, high = np.percentile(values[finite], [2, 98])
    scaled = np.clip((values - low) / max(high - low, 1e-9), 0, 1)
    grey = np.where(finite, scaled * 255, 0).astype(np.uint8)
    colored = cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)[..., ::-1]
    out[finite] = colored[finite]
    return out


def write_real_stereo_figure(photo: StereoPhoto, inverse_depth: np.ndarray,
                             path: str | Path) -> Path:
    """Write photo | predicted inverse depth | true disparity side by side as a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    panel = np.concatenate([photo.image, _colorize(inverse_depth),
                            _colorize(photo.disparity_px)], axis=1)
    if not cv2.imwrite(str(path), np.ascontiguousarray(panel[..., ::-1])):
        raise OSError(f'cannot write {path}')
    return path
