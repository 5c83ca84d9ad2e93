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
Joint image/target transforms on NumPy samples, applied before any target is derived.

A *raw sample* is a dict of NumPy arrays at one resolution:

- ``image`` (H, W, 3) uint8 RGB;
- ``semantic`` (H, W) uint8 class ids, 255 = ignore;
- ``instance_ids`` (H, W) int64, ``class * 1000 + index`` on thing instances, 0 elsewhere;
- ``inverse_depth_m`` (H, W) float32 metric inverse depth in 1/m: 0 = sky (valid), NaN = no
  ground truth;
- ``depth_m`` (H, W) float32 z-depth in metres, NaN where unknown (sky included);
- ``fx`` (float) the horizontal focal length in pixels *of this image*;
- ``path`` (str).

Geometric transforms move all maps together: bilinear for the image, nearest for everything
else (labels, ids and depth alike, so no value is ever invented between two surfaces; nearest
here maps output pixel centres to input pixel centres, ``(u + 0.5) / s - 0.5``). Instance
offsets are *not* transformed: :func:`mtl_perception.core.data.targets.instance_offsets`
derives them from the final ``instance_ids``, which is exact for any resize, crop or flip (a
flip negates the x offsets automatically, a resize scales both).

The focal length follows the geometry. A resize by ``sx`` multiplies ``fx`` and the width by
``sx``, so ``f_norm = fx / width`` is unchanged; a crop or pad changes the width but not ``fx``,
so ``f_norm`` changes with the field of view; a flip changes neither. The dataset computes
``f_norm = fx / width`` from the sample after all transforms and uses it for the canonical
inverse depth (docs/conventions.md).

Every random transform draws from the ``np.random.Generator`` it is called with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
from mtl_perception.core import IGNORE_INDEX
import numpy as np

Sample = dict[str, Any]
Transform = Callable[[Sample, np.random.Generator], Sample]

_LABEL_KEYS = ('semantic', 'instance_ids', 'inverse_depth_m', 'depth_m')
_PAD_VALUES = {'semantic': IGNORE_INDEX, 'instance_ids': 0, 'inverse_depth_m': np.nan,
               'depth_m': np.nan}


def sample_size(sample: Sample) -> tuple[int, int]:
    """Return (width, height) of a raw sample."""
    height, width = sample['image'].shape[:2]
    return width, height


def nearest_indices(source: int, target: int) -> np.ndarray:
    """Return, for each of ``target`` output pixels, the nearest of ``source`` input pixels."""
    centres = (np.arange(target, dtype=np.float64) + 0.5) * (source / target)
    return np.clip(np.floor(centres), 0, source - 1).astype(np.int64)


def resize(sample: Sample, width: int, height: int) -> Sample:
    """Return the sample resized to ``width`` x ``height`` (image bilinear, maps nearest)."""
    if width <= 0 or height <= 0:
        raise ValueError(f'resize target must be positive, got {width}x{height}')
    old_width, old_height = sample_size(sample)
    if (width, height) == (old_width, old_height):
        return dict(sample)
    out = dict(sample)
    out['image'] = cv2.resize(sample['image'], (width, height), interpolation=cv2.INTER_LINEAR)
    rows = nearest_indices(old_height, height)[:, None]
    cols = nearest_indices(old_width, width)[None, :]
    for key in _LABEL_KEYS:
        if key in sample:
            out[key] = sample[key][rows, cols]
    out['fx'] = float(sample['fx']) * width / old_width
    return out


def crop(sample: Sample, left: int, top: int, width: int, height: int) -> Sample:
    """
    Return the window [left, left + width) x [top, top + height); outside is padded.

    Padding: image 0, semantic 255 (ignored), instance id 0 (no instance), depth NaN (no
    ground truth). ``fx`` is unchanged: the pixels keep their size, the field of view changes.
    """
    old_width, old_height = sample_size(sample)
    out = dict(sample)
    src_x0, src_y0 = max(left, 0), max(top, 0)
    src_x1, src_y1 = min(left + width, old_width), min(top + height, old_height)
    dst_x0, dst_y0 = src_x0 - left, src_y0 - top
    keys = ['image'] + [key for key in _LABEL_KEYS if key in sample]
    for key in keys:
        array = sample[key]
        fill = 0 if key == 'image' else _PAD_VALUES[key]
        window = np.full((height, width) + array.shape[2:], fill, dtype=array.dtype)
        if src_x1 > src_x0 and src_y1 > src_y0:
            window[dst_y0:dst_y0 + src_y1 - src_y0, dst_x0:dst_x0 + src_x1 - src_x0] = (
                array[src_y0:src_y1, src_x0:src_x1])
        out[key] = window
    return out


def hflip(sample: Sample) -> Sample:
    """Return the sample mirrored left-right (offsets derived afterwards flip with it)."""
    out = dict(sample)
    for key in ['image'] + [key for key in _LABEL_KEYS if key in sample]:
        out[key] = np.ascontiguousarray(sample[key][:, ::-1])
    return out


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample


class Resize:
    """Resize to a fixed (width, height); the aspect ratio changes if the sizes differ."""

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f'Resize size must be positive, got {width}x{height}')
        self.width, self.height = int(width), int(height)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        return resize(sample, self.width, self.height)


class RandomScale:
    """
    Resize by a random factor, relative to the scale at which the image covers ``cover``.

    With ``cover=(W, H)`` the base scale is ``max(W / w, H / h)``, so factor 1 makes the image
    just cover a W x H crop; factors below 1 leave a padded border after the crop.
    """

    def __init__(self, scale_min: float, scale_max: float,
                 cover: tuple[int, int] | None = None) -> None:
        if not 0 < scale_min <= scale_max:
            raise ValueError(f'need 0 < scale_min <= scale_max, got {scale_min}, {scale_max}')
        self.scale_min, self.scale_max = float(scale_min), float(scale_max)
        self.cover = cover

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        width, height = sample_size(sample)
        base = 1.0
        if self.cover is not None:
            base = max(self.cover[0] / width, self.cover[1] / height)
        scale = base * rng.uniform(self.scale_min, self.scale_max)
        return resize(sample, max(1, round(width * scale)), max(1, round(height * scale)))


class RandomCrop:
    """Crop a random (width, height) window, padding where the image is smaller."""

    def __init__(self, width: int, height: int) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f'RandomCrop size must be positive, got {width}x{height}')
        self.width, self.height = int(width), int(height)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        width, height = sample_size(sample)
        # Slack may be negative (image smaller than the crop): then the image sits at a
        # random position inside the padded window.
        slack_x, slack_y = width - self.width, height - self.height
        left = int(rng.integers(min(0, slack_x), max(0, slack_x) + 1))
        top = int(rng.integers(min(0, slack_y), max(0, slack_y) + 1))
        return crop(sample, left, top, self.width, self.height)


class RandomHorizontalFlip:
    """Mirror image and labels left-right with a probability (offsets are derived after)."""

    def __init__(self, probability: float = 0.5) -> None:
        self.probability = float(probability)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        return hflip(sample) if rng.random() < self.probability else sample


class ColorJitter:
    """Random brightness, contrast and saturation of the image only (targets untouched)."""

    def __init__(self, brightness: float = 0.2, contrast: float = 0.2,
                 saturation: float = 0.2) -> None:
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample['image'].astype(np.float32)
        image *= rng.uniform(1.0 - self.brightness, 1.0 + self.brightness)
        mean = image.mean()
        image = (image - mean) * rng.uniform(1.0 - self.contrast, 1.0 + self.contrast) + mean
        grey = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        factor = rng.uniform(1.0 - self.saturation, 1.0 + self.saturation)
        image = (image - grey[..., None]) * factor + grey[..., None]
        out = dict(sample)
        out['image'] = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        return out


class CameraEffects:
    """
    What a real camera does to an image and a renderer does not (image only, targets untouched).

    Each effect fires with ``probability``: exposure and gamma, white balance (per-channel
    gain), a vignette, defocus or motion blur, sensor noise (shot-like, brighter pixels
    noisier, plus read noise) and JPEG compression at a random quality. A model trained on
    clean renders learns their exact look; these break it, so the node's real camera is less
    of a surprise.
    """

    def __init__(self, probability: float = 0.5) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f'CameraEffects probability must be in [0, 1], got {probability}')
        self.probability = float(probability)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        image = sample['image'].astype(np.float32) / 255.0  # (H, W, 3) RGB in [0, 1]
        height, width = image.shape[:2]
        p = self.probability
        if rng.random() < p:  # exposure and gamma
            image = np.clip(image * rng.uniform(0.6, 1.5), 0.0, 1.0) ** rng.uniform(0.7, 1.4)
        if rng.random() < p:  # white balance
            image = image * rng.uniform(0.8, 1.2, size=3).astype(np.float32)
        if rng.random() < p * 0.5:  # vignette
            ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
            radius2 = (((xs - width / 2) / (width / 2)) ** 2
                       + ((ys - height / 2) / (height / 2)) ** 2)
            image = image * (1.0 - rng.uniform(0.1, 0.4) * radius2 / 2.0)[..., None]
        if rng.random() < p * 0.6:  # defocus or motion blur
            if rng.random() < 0.5:
                sigma = rng.uniform(0.4, 1.6)
                image = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
            else:
                length = int(rng.integers(3, 8))
                kernel = np.zeros((length, length), np.float32)
                kernel[length // 2, :] = 1.0 / length
                centre = (length / 2 - 0.5, length / 2 - 0.5)
                rotation = cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1.0)
                kernel = cv2.warpAffine(kernel, rotation, (length, length))
                image = cv2.filter2D(image, -1, kernel / max(kernel.sum(), 1e-6))
        if rng.random() < p:  # sensor noise
            shot = rng.uniform(0.0, 0.03)
            read = rng.uniform(0.0, 0.02)
            scale = np.sqrt(np.clip(image, 0.0, 1.0) * shot ** 2 + read ** 2)
            image = image + rng.standard_normal(image.shape).astype(np.float32) * scale
        out = dict(sample)
        out['image'] = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if rng.random() < p * 0.6:  # JPEG artefacts (RGB -> BGR for OpenCV and back)
            quality = int(rng.integers(25, 95))
            ok, encoded = cv2.imencode('.jpg', out['image'][..., ::-1],
                                       [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                out['image'] = np.ascontiguousarray(
                    cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
        return out


def training_transforms(width: int, height: int, scale_range: tuple[float, float] = (0.8, 1.25),
                        flip: bool = True, color_jitter: float = 0.2,
                        camera_effects: float = 0.0) -> Compose:
    """Random scale (relative to covering the crop), crop, flip, colour, camera effects."""
    transforms: list[Transform] = [RandomScale(*scale_range, cover=(width, height)),
                                   RandomCrop(width, height)]
    if flip:
        transforms.append(RandomHorizontalFlip())
    if color_jitter > 0:
        transforms.append(ColorJitter(color_jitter, color_jitter, color_jitter))
    if camera_effects > 0:
        transforms.append(CameraEffects(camera_effects))
    return Compose(transforms)


def evaluation_transforms(width: int, height: int) -> Compose:
    """Plain resize to the network input size (f_norm is unchanged by it)."""
    return Compose([Resize(width, height)])
