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

"""Procedural textures and colours for the scene generator, sky included (NumPy, deterministic)."""

from __future__ import annotations

import math

import cv2
from mtl_perception.synth.camera import PinholeCamera
from mtl_perception.synth.scene_types import Scene
import numpy as np

TEXTURE_COUNT = 32
"""Procedural textures (plus the ground's own checker) for the ground and the walls."""


def procedural_texture(index: int, size: int = 64) -> np.ndarray:
    """
    Return texture ``index`` as a (size, size, 3) uint8 RGB image, the same on every machine.

    Checkers, stripes, bricks, tiles, smooth noise and speckle in random colours: surfaces with
    structure, so that a model cannot take "uniform colour" to mean "ground" or "wall".
    """
    rng = np.random.default_rng(np.random.SeedSequence([7331, int(index)]))
    a = hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.3, 1.0))
    b = hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.2, 1.0))
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64) / size
    kind = index % 6
    if kind == 0:  # checker
        cells = int(rng.integers(2, 9))
        mix = ((np.floor(xs * cells) + np.floor(ys * cells)) % 2)
    elif kind == 1:  # stripes at an angle
        angle = rng.uniform(0, math.pi)
        mix = 0.5 + 0.5 * np.sin(2 * math.pi * rng.integers(2, 10)
                                 * (xs * math.cos(angle) + ys * math.sin(angle)))
    elif kind == 2:  # bricks: mortar lines, every other row shifted
        rows = int(rng.integers(3, 9))
        row = np.floor(ys * rows)
        shifted = (xs * rows / 2 + 0.5 * (row % 2)) % 1.0
        mix = ((ys * rows % 1.0) < 0.12) | (shifted < 0.06)
    elif kind == 3:  # tiles with a grout grid
        cells = int(rng.integers(2, 7))
        mix = ((xs * cells % 1.0) < 0.08) | ((ys * cells % 1.0) < 0.08)
    elif kind == 4:  # smooth noise: random coarse grid, bicubic upsampling
        coarse = rng.random((int(rng.integers(3, 9)),) * 2)
        mix = np.clip(cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
    else:  # speckle (gravel, carpet, concrete)
        mix = rng.random((size, size)) ** rng.uniform(0.5, 2.0)
    mix = np.asarray(mix, dtype=np.float64)[..., None]
    image = a * (1.0 - mix) + b * mix
    image *= rng.uniform(0.9, 1.1, size=(size, size, 1))  # slight grain everywhere
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    """Return an RGB triple in [0, 1] (vectorisation is not needed for one colour)."""
    sector = int(hue * 6.0) % 6
    fraction = hue * 6.0 - math.floor(hue * 6.0)
    p_ = value * (1.0 - saturation)
    q_ = value * (1.0 - fraction * saturation)
    t_ = value * (1.0 - (1.0 - fraction) * saturation)
    return np.array([(value, t_, p_), (q_, value, p_), (p_, value, t_), (p_, q_, value),
                     (t_, p_, value), (value, p_, q_)][sector])


def sky_colors(scene: Scene, camera: PinholeCamera, pose: np.ndarray) -> np.ndarray:
    """Return an (H, W, 3) uint8 sky: horizon colour at and below the horizon, zenith above."""
    rows = (np.arange(camera.height, dtype=np.float64) - camera.cy) / camera.fy
    cols = (np.arange(camera.width, dtype=np.float64) - camera.cx) / camera.fx
    # World z component of each pixel's ray direction (rotation row 2 of world_from_camera).
    ray_z = pose[2, 0] * cols[None, :] + pose[2, 1] * rows[:, None] + pose[2, 2]
    ray_norm = np.sqrt(cols[None, :] ** 2 + rows[:, None] ** 2 + 1.0)
    elevation = np.clip(ray_z / ray_norm, 0.0, 1.0) ** 0.6  # sin(elevation), flattened
    horizon = np.asarray(scene.sky_horizon_rgb)
    zenith = np.asarray(scene.sky_zenith_rgb)
    sky = horizon + (zenith - horizon) * elevation[..., None]
    return np.clip(sky * 255.0 + 0.5, 0, 255).astype(np.uint8)
