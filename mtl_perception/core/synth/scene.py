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
Random PyBullet scenes rendered with exact semantic, instance and depth ground truth.

A :class:`SceneRenderer` owns one PyBullet client (``DIRECT``, CPU TinyRenderer) and loads the
whole catalogue once, in a fixed order: the *pool* (``catalog.py``). Loading URDFs is the slow
part (tens of ms per mesh model); moving a loaded body is not. A frame therefore samples a
:class:`Scene` from its seed (camera, light, colours, which pool bodies go where, joint angles),
moves those bodies into place and parks all others 500 m below the ground, beyond the far
plane, with alpha 0 (TinyRenderer then skips them: parked bodies would otherwise cost half the
render time). Nothing is ever loaded or removed after start-up, so the world a frame is
rendered in, body ids and draw order included, depends on the seed only: any worker renders
the same pixels.

Ground truth comes from the renderer itself: ``getCameraImage`` with
``ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX`` gives each pixel's body, mapped to a class and to
an instance id (``class * 1000 + index`` for thing bodies; a multi-link robot is one instance
because the map goes by body, not link), and the depth buffer gives z-depth in metres
(``camera.py``).

Sky. The ground is a 70 m square (``catalog.GROUND_SCALE``) and the camera stays within 3 m of
its centre, so every point of the world is nearer than 60 m, well inside the 100 m far plane:
no surface is ever clipped. A pixel that sees no body looks past the edge of the world (or up)
and is sky: class 0, no depth (NaN), inverse depth 0. Near the horizon the world's edge shows
as a thin band of sky below the horizon line; walls often hide it.

Light is one directional light with random direction, colour and ambient/diffuse/specular
coefficients. Shadows stay off: TinyRenderer's shadow map draws acne rather than shadows at
these scales and doubles the render time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
from dataclasses import dataclass, field
import math
import os
from typing import Any

from mtl_perception.core.synth.camera import (
    camera_pose,
    depth_from_buffer,
    PinholeCamera,
    projection_matrix,
    view_matrix,
)
from mtl_perception.core.synth.catalog import (
    BOXES,
    BoxSpec,
    GROUND,
    GROUND_SCALE,
    GROUND_URDF,
    MODELS,
    ModelSpec,
    OBJECT,
    PERSON,
    ROBOT,
    STRUCTURE,
    TABLE,
    THING_CLASSES,
    VEHICLE,
)
import numpy as np

GENERATOR_VERSION = 'mtl_synth/2'  # 2: textures, wider camera, light and sky ranges
TEXTURE_COUNT = 32
"""Procedural textures (plus the ground's own checker) for the ground and the walls."""
PARK_Z_M = -500.0
LIFT_M = 0.002  # bodies float 2 mm above what they stand on: no coplanar faces, no z-fighting
UNKNOWN = 255

_JOINT_REVOLUTE, _JOINT_PRISMATIC, _JOINT_SPHERICAL = 0, 1, 2


@contextlib.contextmanager
def _quiet_c_output() -> Iterator[None]:
    """Silence file descriptors 1 and 2 while PyBullet's C++ loader prints its warnings."""
    saved: list[tuple[int, int]] = []
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


def _import_pybullet() -> tuple[Any, str]:
    """Import PyBullet lazily (it prints a banner on import) and return it with its data path."""
    try:
        with _quiet_c_output():
            import pybullet
            import pybullet_data
    except ImportError as error:
        raise ImportError('the scene generator needs PyBullet: pip install pybullet '
                          "(or the package's [synth] extra)") from error
    return pybullet, pybullet_data.getDataPath()


# --- small geometry helpers -----------------------------------------------------------------

def _quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of quaternions in PyBullet's (x, y, z, w) order."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz])


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)])


def _rpy_quat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Quaternion of ``Rz(yaw) Ry(pitch) Rx(roll)``, PyBullet's Euler convention."""
    qx = np.array([math.sin(roll / 2.0), 0.0, 0.0, math.cos(roll / 2.0)])
    qy = np.array([0.0, math.sin(pitch / 2.0), 0.0, math.cos(pitch / 2.0)])
    return _quat_multiply(_yaw_quat(yaw), _quat_multiply(qy, qx))


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


# --- the pool -------------------------------------------------------------------------------

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


# --- the renderer ---------------------------------------------------------------------------

class SceneRenderer:
    """
    One PyBullet client with the catalogue loaded; samples, poses and renders scenes.

    Not thread-safe; use one per process (``render_frame`` keeps one per process for you).
    Start-up loads the pool (about 1-3 s, meshes are parsed once per process).
    """

    def __init__(self, near_m: float = 0.05, far_m: float = 100.0) -> None:
        self.near_m = float(near_m)
        self.far_m = float(far_m)
        self._p, data_path = _import_pybullet()
        self.client = self._p.connect(self._p.DIRECT)
        try:
            self._p.setAdditionalSearchPath(data_path, physicsClientId=self.client)
            with _quiet_c_output():
                self.pool = self._load_pool()
                self._textures = self._load_textures()
        except BaseException:
            self.close()
            raise
        self._by_class: dict[int, list[int]] = {}
        for index, body in enumerate(self.pool):
            self._by_class.setdefault(body.class_id, []).append(index)
        max_uid = max(body.uid for body in self.pool)
        self._uid_to_pool = np.full(max_uid + 2, -1, dtype=np.int64)
        for index, body in enumerate(self.pool):
            self._uid_to_pool[body.uid] = index
        self._applied: Scene | None = None

    # lifecycle
    def close(self) -> None:
        if getattr(self, 'client', None) is not None and self._p.isConnected(self.client):
            self._p.disconnect(self.client)
        self.client = None

    def __enter__(self) -> SceneRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # loading
    def _measure(self, uid: int, base_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self._p
        p.resetBasePositionAndOrientation(uid, [0.0, 0.0, 0.0], base_quat.tolist(),
                                          physicsClientId=self.client)
        low, high = self.aabb(uid)
        return low, high

    def _load_textures(self) -> list[int]:
        """Load the ground's own checker and ``TEXTURE_COUNT`` procedural textures."""
        import tempfile

        import cv2

        p, client = self._p, self.client
        ids = [p.loadTexture('checker_blue.png', physicsClientId=client)]
        with tempfile.TemporaryDirectory(prefix='mtl_textures_') as folder:
            for index in range(TEXTURE_COUNT):
                path = os.path.join(folder, f'texture_{index}.png')
                cv2.imwrite(path, procedural_texture(index)[..., ::-1])
                ids.append(p.loadTexture(path, physicsClientId=client))
        return ids

    def _park_position(self, index: int) -> list[float]:
        return [3.0 * (index % 10), 3.0 * (index // 10), PARK_Z_M]

    def _load_pool(self) -> list[PoolBody]:
        p, client = self._p, self.client
        pool: list[PoolBody] = []
        flags = p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
        identity = np.array([0.0, 0.0, 0.0, 1.0])

        def finish(uid: int, name: str, class_id: int, base_quat: np.ndarray,
                   spec: ModelSpec | BoxSpec | None) -> None:
            low, high = self._measure(uid, base_quat)
            floor_at_origin = isinstance(spec, ModelSpec) and spec.floor_at_origin
            if floor_at_origin:
                low[2] = min(low[2], 0.0)
            joints = []
            for joint in range(p.getNumJoints(uid, physicsClientId=client)):
                info = p.getJointInfo(uid, joint, physicsClientId=client)
                if info[2] in (_JOINT_REVOLUTE, _JOINT_PRISMATIC, _JOINT_SPHERICAL):
                    joints.append((joint, int(info[2]), float(info[8]), float(info[9])))
            links, rgba = [], []
            for shape in p.getVisualShapeData(uid, physicsClientId=client):
                if shape[1] not in links:
                    links.append(int(shape[1]))
                    rgba.append(tuple(float(c) for c in shape[7]))
            pool.append(PoolBody(
                uid=uid, name=name, class_id=class_id, base_quat=base_quat, local_min=low,
                local_max=high, joints=tuple(joints), visual_links=tuple(links),
                original_rgba=tuple(rgba),
                joint_noise=spec.joint_noise if isinstance(spec, ModelSpec) else 0.0,
                on_tables=spec.on_tables if isinstance(spec, ModelSpec) else False,
                is_wall=spec.is_wall if isinstance(spec, BoxSpec) else False,
                floor_at_origin=floor_at_origin))
            p.resetBasePositionAndOrientation(uid, self._park_position(len(pool) - 1),
                                              base_quat.tolist(), physicsClientId=client)

        uid = p.loadURDF(GROUND_URDF, useFixedBase=True, globalScaling=GROUND_SCALE,
                         physicsClientId=client)
        finish(uid, 'ground', GROUND, identity, None)
        for box in BOXES:
            visual = p.createVisualShape(p.GEOM_BOX, halfExtents=list(box.half_extents),
                                         physicsClientId=client)
            collision = p.createCollisionShape(p.GEOM_BOX, halfExtents=list(box.half_extents),
                                               physicsClientId=client)
            uid = p.createMultiBody(0.0, collision, visual, physicsClientId=client)
            finish(uid, box.name, STRUCTURE, identity, box)
        for spec in MODELS:
            base_quat = _rpy_quat(*spec.base_rpy)
            for scale in spec.scales:
                uid = p.loadURDF(spec.urdf, baseOrientation=base_quat.tolist(),
                                 useFixedBase=True, globalScaling=scale, flags=flags,
                                 physicsClientId=client)
                finish(uid, spec.name, spec.class_id, base_quat, spec)
        return pool

    def aabb(self, uid: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the world AABB (min, max) of a body over all its links (collision shapes)."""
        p = self._p
        low = np.full(3, np.inf)
        high = np.full(3, -np.inf)
        for link in range(-1, p.getNumJoints(uid, physicsClientId=self.client)):
            link_low, link_high = p.getAABB(uid, link, physicsClientId=self.client)
            low = np.minimum(low, link_low)
            high = np.maximum(high, link_high)
        return low, high

    # sampling
    def sample(self, seed: int, width: int, height: int, hfov_deg: float | None = None,
               min_distance_m: float = 0.8, camera_clearance_m: float = 0.5) -> Scene:
        """
        Draw a scene from ``seed`` for images of this aspect ratio (placement aims at view).

        ``min_distance_m`` keeps thing bodies at least that far (horizontally) from the camera,
        ``camera_clearance_m`` keeps every body's footprint clear of a disc around it.
        """
        return _SceneSampler(self.pool, self._by_class, seed, width / height, hfov_deg,
                             min_distance_m, camera_clearance_m, len(self._textures)).sample()

    # posing
    def apply(self, scene: Scene) -> None:
        """Pose the pool for ``scene``: placed bodies into place, every other body parked."""
        if self._applied is scene:
            return
        p, client = self._p, self.client
        placed = {placement.body: placement for placement in scene.placements}
        for index, body in enumerate(self.pool):
            placement = placed.get(index)
            if placement is None:
                p.resetBasePositionAndOrientation(body.uid, self._park_position(index),
                                                  body.base_quat.tolist(),
                                                  physicsClientId=client)
                for link in body.visual_links:
                    p.changeVisualShape(body.uid, link, rgbaColor=[1.0, 1.0, 1.0, 0.0],
                                        physicsClientId=client)
                continue
            orientation = _quat_multiply(_yaw_quat(placement.yaw), body.base_quat)
            p.resetBasePositionAndOrientation(body.uid, list(placement.position),
                                              orientation.tolist(), physicsClientId=client)
            for (joint, joint_type, _, _), value in zip(body.joints, placement.joint_values):
                if joint_type == _JOINT_SPHERICAL:
                    p.resetJointStateMultiDof(body.uid, joint, targetValue=list(value),
                                              physicsClientId=client)
                else:
                    p.resetJointState(body.uid, joint, value[0], physicsClientId=client)
            texturable = body.class_id in (GROUND, STRUCTURE)
            for link, rgba in zip(body.visual_links, placement.link_rgba):
                if texturable:
                    texture = self._textures[placement.texture] if placement.texture >= 0 else -1
                    p.changeVisualShape(body.uid, link, rgbaColor=list(rgba),
                                        textureUniqueId=texture, physicsClientId=client)
                else:
                    p.changeVisualShape(body.uid, link, rgbaColor=list(rgba),
                                        physicsClientId=client)
        self._applied = scene

    # rendering
    def render(self, scene: Scene, width: int, height: int,
               world_from_camera: np.ndarray | None = None) -> Frame:
        """Render ``scene`` (from its base camera unless a pose is given) with ground truth."""
        if width <= 0 or height <= 0:
            raise ValueError(f'image size must be positive, got {width}x{height}')
        self.apply(scene)
        p = self._p
        camera = PinholeCamera.from_hfov(width, height, scene.hfov_deg, self.near_m, self.far_m)
        pose = scene.camera_pose() if world_from_camera is None else np.asarray(
            world_from_camera, dtype=np.float64)
        _, _, rgba, depth_buffer, segmentation = p.getCameraImage(
            width, height, view_matrix(pose), projection_matrix(camera),
            lightDirection=list(scene.light_direction), lightColor=list(scene.light_color),
            shadow=0,
            lightAmbientCoeff=scene.light_ambient, lightDiffuseCoeff=scene.light_diffuse,
            lightSpecularCoeff=scene.light_specular, renderer=p.ER_TINY_RENDERER,
            flags=p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX, physicsClientId=self.client)
        rgb = np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()
        segmentation = np.asarray(segmentation, dtype=np.int64).reshape(height, width)
        depth_m = depth_from_buffer(np.asarray(depth_buffer, dtype=np.float32).reshape(
            height, width), self.near_m, self.far_m)

        # Per-pixel pool index (-1 = no body = sky), then class and instance tables.
        hit = segmentation >= 0
        uid = np.where(hit, segmentation & ((1 << 24) - 1), -1)
        uid = np.clip(uid, -1, self._uid_to_pool.size - 1)
        pool_index = np.where(hit, self._uid_to_pool[uid], -1)
        class_table = np.full(len(self.pool) + 1, UNKNOWN, dtype=np.uint8)
        instance_table = np.full(len(self.pool) + 1, UNKNOWN, dtype=np.int32)
        for placement in scene.placements:
            class_table[placement.body] = placement.class_id
            instance_table[placement.body] = placement.instance_id
        class_table[-1] = 0  # index -1: sky
        instance_table[-1] = 0
        semantic = class_table[pool_index]
        instance_ids = instance_table[pool_index]
        sky = pool_index < 0
        depth_m[sky] = np.nan
        rgb[sky] = _sky_colors(scene, camera, pose)[sky]

        counts = np.bincount(np.where(sky, len(self.pool), pool_index).reshape(-1),
                             minlength=len(self.pool) + 1)
        instances = []
        for placement in scene.placements:
            if placement.class_id in THING_CLASSES:
                body = self.pool[placement.body]
                low, high = self.aabb(body.uid)
                if body.floor_at_origin:
                    low[2] = min(low[2], placement.position[2])
                instances.append(InstanceInfo(
                    instance_id=placement.instance_id, class_id=placement.class_id,
                    model=body.name,
                    aabb_min=tuple(float(v) for v in low),
                    aabb_max=tuple(float(v) for v in high),
                    pixels=int(counts[placement.body])))
        metadata = {
            'generator': GENERATOR_VERSION, 'seed': scene.seed, 'hfov_deg': scene.hfov_deg,
            'camera_height_m': float(pose[2, 3]),
            'pitch_down_deg': math.degrees(math.asin(float(np.clip(-pose[2, 2], -1.0, 1.0)))),
            'yaw_deg': math.degrees(math.atan2(pose[1, 2], pose[0, 2])),
            'light_direction': list(scene.light_direction),
            'near_m': self.near_m, 'far_m': self.far_m,
        }
        return Frame(rgb=rgb, semantic=semantic, instance_ids=instance_ids, depth_m=depth_m,
                     camera=camera, world_from_camera=pose, instances=tuple(instances),
                     metadata=metadata)

    def render_frame(self, seed: int, width: int, height: int,
                     hfov_deg: float | None = None) -> Frame:
        """Sample the scene of ``seed`` and render it from its base camera."""
        return self.render(self.sample(seed, width, height, hfov_deg), width, height)


def _sky_colors(scene: Scene, camera: PinholeCamera, pose: np.ndarray) -> np.ndarray:
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


# --- scene sampling -------------------------------------------------------------------------

class _SceneSampler:
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
        base = _hsv_to_rgb(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.35, 1.0))
        colors = []
        for original in body.original_rgba:
            if mode < 0.35:  # one colour, shaded per link
                rgb = base * rng.uniform(0.75, 1.0)
            elif mode < 0.7:  # the model's own colours, tinted
                rgb = np.asarray(original[:3]) * (0.6 + 0.4 * base)
            else:  # every link its own colour
                rgb = _hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.3, 1.0))
            colors.append((*(float(c) for c in np.clip(rgb, 0.0, 1.0)), 1.0))
        return tuple(colors)

    def _joints(self, body: PoolBody) -> tuple[tuple[float, ...], ...]:
        rng = self.rng
        values = []
        for _, joint_type, lower, upper in body.joints:
            noise = body.joint_noise
            if joint_type == _JOINT_SPHERICAL:
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
        tint = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6), rng.uniform(0.4, 1.0))
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


def procedural_texture(index: int, size: int = 64) -> np.ndarray:
    """
    Return texture ``index`` as a (size, size, 3) uint8 RGB image, the same on every machine.

    Checkers, stripes, bricks, tiles, smooth noise and speckle in random colours: surfaces with
    structure, so that a model cannot take "uniform colour" to mean "ground" or "wall".
    """
    rng = np.random.default_rng(np.random.SeedSequence([7331, int(index)]))
    a = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.3, 1.0))
    b = _hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.8), rng.uniform(0.2, 1.0))
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
        import cv2

        coarse = rng.random((int(rng.integers(3, 9)),) * 2)
        mix = np.clip(cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC), 0, 1)
    else:  # speckle (gravel, carpet, concrete)
        mix = rng.random((size, size)) ** rng.uniform(0.5, 2.0)
    mix = np.asarray(mix, dtype=np.float64)[..., None]
    image = a * (1.0 - mix) + b * mix
    image *= rng.uniform(0.9, 1.1, size=(size, size, 1))  # slight grain everywhere
    return np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _hsv_to_rgb(hue: float, saturation: float, value: float) -> np.ndarray:
    """Return an RGB triple in [0, 1] (vectorisation is not needed for one colour)."""
    sector = int(hue * 6.0) % 6
    fraction = hue * 6.0 - math.floor(hue * 6.0)
    p_ = value * (1.0 - saturation)
    q_ = value * (1.0 - fraction * saturation)
    t_ = value * (1.0 - (1.0 - fraction) * saturation)
    return np.array([(value, t_, p_), (q_, value, p_), (p_, value, t_), (p_, q_, value),
                     (t_, p_, value), (value, p_, q_)][sector])


# --- per-process convenience ----------------------------------------------------------------

_SHARED: dict[int, SceneRenderer] = {}


def shared_renderer() -> SceneRenderer:
    """Return this process's renderer, created on first use (one per process id: fork-safe)."""
    pid = os.getpid()
    renderer = _SHARED.get(pid)
    if renderer is None or renderer.client is None:
        renderer = _SHARED[pid] = SceneRenderer()
    return renderer


def render_frame(seed: int, width: int, height: int, hfov_deg: float | None = None,
                 renderer: SceneRenderer | None = None) -> Frame:
    """Render the random scene of ``seed`` at ``width`` x ``height``; same seed, same arrays."""
    return (renderer or shared_renderer()).render_frame(seed, width, height, hfov_deg)


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
