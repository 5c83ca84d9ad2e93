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
The records of the scene generator: pool bodies, placements, scenes and rendered frames.

Plain dataclasses shared by the sampler (which draws a :class:`Scene` from a seed) and the
renderer (which poses the pool for it and renders a :class:`Frame` with ground truth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mtl_perception.synth.camera import camera_pose, PinholeCamera
import numpy as np

JOINT_REVOLUTE, JOINT_PRISMATIC, JOINT_SPHERICAL = 0, 1, 2
"""PyBullet's joint type codes, as stored in :attr:`PoolBody.joints`."""


@dataclass
class PoolBody:
    """One loaded body of the pool and what placing it needs, measured once at load time."""

    uid: int
    name: str
    class_id: int
    base_quat: np.ndarray  # (4,) x, y, z, w: turns the model z-up
    local_min: np.ndarray  # (3,) AABB at the origin with the base orientation
    local_max: np.ndarray  # (3,)
    joints: tuple[tuple[int, int, float, float], ...]  # (index, type, lower, upper)
    visual_links: tuple[int, ...]
    original_rgba: tuple[tuple[float, float, float, float], ...]  # per visual link
    joint_noise: float = 0.0
    on_tables: bool = False
    is_wall: bool = False
    floor_at_origin: bool = False


@dataclass(frozen=True)
class Placement:
    """Where one pool body goes in a scene, how it is posed and coloured, and its labels."""

    body: int  # index into the pool
    position: tuple[float, float, float]
    yaw: float
    joint_values: tuple[tuple[float, ...], ...]  # per pool joint: (angle,) or a quaternion
    link_rgba: tuple[tuple[float, float, float, float], ...]  # per visual link
    class_id: int
    instance_id: int  # class * 1000 + index for things, the class id for stuff
    texture: int = -1  # ground and structure only: index into the renderer's textures, -1 none


@dataclass(frozen=True)
class Scene:
    """Everything random about one scene; sampled from a seed by :meth:`SceneRenderer.sample`."""

    seed: int
    aspect: float
    hfov_deg: float
    camera_position: tuple[float, float, float]
    camera_yaw: float
    camera_pitch_down: float
    camera_roll: float
    light_direction: tuple[float, float, float]
    light_color: tuple[float, float, float]
    light_ambient: float
    light_diffuse: float
    light_specular: float
    sky_horizon_rgb: tuple[float, float, float]
    sky_zenith_rgb: tuple[float, float, float]
    placements: tuple[Placement, ...]

    def camera_pose(self) -> np.ndarray:
        """Return the scene's base camera pose, ``world_from_camera`` (4x4)."""
        return camera_pose(self.camera_position, self.camera_yaw, self.camera_pitch_down,
                           self.camera_roll)


@dataclass(frozen=True)
class InstanceInfo:
    """One thing instance of a frame (visible or not) and its world-frame AABB."""

    instance_id: int
    class_id: int
    model: str
    aabb_min: tuple[float, float, float]
    aabb_max: tuple[float, float, float]
    pixels: int


@dataclass
class Frame:
    """One rendered image with exact ground truth (conventions in docs/conventions.md)."""

    rgb: np.ndarray  # (H, W, 3) uint8
    semantic: np.ndarray  # (H, W) uint8 SYNTH_CLASSES ids (255 never occurs)
    instance_ids: np.ndarray  # (H, W) int32: class * 1000 + index for things, class id for stuff
    depth_m: np.ndarray  # (H, W) float32 z-depth in metres, NaN for sky
    camera: PinholeCamera
    world_from_camera: np.ndarray  # (4, 4), optical frame (x right, y down, z forward)
    instances: tuple[InstanceInfo, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def K(self) -> np.ndarray:  # noqa: N802 - the usual name of the camera matrix
        return self.camera.K
