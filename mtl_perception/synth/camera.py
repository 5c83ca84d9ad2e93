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
The synthetic camera: a pinhole with square pixels, and its OpenGL matrices for PyBullet.

Camera model. ``fx = fy = (W / 2) / tan(hfov / 2)`` from the horizontal field of view; the
vertical field of view PyBullet needs follows from it (``2 atan((H / 2) / fy)``). The principal
point defaults to the image centre ``((W - 1) / 2, (H - 1) / 2)`` in the project's pixel-centre
convention (pixel (u, v) has its centre at integer coordinates, see ``core/geometry.py``), so
the synthetic K is what ``geometry.default_camera_matrix`` would give for that focal length.

PyBullet's TinyRenderer samples column ``c`` at the screen x coordinate ``c`` and row ``r`` at
the (upwards) screen y coordinate ``H - 1 - r``; a symmetric ``gluPerspective`` matrix would
put the principal point at ``(W / 2, H / 2 - 1)``. :func:`projection_matrix` therefore adds the
off-axis terms that move it to the requested ``(cx, cy)`` (the tests render a plane edge at a
known sub-pixel position and check the first covered pixel, on both axes).

Depth. The renderer's depth buffer holds OpenGL window depth ``b`` in [0, 1]; the z-depth in
metres is ``near * far / (far - (far - near) * b)``. ``b == 1`` is the cleared background (no
body hit, beyond the far plane): sky.

Frames. The world is z-up, metres. Camera poses are ``world_from_camera`` 4x4 matrices whose
rotation columns are the optical axes (REP 103: x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    """Intrinsics and clipping planes of one rendered view (pixel-centre convention above)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    near_m: float = 0.05
    far_m: float = 100.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'image size must be positive, got {self.width}x{self.height}')
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f'focal lengths must be positive, got fx={self.fx}, fy={self.fy}')
        if not 0 < self.near_m < self.far_m:
            raise ValueError(f'need 0 < near < far, got near={self.near_m}, far={self.far_m}')

    @classmethod
    def from_hfov(cls, width: int, height: int, hfov_deg: float, near_m: float = 0.05,
                  far_m: float = 100.0) -> PinholeCamera:
        """Square pixels, centred principal point, focal length from the horizontal FOV."""
        if not 0.0 < hfov_deg < 180.0:
            raise ValueError(f'horizontal field of view must be in (0, 180) deg, got {hfov_deg}')
        focal = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(width=int(width), height=int(height), fx=focal, fy=focal,
                   cx=(width - 1) / 2.0, cy=(height - 1) / 2.0, near_m=near_m, far_m=far_m)

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name of the camera matrix
        """Return the 3x3 camera matrix (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def hfov_deg(self) -> float:
        return math.degrees(2.0 * math.atan((self.width / 2.0) / self.fx))

    @property
    def vfov_deg(self) -> float:
        """Vertical field of view, the angle PyBullet's ``computeProjectionMatrixFOV`` takes."""
        return math.degrees(2.0 * math.atan((self.height / 2.0) / self.fy))


def projection_matrix(camera: PinholeCamera) -> list[float]:
    """
    Return the OpenGL projection matrix (16 floats, column-major) for PyBullet.

    The diagonal is ``gluPerspective``'s; the third-column terms shift the principal point from
    TinyRenderer's ``(W / 2, H / 2 - 1)`` to ``(cx, cy)`` (see the module docstring).
    """
    width, height = camera.width, camera.height
    near, far = camera.near_m, camera.far_m
    shift_x = (width - 2.0 * camera.cx) / width
    shift_y = 2.0 * (camera.cy - height / 2.0 + 1.0) / height
    matrix = np.array([
        [2.0 * camera.fx / width, 0.0, shift_x, 0.0],
        [0.0, 2.0 * camera.fy / height, shift_y, 0.0],
        [0.0, 0.0, (far + near) / (near - far), 2.0 * far * near / (near - far)],
        [0.0, 0.0, -1.0, 0.0],
    ])
    return matrix.T.reshape(-1).tolist()


_GL_FROM_OPTICAL = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenGL camera: x right, y up, z back


def view_matrix(world_from_camera: np.ndarray) -> list[float]:
    """Return the OpenGL view matrix (16 floats, column-major) of an optical-frame camera pose."""
    pose = np.asarray(world_from_camera, dtype=np.float64)
    if pose.shape != (4, 4):
        raise ValueError(f'world_from_camera must be 4x4, got {pose.shape}')
    gl_from_world = _GL_FROM_OPTICAL @ np.linalg.inv(pose)
    return gl_from_world.T.reshape(-1).tolist()


def camera_pose(position: np.ndarray | tuple[float, float, float], yaw_rad: float,
                pitch_down_rad: float, roll_rad: float = 0.0) -> np.ndarray:
    """
    Return ``world_from_camera`` (4x4) of a camera at ``position`` in a z-up world.

    ``yaw_rad`` is the heading of the optical axis in the ground plane (0 = +x, counter-
    clockwise), ``pitch_down_rad`` tilts it down towards the ground, ``roll_rad`` turns the
    image clockwise about the optical axis.
    """
    cos_yaw, sin_yaw = math.cos(yaw_rad), math.sin(yaw_rad)
    cos_pitch, sin_pitch = math.cos(pitch_down_rad), math.sin(pitch_down_rad)
    forward = np.array([cos_pitch * cos_yaw, cos_pitch * sin_yaw, -sin_pitch])
    right = np.array([sin_yaw, -cos_yaw, 0.0])
    down = np.cross(forward, right)
    cos_roll, sin_roll = math.cos(roll_rad), math.sin(roll_rad)
    x_axis = cos_roll * right + sin_roll * down
    y_axis = cos_roll * down - sin_roll * right
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2] = x_axis, y_axis, forward
    pose[:3, 3] = np.asarray(position, dtype=np.float64)
    return pose


def depth_from_buffer(depth_buffer: np.ndarray, near_m: float, far_m: float) -> np.ndarray:
    """Return z-depth in metres (float32) from OpenGL window depth; NaN at the far plane (sky)."""
    buffer = np.asarray(depth_buffer, dtype=np.float64)
    depth = far_m * near_m / (far_m - (far_m - near_m) * buffer)
    depth[buffer >= 1.0] = np.nan
    return depth.astype(np.float32)


def project_points(points_world: np.ndarray, K: np.ndarray,  # noqa: N803
                   world_from_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return pixel coordinates (N, 2) and z-depths (N,) of world points seen by a camera."""
    points = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
    camera_from_world = np.linalg.inv(np.asarray(world_from_camera, dtype=np.float64))
    in_camera = points @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    z = in_camera[:, 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        pixels = (in_camera @ np.asarray(K, dtype=np.float64).T)[:, :2] / z[:, None]
    return pixels, z
