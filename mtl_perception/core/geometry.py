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
Camera geometry: canonical inverse depth to metres and back, 3-D points from depth.

Depth from one image depends on the lens: the same picture of an object means a nearer object
through a wider lens. The network therefore predicts inverse depth for a *canonical camera*
with normalised focal length ``f_canon`` (docs/conventions.md): an object of apparent size
``a`` (a fraction of the image width) and physical size ``S`` is at ``Z = S f_norm / a``, so
``Z f_canon / f_norm = S f_canon / a`` depends on what the image shows alone. That canonical
depth, inverted, is what the network learns. An image's normalised focal
length ``f_norm = fx_px / width_px`` is the tangent-of-half-field-of-view in disguise, and it
does not change when the image is resized (fx and the width scale together). Hence:

- the network runs at its own input resolution, but the runtime camera's ``f_norm`` is the same
  at every resolution, so ``depth_m = f_norm / (f_canon * inverse_depth)`` holds at network
  resolution and after the output is resized back to the camera's resolution alike;
- a camera with different intrinsics from the training data (another lens) is handled by the
  same formula: ``f_norm`` of the runtime camera, from its CameraInfo, rescales the canonical
  prediction. Cropping, in contrast, changes ``f_norm`` (the width shrinks, fx does not): use
  the cropped image's width.

Pixel centres sit at integer coordinates (the convention of :mod:`mtl_perception.core.camera`,
which also scales K when an image is resized): the image spans [-0.5, W - 0.5] x
[-0.5, H - 0.5], and the principal point of an ideal camera is ``((W - 1) / 2, (H - 1) / 2)``.

Points are in the camera optical frame (REP 103): z forward, x right, y down, metres. Depth is
the z coordinate (REP 118 depth images), not the distance along the ray, and every range limit
here (``max_range_m``) applies to z as well, so the depth image and the point cloud keep the
same points.
"""

from __future__ import annotations

import functools

import numpy as np

DEFAULT_MIN_INVERSE_DEPTH = 1e-3
"""Canonical inverse depth (1/m) at or below which a pixel is at infinity (sky): 1 km."""


def f_norm(fx_px: float, width_px: float) -> float:
    """Return the normalised horizontal focal length ``fx_px / width_px``."""
    if not fx_px > 0 or not width_px > 0:
        raise ValueError(f'fx_px ({fx_px}) and width_px ({width_px}) must be positive')
    return float(fx_px) / float(width_px)


def canonical_inverse_depth_to_depth_m(inverse_depth: np.ndarray, fx_px: float,
                                       width_px: float, f_canon: float = 1.0,
                                       min_inverse_depth: float = DEFAULT_MIN_INVERSE_DEPTH,
                                       max_range_m: float | None = None) -> np.ndarray:
    """
    Return metric depth (float32, same shape) from canonical inverse depth in 1/m.

    ``depth_m = f_norm / (f_canon * inverse_depth)`` with ``f_norm = fx_px / width_px`` of the
    image the inverse depth belongs to (any resize of the camera image gives the same ratio).
    NaN where the inverse depth is not finite, at or below ``min_inverse_depth`` (sky and other
    points at infinity, which the network predicts as 0) or beyond ``max_range_m``.
    """
    scale = f_norm(fx_px, width_px) / f_canon
    inverse = np.asarray(inverse_depth, dtype=np.float32)
    valid = np.isfinite(inverse) & (inverse > max(float(min_inverse_depth), 0.0))
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.where(valid, np.float32(scale) / inverse, np.float32(np.nan))
    if max_range_m is not None:
        depth[depth > max_range_m] = np.nan
    return depth.astype(np.float32, copy=False)


def depth_m_to_canonical_inverse_depth(depth_m: np.ndarray, fx_px: float, width_px: float,
                                       f_canon: float = 1.0) -> np.ndarray:
    """
    Return canonical inverse depth (float32, 1/m) from metric depth: the training target.

    ``inverse_depth = (1 / depth_m) * f_norm / f_canon``. Infinite depth (sky) gives 0, a valid
    target; NaN, zero or negative depth gives NaN (no target).
    """
    scale = f_norm(fx_px, width_px) / f_canon
    depth = np.asarray(depth_m, dtype=np.float64)
    valid = depth > 0  # False for NaN as well
    with np.errstate(divide='ignore', invalid='ignore'):
        inverse = np.where(valid, scale / depth, np.nan)
    return inverse.astype(np.float32)


def default_camera_matrix(width: int, height: int, f_canon: float = 1.0) -> np.ndarray:
    """
    Return K (3x3 float64) of the canonical camera at this size: ``fx = fy = f_canon W``.

    The principal point is the image centre, ``((W - 1) / 2, (H - 1) / 2)`` with pixel centres
    at integer coordinates. Used when no CameraInfo is known.
    """
    focal = float(f_canon) * float(width)
    return np.array([[focal, 0.0, (width - 1) / 2.0],
                     [0.0, focal, (height - 1) / 2.0],
                     [0.0, 0.0, 1.0]])


def backproject(depth_m: np.ndarray, camera_matrix: np.ndarray, max_range_m: float | None = None
                ) -> np.ndarray:
    """
    Return (H, W, 3) float32 points in the optical frame from a z-depth image in metres.

    ``x = (u - cx - s (v - cy) / fy) z / fx``, ``y = (v - cy) z / fy``, ``z = depth``. Pixels
    with non-finite, zero or negative depth, or depth beyond ``max_range_m``, are NaN in all
    three coordinates, so one finiteness test on any coordinate finds the valid points.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f'depth_m must be (H, W), got shape {depth.shape}')
    K = np.asarray(camera_matrix, dtype=np.float64)
    if K.shape != (3, 3) or not K[0, 0] > 0 or not K[1, 1] > 0:
        raise ValueError(f'K must be a 3x3 pinhole matrix with positive focal lengths, got {K}')
    height, width = depth.shape
    fx, fy, skew, cx, cy = K[0, 0], K[1, 1], K[0, 1], K[0, 2], K[1, 2]
    ray_y = ((np.arange(height) - cy) / fy).astype(np.float32)[:, None]  # (H, 1)
    ray_x = ((np.arange(width) - cx) / fx).astype(np.float32)[None, :]  # (1, W)
    valid = np.isfinite(depth) & (depth > 0)
    if max_range_m is not None:
        valid &= depth <= max_range_m
    z = np.where(valid, depth, np.float32(np.nan))
    points = np.empty((height, width, 3), dtype=np.float32)
    points[..., 0] = z * ray_x
    if skew != 0.0:
        points[..., 0] -= z * (np.float32(skew / fx) * ray_y)
    points[..., 1] = z * ray_y
    points[..., 2] = z
    return points


@functools.lru_cache(maxsize=8)
def _rays(K_bytes: bytes, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    K = np.frombuffer(K_bytes, dtype=np.float64).reshape(3, 3)
    ray_x = ((np.arange(width) - K[0, 2]) / K[0, 0]).astype(np.float32)  # (W,)
    ray_y = ((np.arange(height) - K[1, 2]) / K[1, 1]).astype(np.float32)  # (H,)
    ray_x.flags.writeable = ray_y.flags.writeable = False
    return ray_x, ray_y


def pixel_rays(camera_matrix: np.ndarray, width: int, height: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """
    Return ``(u - cx) / fx`` per column (W,) and ``(v - cy) / fy`` per row (H,), float32.

    Cached per (K, size): a camera's CameraInfo rarely changes, so the tables are built once
    per camera, not once per frame. The arrays are read-only.
    """
    K = np.ascontiguousarray(camera_matrix, dtype=np.float64)
    if K.shape != (3, 3) or not K[0, 0] > 0 or not K[1, 1] > 0:
        raise ValueError(f'K must be a 3x3 pinhole matrix with positive focal lengths, got {K}')
    return _rays(K.tobytes(), int(width), int(height))


def backproject_pixels(rows: np.ndarray, columns: np.ndarray, depth_m: np.ndarray,
                       camera_matrix: np.ndarray, width: int, height: int) -> np.ndarray:
    """
    Return (N, 3) float32 optical-frame points of the pixels (``rows``, ``columns``).

    ``depth_m`` (N,) is their z-depth; the formula is :func:`backproject`'s, applied to the
    chosen pixels only (a cloud keeps a few percent of a frame's pixels). ``width`` and
    ``height`` are the image's, for the cached ray tables.
    """
    K = np.asarray(camera_matrix, dtype=np.float64)
    ray_x, ray_y = pixel_rays(K, width, height)
    z = np.asarray(depth_m, dtype=np.float32)
    points = np.empty((z.shape[0], 3), dtype=np.float32)
    along_y = ray_y[rows]
    points[:, 0] = z * ray_x[columns]
    if K[0, 1] != 0.0:
        points[:, 0] -= z * (np.float32(K[0, 1] / K[0, 0]) * along_y)
    points[:, 1] = z * along_y
    points[:, 2] = z
    return points
