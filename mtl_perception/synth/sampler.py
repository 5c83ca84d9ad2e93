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
Scene sampling: one seed -> one :class:`Scene` (camera, light, sky, which bodies go where).

The sampler only decides; it never touches PyBullet. Camera first (field of view, height,
pitch, roll, yaw), then stuff (ground with a texture, walls and boxes), then things placed where
the base camera sees them, each body's footprint kept clear of the others and of the camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

from mtl_perception.synth.catalog import (
    GROUND,
    OBJECT,
    PERSON,
    ROBOT,
    STRUCTURE,
    TABLE,
    THING_CLASSES,
    VEHICLE,
)
from mtl_perception.synth.scene_types import JOINT_SPHERICAL, Placement, PoolBody, Scene
from mtl_perception.synth.textures import hsv_to_rgb
import numpy as np

LIFT_M = 0.002  # bodies float 2 mm above what they stand on: no coplanar faces, no z-fighting


@dataclass(frozen=True)
class _Footprint:
    """An oriented rectangle on the ground: centre (2,), half sizes (2,), yaw."""

    centre: np.ndarray
    half: np.ndarray
    yaw: float

    def axes(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, s], [-s, c]])  # rows: the rectangle's x and y axes

    def overlaps(self, other: _Footprint, margin: float = 0.05) -> bool:
        """Separating-axis test of two oriented rectangles, grown by ``margin``."""
        axes_a, axes_b = self.axes(), other.axes()
        delta = other.centre - self.centre
        for axis in np.concatenate([axes_a, axes_b]):
            reach_a = np.abs(axes_a @ axis) @ self.half
            reach_b = np.abs(axes_b @ axis) @ other.half
            if abs(delta @ axis) > reach_a + reach_b + margin:
                return False
        return True


class SceneSampler:
    """Draws one :class:`Scene`: camera first, then stuff, then things placed in view."""

    def __init__(self, pool: Sequence[PoolBody], by_class: dict[int, list[int]], seed: int,
                 aspect: float, hfov_deg: float | None, min_distance_m: float,
                 camera_clearance_m: float, texture_count: int = 0) -> None:
        self.pool = pool
        self.by_class = by_class
        self.seed = int(seed)
        self.rng = np.random.default_rng(np.random.SeedSequence(self.seed))
        self.aspect = float(aspect)
        self.fixed_hfov = hfov_deg
        self.min_distance = float(min_distance_m)
        self.clearance = float(camera_clearance_m)
        self.texture_count = int(texture_count)
        self.footprints: list[_Footprint] = []
        self.placements: list[Placement] = []
        self.next_index: dict[int, int] = {}
        self.used: set[int] = set()

    def sample(self) -> Scene:
        rng = self.rng
        self.hfov = float(self.fixed_hfov if self.fixed_hfov is not None
                          else rng.uniform(42.0, 95.0))
        half_h = math.radians(self.hfov) / 2.0
        self.half_v = math.atan(math.tan(half_h) / self.aspect)
        self.half_h = half_h
        self.height = float(rng.uniform(0.3, 2.4))
        self.pitch = math.radians(rng.uniform(0.0, 35.0))
        self.yaw = float(rng.uniform(-math.pi, math.pi))
        roll = math.radians(float(np.clip(rng.normal(0.0, 3.0), -10.0, 10.0)))
        self.xy = rng.uniform(-3.0, 3.0, size=2)
        self.footprints.append(_Footprint(self.xy.copy(), np.full(2, self.clearance), 0.0))

        elevation = math.radians(rng.uniform(10.0, 85.0))
        azimuth = rng.uniform(-math.pi, math.pi)
        light_direction = (math.cos(elevation) * math.cos(azimuth),
                           math.cos(elevation) * math.sin(azimuth), math.sin(elevation))
        warm = rng.uniform(-0.25, 0.25)
        light_color = (1.0, 1.0 - abs(warm) * 0.5, 1.0 - warm - abs(warm) * 0.5)
        if rng.random() < 0.3:  # overcast or indoor-like: grey, low contrast
            zenith = np.full(3, rng.uniform(0.45, 0.9)) + rng.uniform(-0.05, 0.05, size=3)
            horizon = np.clip(zenith + rng.uniform(-0.1, 0.15), 0.0, 1.0)
        else:
            zenith = np.array([0.25, 0.45, 0.8]) + rng.uniform(-0.15, 0.15, size=3)
            horizon = np.clip(zenith + rng.uniform(0.15, 0.5), 0.0, 1.0)

        self._place_ground()
        for _ in range(int(rng.integers(1, 5))):
            self._place_box(wall=True)
        for _ in range(int(rng.integers(0, 4))):
            self._place_box(wall=False)
        counts = {TABLE: int(rng.integers(0, 3)), ROBOT: int(rng.integers(0, 4)),
                  VEHICLE: int(rng.integers(0, 3)), PERSON: int(rng.integers(0, 3)),
                  OBJECT: int(rng.integers(1, 6))}
        shortfall = 3 - sum(counts.values())
        if shortfall > 0:
            counts[OBJECT] += shortfall
        tables = [self._place_thing(TABLE) for _ in range(counts[TABLE])]
        for table in tables:
            if table is not None:
                for _ in range(int(rng.integers(0, 4))):
                    self._place_on_table(table)
        for class_id in (ROBOT, VEHICLE, PERSON, OBJECT):
            for _ in range(counts[class_id]):
                self._place_thing(class_id)

        return Scene(
            seed=self.seed, aspect=self.aspect, hfov_deg=self.hfov,
            camera_position=(float(self.xy[0]), float(self.xy[1]), self.height),
            camera_yaw=self.yaw, camera_pitch_down=self.pitch, camera_roll=roll,
            light_direction=light_direction, light_color=light_color,
            light_ambient=float(rng.uniform(0.3, 0.8)),
            light_diffuse=float(rng.uniform(0.2, 0.8)),
            light_specular=float(rng.uniform(0.0, 0.4)),
            sky_horizon_rgb=tuple(float(c) for c in horizon),
            sky_zenith_rgb=tuple(float(c) for c in np.clip(zenith, 0.0, 1.0)),
            placements=tuple(self.placements))

    # colours and joints
    def _colors(self, body: PoolBody) -> tuple[tuple[float, float, float, float], ...]:
        rng = self.rng
        mode = rng.random()
        base = hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.35, 1.0))
        colors = []
        for original in body.original_rgba:
            if mode < 0.35:  # one colour, shaded per link
                rgb = base * rng.uniform(0.75, 1.0)
            elif mode < 0.7:  # the model's own colours, tinted
                rgb = np.asarray(original[:3]) * (0.6 + 0.4 * base)
            else:  # every link its own colour
                rgb = hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.3, 1.0))
            colors.append((*(float(c) for c in np.clip(rgb, 0.0, 1.0)), 1.0))
        return tuple(colors)

    def _joints(self, body: PoolBody) -> tuple[tuple[float, ...], ...]:
        rng = self.rng
        values = []
        for _, joint_type, lower, upper in body.joints:
            noise = body.joint_noise
            if joint_type == JOINT_SPHERICAL:
                axis = rng.normal(size=3)
                axis /= max(np.linalg.norm(axis), 1e-9)
                angle = rng.uniform(0.0, noise * math.pi)
                values.append((*(axis * math.sin(angle / 2.0)), math.cos(angle / 2.0)))
            elif noise <= 0.0:
                values.append((0.0,))
            elif upper > lower:  # around the URDF's zero pose (the middle bends knees 90 deg)
                rest = min(max(0.0, lower), upper)
                value = rest + noise * rng.uniform(-0.5, 0.5) * (upper - lower)
                values.append((min(max(value, lower), upper),))
            else:  # continuous joint (wheels)
                values.append((noise * rng.uniform(-math.pi, math.pi),))
        return tuple(values)

    # placement
    def _add(self, index: int, position: np.ndarray, yaw: float, class_id: int,
             footprint: _Footprint | None,
             link_rgba: tuple[tuple[float, float, float, float], ...] | None = None,
             texture: int = -1) -> Placement:
        body = self.pool[index]
        if class_id in THING_CLASSES:
            instance_id = class_id * 1000 + self.next_index.get(class_id, 0)
            self.next_index[class_id] = self.next_index.get(class_id, 0) + 1
        else:
            instance_id = class_id
        placement = Placement(
            body=index, position=tuple(float(v) for v in position), yaw=float(yaw),
            joint_values=self._joints(body),
            link_rgba=self._colors(body) if link_rgba is None else link_rgba, class_id=class_id,
            instance_id=instance_id, texture=texture)
        self.placements.append(placement)
        self.used.add(index)
        if footprint is not None:
            self.footprints.append(footprint)
        return placement

    def _footprint(self, body: PoolBody, xy: np.ndarray, yaw: float) -> _Footprint:
        centre_local = 0.5 * (body.local_min[:2] + body.local_max[:2])
        c, s = math.cos(yaw), math.sin(yaw)
        centre = xy + np.array([c * centre_local[0] - s * centre_local[1],
                                s * centre_local[0] + c * centre_local[1]])
        return _Footprint(centre, 0.5 * (body.local_max[:2] - body.local_min[:2]), yaw)

    def _place_ground(self) -> None:
        index = self.by_class[GROUND][0]
        rng = self.rng
        tint = hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.4, 1.0))
        link_rgba = tuple((*(float(c) for c in tint), 1.0)
                          for _ in self.pool[index].visual_links)
        # Texture 0 is the ground's own checker; the others are procedural.
        texture = int(rng.integers(0, self.texture_count)) if self.texture_count else -1
        self._add(index, np.zeros(3), 0.0, GROUND, None, link_rgba, texture)

    def _free(self, class_id: int, wall: bool | None = None) -> list[int]:
        return [i for i in self.by_class.get(class_id, ()) if i not in self.used
                and (wall is None or self.pool[i].is_wall == wall)]

    def _in_view_ground_point(self, r_min: float, r_max: float,
                              spread: float = 0.85) -> tuple[np.ndarray, float]:
        """Return a ground point (x, y) that the base camera sees, and its bearing."""
        rng = self.rng
        bearing = rng.uniform(-1.0, 1.0) * self.half_h * spread
        lowest = math.atan2(self.height, r_max)
        highest = math.atan2(self.height, r_min)
        depression = rng.uniform(self.pitch - spread * self.half_v,
                                 self.pitch + spread * self.half_v)
        depression = min(max(depression, lowest), highest)
        distance = self.height / math.tan(depression) / max(math.cos(bearing), 0.3)
        heading = self.yaw + bearing
        return self.xy + distance * np.array([math.cos(heading), math.sin(heading)]), heading

    def _place_box(self, wall: bool) -> None:
        rng = self.rng
        free = self._free(STRUCTURE, wall)
        if not free:
            return
        index = int(rng.choice(free))
        body = self.pool[index]
        for _ in range(20):
            if wall:
                bearing = rng.uniform(-1.2, 1.2) * self.half_h
                distance = rng.uniform(6.0, 22.0)
                heading = self.yaw + bearing
                xy = self.xy + distance * np.array([math.cos(heading), math.sin(heading)])
                yaw = heading + math.pi / 2.0 + rng.uniform(-0.5, 0.5)
            else:
                xy, heading = self._in_view_ground_point(2.0, 15.0)
                yaw = rng.uniform(-math.pi, math.pi)
            footprint = self._footprint(body, xy, yaw)
            if not any(footprint.overlaps(other) for other in self.footprints):
                sink = 0.05 if wall else 0.02  # bottom below the ground: no coplanar faces
                position = np.array([xy[0], xy[1], -body.local_min[2] - sink])
                texture = -1
                if self.texture_count > 1 and rng.random() < 0.6:
                    texture = int(rng.integers(1, self.texture_count))
                self._add(index, position, yaw, STRUCTURE, footprint, texture=texture)
                return

    def _place_thing(self, class_id: int) -> Placement | None:
        rng = self.rng
        free = self._free(class_id)
        if not free:
            return None
        index = int(rng.choice(free))
        body = self.pool[index]
        r_max = 5.0 if class_id == OBJECT else 12.0
        for _ in range(20):
            xy, heading = self._in_view_ground_point(self.min_distance, r_max)
            yaw = rng.uniform(-math.pi, math.pi)
            footprint = self._footprint(body, xy, yaw)
            if not any(footprint.overlaps(other) for other in self.footprints):
                position = np.array([xy[0], xy[1], -body.local_min[2] + LIFT_M])
                return self._add(index, position, yaw, class_id, footprint)
        return None

    def _place_on_table(self, table: Placement) -> None:
        rng = self.rng
        free = [i for i in self._free(OBJECT) if self.pool[i].on_tables]
        if not free:
            return
        index = int(rng.choice(free))
        body = self.pool[index]
        table_body = self.pool[table.body]
        top_z = table.position[2] + table_body.local_max[2]
        half_object = 0.5 * np.max(body.local_max[:2] - body.local_min[:2])
        low = table_body.local_min[:2] + half_object
        high = table_body.local_max[:2] - half_object
        if np.any(high <= low):
            return
        c, s = math.cos(table.yaw), math.sin(table.yaw)
        for _ in range(10):
            local = rng.uniform(low, high)
            xy = np.array(table.position[:2]) + np.array([c * local[0] - s * local[1],
                                                          s * local[0] + c * local[1]])
            yaw = rng.uniform(-math.pi, math.pi)
            footprint = self._footprint(body, xy, yaw)
            # Only objects placed after the table can be in the way; the table itself is below.
            others = self.footprints[self._footprints_after(table):]
            if not any(footprint.overlaps(other, margin=0.01) for other in others):
                position = np.array([xy[0], xy[1], top_z - body.local_min[2] + LIFT_M])
                self._add(index, position, yaw, OBJECT, footprint)
                return

    def _footprints_after(self, placement: Placement) -> int:
        """
        Index of the first footprint added after ``placement``'s own.

        ``footprints[0]`` is the camera's disc and every placement but the ground (placement 0)
        adds one footprint, so placement k owns footprint k.
        """
        for index, other in enumerate(self.placements):
            if other is placement:
                return index + 1
        return len(self.footprints)
