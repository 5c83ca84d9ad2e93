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
The PyBullet renderer: random scenes rendered with exact semantic, instance and depth truth.

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

from collections.abc import Iterator
import contextlib
import math
import os
import tempfile
from typing import Any

import cv2
from mtl_perception.synth.camera import (
    depth_from_buffer,
    PinholeCamera,
    projection_matrix,
    view_matrix,
)
from mtl_perception.synth.catalog import (
    BOXES,
    BoxSpec,
    GROUND,
    GROUND_SCALE,
    GROUND_URDF,
    MODELS,
    ModelSpec,
    STRUCTURE,
    THING_CLASSES,
)
from mtl_perception.synth.rotations import quat_multiply, rpy_quat, yaw_quat
from mtl_perception.synth.sampler import SceneSampler
from mtl_perception.synth.scene_types import (
    Frame,
    InstanceInfo,
    JOINT_PRISMATIC,
    JOINT_REVOLUTE,
    JOINT_SPHERICAL,
    PoolBody,
    Scene,
)
from mtl_perception.synth.textures import procedural_texture, sky_colors, TEXTURE_COUNT
import numpy as np

GENERATOR_VERSION = 'mtl_synth/2'  # 2: textures, wider camera, light and sky ranges
PARK_Z_M = -500.0
UNKNOWN = 255


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
                if info[2] in (JOINT_REVOLUTE, JOINT_PRISMATIC, JOINT_SPHERICAL):
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
            base_quat = rpy_quat(*spec.base_rpy)
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
        return SceneSampler(self.pool, self._by_class, seed, width / height, hfov_deg,
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
            orientation = quat_multiply(yaw_quat(placement.yaw), body.base_quat)
            p.resetBasePositionAndOrientation(body.uid, list(placement.position),
                                              orientation.tolist(), physicsClientId=client)
            for (joint, joint_type, _, _), value in zip(body.joints, placement.joint_values):
                if joint_type == JOINT_SPHERICAL:
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
        rgb[sky] = sky_colors(scene, camera, pose)[sky]

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
