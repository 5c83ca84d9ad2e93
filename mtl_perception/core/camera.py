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
Pinhole intrinsics and where pixel coordinates go when an image is cropped, binned or resized.

The one implementation of the pixel-centre convention: the pipeline rescales K with it when
the network's output is resized, and the CameraInfo conversion applies ROI, binning and
output resizing with it, so a frame's depth, its cloud and the CameraInfo published next to
them describe the same pixels.

Convention (the one ``cv2.resize`` and area binning follow): pixel (u, v) has its centre at
integer coordinates and the image spans [-0.5, W - 0.5] x [-0.5, H - 0.5]. Scaling by s maps
u to ``(u + 0.5) s - 0.5``, so ``fx' = s fx`` and ``cx' = (cx + 0.5) s - 0.5``, and the principal
point of an ideal camera is ``((W - 1) / 2, (H - 1) / 2)``. image_proc's resize and
image_geometry's binning use ``u' = u s`` instead (``half_pixel_centers=False``), which puts the
principal point ``(s - 1) / 2`` px away.

ROS-free: :class:`Intrinsics` is what ``mtl_perception.ros.conversions`` reads a CameraInfo into.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Intrinsics:
    """
    Pinhole intrinsics of the image a camera actually publishes.

    ``K`` (3, 3) float64 in pixels, ``width`` and ``height`` in pixels, the distortion model
    name and its coefficients ``D`` (n,) float64 as in ``sensor_msgs/CameraInfo``, the optical
    frame id, and the projection matrix ``P`` (3, 4) of the rectified image (all zeros when the
    CameraInfo leaves it unset). Binning and region of interest are already applied.
    """

    K: np.ndarray
    width: int
    height: int
    distortion_model: str
    D: np.ndarray
    frame_id: str
    P: np.ndarray = field(default_factory=lambda: np.zeros((3, 4)))

    @property
    def fx_px(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy_px(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx_px(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy_px(self) -> float:
        return float(self.K[1, 2])

    @property
    def f_norm(self) -> float:
        """Normalised horizontal focal length ``fx_px / width_px`` (docs/conventions.md)."""
        return self.fx_px / self.width


def pixel_map(scale_x: float, scale_y: float, *, half_pixel_centers: bool = True
              ) -> np.ndarray:
    """
    Return the 3x3 map of pixel coordinates under a resize by (``scale_x``, ``scale_y``).

    With half-pixel centres (the default: ``cv2.resize``, area binning) pixel centres sit at
    integer coordinates and the image edges at -0.5, so ``u' = (u + 0.5) s - 0.5``; without,
    ``u' = u s`` (image_proc's resize, image_geometry's binning). Left-multiplying K (3, 3) or
    P (3, 4) by the map gives the matrix of the resized image.
    """
    shift_x = 0.5 * scale_x - 0.5 if half_pixel_centers else 0.0
    shift_y = 0.5 * scale_y - 0.5 if half_pixel_centers else 0.0
    return np.array([[scale_x, 0.0, shift_x], [0.0, scale_y, shift_y], [0.0, 0.0, 1.0]])


def scale_pixel_points(points_px: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """
    Return (N, 2) pixel coordinates (u, v) in the image resized by (``scale_x``, ``scale_y``).

    The same half-pixel-centre convention as :func:`pixel_map`: ``u' = (u + 0.5) s - 0.5``.
    """
    points = np.asarray(points_px)
    scale = np.array([scale_x, scale_y], dtype=points.dtype if points.dtype.kind == 'f'
                     else np.float64)
    return (points + 0.5) * scale - 0.5


def crop_map(x_offset: float, y_offset: float) -> np.ndarray:
    """Return the 3x3 map of pixel coordinates into a region whose corner is at the offsets."""
    return np.array([[1.0, 0.0, -x_offset], [0.0, 1.0, -y_offset], [0.0, 0.0, 1.0]])


def scale_intrinsics(camera_matrix: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """
    Return camera matrix K for the image resized by ``sx`` (width) and ``sy`` (height).

    ``fx' = sx fx``, ``fy' = sy fy``, skew ``s' = sx s``, ``cx' = (cx + 0.5) sx - 0.5``,
    ``cy' = (cy + 0.5) sy - 0.5`` (:func:`pixel_map` with half-pixel centres, as ``cv2.resize``).
    """
    K = np.asarray(camera_matrix, dtype=np.float64)
    if K.shape != (3, 3):
        raise ValueError(f'K must be 3x3, got shape {K.shape}')
    if not sx > 0 or not sy > 0:
        raise ValueError(f'scale factors must be positive, got sx={sx}, sy={sy}')
    return pixel_map(sx, sy) @ K


def resize_intrinsics(camera_matrix: np.ndarray, from_size: tuple[int, int],
                      to_size: tuple[int, int]) -> np.ndarray:
    """Return K for an image resized from ``from_size`` to ``to_size``, both (width, height)."""
    return scale_intrinsics(camera_matrix, to_size[0] / from_size[0], to_size[1] / from_size[1])
