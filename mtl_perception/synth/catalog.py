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
What the generated scenes are made of: PyBullet models, their classes, scales and poses.

Every entry is loaded once per renderer, in this order, with one body per scale (the *pool*).
Frames move pool bodies into place and park the unused ones; they never load or remove a body,
so the PyBullet world before each frame, body ids included, is a function of the frame's seed
alone (see ``renderer.py``). Paths are relative to ``pybullet_data.getDataPath()``.

Class ids are those of :data:`mtl_perception.core.classes.SYNTH_CLASSES`.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

SKY, GROUND, STRUCTURE, TABLE, ROBOT, VEHICLE, PERSON, OBJECT = range(8)
THING_CLASSES = (TABLE, ROBOT, VEHICLE, PERSON, OBJECT)


@dataclass(frozen=True)
class ModelSpec:
    """One URDF model of the catalogue, loaded once per entry of ``scales``."""

    name: str
    urdf: str
    class_id: int
    scales: tuple[float, ...] = (1.0,)
    base_rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)  # makes the model z-up
    joint_noise: float = 0.0  # fraction of each joint's range drawn at random per frame
    on_tables: bool = False  # small enough to stand on a table top
    floor_at_origin: bool = False  # visuals reach down to the origin below the collision shapes


@dataclass(frozen=True)
class BoxSpec:
    """A box body of the structure class: a wall (long and thin) or a block."""

    name: str
    half_extents: tuple[float, float, float]
    is_wall: bool


GROUND_URDF = 'plane.urdf'
GROUND_SCALE = 0.35
"""``plane.urdf``'s visual quad is 200 m square; scaled, the world ends 35 m from the origin."""

WORLD_HALF_SIZE_M = 100.0 * GROUND_SCALE

MODELS: tuple[ModelSpec, ...] = (
    # table.urdf's legs are visual only (its one collision box is the top): stand it on its
    # origin, not on its collision box, and extend its bounding box down to the floor.
    ModelSpec('table', 'table/table.urdf', TABLE, scales=(1.0, 0.8), floor_at_origin=True),
    ModelSpec('table_square', 'table_square/table_square.urdf', TABLE, scales=(1.2,)),
    ModelSpec('r2d2', 'r2d2.urdf', ROBOT, scales=(1.0, 0.7)),
    ModelSpec('kuka_iiwa', 'kuka_iiwa/model.urdf', ROBOT, joint_noise=0.5),
    ModelSpec('franka_panda', 'franka_panda/panda.urdf', ROBOT, joint_noise=0.5),
    ModelSpec('xarm6', 'xarm/xarm6_robot.urdf', ROBOT, scales=(1.5,), joint_noise=0.4),
    ModelSpec('laikago', 'laikago/laikago_toes_zup.urdf', ROBOT, scales=(1.2,)),
    ModelSpec('a1', 'a1/a1.urdf', ROBOT, scales=(1.3,)),
    ModelSpec('racecar', 'racecar/racecar.urdf', VEHICLE, scales=(2.5, 2.0), joint_noise=1.0),
    ModelSpec('husky', 'husky/husky.urdf', VEHICLE, scales=(1.0, 1.3), joint_noise=1.0),
    ModelSpec('humanoid', 'humanoid/humanoid.urdf', PERSON, scales=(0.27, 0.26, 0.24),
              base_rpy=(math.pi / 2, 0.0, 0.0), joint_noise=0.06),
    ModelSpec('duck', 'duck_vhacd.urdf', OBJECT, scales=(3.0, 2.0), on_tables=True),
    ModelSpec('teddy', 'teddy_vhacd.urdf', OBJECT, scales=(3.0, 2.0), on_tables=True),
    ModelSpec('lego', 'lego/lego.urdf', OBJECT, scales=(6.0,), on_tables=True),
    ModelSpec('jenga', 'jenga/jenga.urdf', OBJECT, scales=(2.5,), on_tables=True),
    ModelSpec('cube_small', 'cube_small.urdf', OBJECT, scales=(5.0, 3.0), on_tables=True),
    ModelSpec('sphere', 'sphere2.urdf', OBJECT, scales=(0.3, 0.2), on_tables=True),
    ModelSpec('soccerball', 'soccerball.urdf', OBJECT, scales=(0.3,), on_tables=True),
    ModelSpec('mug', 'objects/mug.urdf', OBJECT, scales=(2.5,), on_tables=True),
    ModelSpec('traybox', 'tray/traybox.urdf', OBJECT, scales=(0.8,), on_tables=True),
) + tuple(
    ModelSpec(f'random_{index:03d}', f'random_urdfs/{index:03d}/{index:03d}.urdf', OBJECT,
              scales=(3.0,), on_tables=True)
    for index in range(12)
)

BOXES: tuple[BoxSpec, ...] = (
    BoxSpec('wall_a', (3.0, 0.15, 1.5), True),
    BoxSpec('wall_b', (5.0, 0.15, 1.25), True),
    BoxSpec('wall_c', (2.0, 0.2, 1.75), True),
    BoxSpec('wall_d', (4.0, 0.2, 2.0), True),
    BoxSpec('wall_e', (6.0, 0.15, 1.5), True),
    BoxSpec('wall_f', (2.5, 0.12, 1.1), True),
    BoxSpec('block_a', (0.5, 0.5, 0.5), False),
    BoxSpec('block_b', (0.3, 0.4, 0.6), False),
    BoxSpec('block_c', (0.75, 0.5, 0.4), False),
    BoxSpec('block_d', (0.25, 0.25, 1.0), False),
    BoxSpec('block_e', (1.0, 0.3, 0.5), False),
    BoxSpec('block_f', (0.4, 0.4, 0.4), False),
)
