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
A moving camera over one fixed scene: the frames of a drive, for bags and the simulated camera.

A :class:`SceneSequence` samples one scene from a seed (things kept clear of the camera's
path) and renders it with the shared :class:`~mtl_perception.synth.renderer.SceneRenderer`
from a smooth, closed camera path, so ``mtl_synth --bag`` and ``sim_camera`` stream frames
whose ground truth is exact at every time step.
"""

from __future__ import annotations

from collections.abc import Iterator
import math

from mtl_perception.synth.camera import camera_pose, PinholeCamera
from mtl_perception.synth.renderer import SceneRenderer, shared_renderer
from mtl_perception.synth.scene_types import Frame
import numpy as np


class SceneSequence:
    """
    One fixed scene seen by a camera that sways smoothly around the scene's base pose.

    The camera moves on a closed, smooth path (period ``period_s``): sideways and, a quarter as
    far, forwards and back, never more than ``sway_m`` from the base position, with +-12
    degrees of yaw and +-3 degrees of pitch, so a stream of frames looks like a slowly panning
    robot head. Things stay at least ``max(2, 2 sway_m)`` metres from the base position.
    """

    def __init__(self, seed: int, width: int, height: int, hfov_deg: float | None = None,
                 period_s: float = 20.0, sway_m: float = 0.6,
                 renderer: SceneRenderer | None = None) -> None:
        if width <= 0 or height <= 0:
            raise ValueError(f'image size must be positive, got {width}x{height}')
        if not period_s > 0:
            raise ValueError(f'period_s must be positive, got {period_s}')
        self.width, self.height = int(width), int(height)
        self.period_s = float(period_s)
        self.sway_m = float(sway_m)
        self.renderer = renderer or shared_renderer()
        self.scene = self.renderer.sample(seed, width, height, hfov_deg,
                                          min_distance_m=max(2.0, 2.0 * sway_m),
                                          camera_clearance_m=1.5 * sway_m + 0.3)

    @property
    def camera(self) -> PinholeCamera:
        return PinholeCamera.from_hfov(self.width, self.height, self.scene.hfov_deg,
                                       self.renderer.near_m, self.renderer.far_m)

    def pose(self, t: float) -> np.ndarray:
        """Return ``world_from_camera`` at time ``t`` seconds."""
        scene = self.scene
        phase = 2.0 * math.pi * t / self.period_s
        yaw = scene.camera_yaw + math.radians(12.0) * math.sin(phase)
        pitch = scene.camera_pitch_down + math.radians(3.0) * math.sin(2.0 * phase + 1.0)
        side = 0.95 * self.sway_m * math.sin(phase + 0.7)  # with ahead: |offset| < sway_m
        ahead = 0.25 * self.sway_m * math.sin(2.0 * phase)
        base_yaw = scene.camera_yaw
        forward = np.array([math.cos(base_yaw), math.sin(base_yaw), 0.0])
        left = np.array([-math.sin(base_yaw), math.cos(base_yaw), 0.0])
        position = np.asarray(scene.camera_position) + side * left + ahead * forward
        return camera_pose(position, yaw, pitch, scene.camera_roll)

    def render(self, t: float) -> Frame:
        """Render the scene at time ``t`` seconds."""
        frame = self.renderer.render(self.scene, self.width, self.height, self.pose(t))
        frame.metadata['time_s'] = float(t)
        return frame

    def frames(self, count: int, rate_hz: float = 10.0) -> Iterator[Frame]:
        """Yield ``count`` frames at ``rate_hz`` starting at t = 0."""
        for step in range(count):
            yield self.render(step / rate_hz)
