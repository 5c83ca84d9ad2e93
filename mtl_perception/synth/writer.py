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
Write rendered frames in the Cityscapes folder layout, atomically, with a manifest.

For frame ``i`` of split ``S`` in scene folder ``C`` (``scene<k>``, frame ``i`` goes into folder
``k = i mod scenes``; frames are independent random scenes and the folder level only mirrors
Cityscapes' cities and keeps folders small) the files are, with ``stem = C_<i:06d>``:

- ``leftImg8bit/S/C/<stem>_leftImg8bit.png``: RGB, 8 bit;
- ``gtFine/S/C/<stem>_gtFine_labelIds.png``: uint8 SYNTH_CLASSES ids (written directly, see
  docs/conventions.md);
- ``gtFine/S/C/<stem>_gtFine_instanceIds.png``: uint16, ``class * 1000 + index`` for things,
  the class id for stuff (Cityscapes uses int32 PNGs; every id here is below 65536);
- ``disparity/S/C/<stem>_disparity.png``: uint16 ``p = 256 d + 1`` with ``d = baseline fx / z``
  for a virtual stereo camera (Cityscapes' 0.209313 m baseline); ``p = 1`` (``d = 0``) for sky
  and ``p = 0`` (invalid) where ``p`` would exceed 65535, i.e. nearer than ``baseline fx / 256``
  (0.2-0.3 m at 320 px): clipping would store a wrong depth;
- ``depth/S/C/<stem>_depth.png``: uint16 z-depth in millimetres, 0 = no depth (sky, or beyond
  65.535 m, which the generated world never reaches);
- ``camera/S/C/<stem>_camera.json``: Cityscapes' ``extrinsic`` (with ``baseline``) and
  ``intrinsic`` (``fx``, ``fy``, ``u0``, ``v0``) blocks plus a ``synthetic`` block with the
  camera pose, seed and the instance list.

Disparity precision: 1/256 px of disparity is ``1 / (256 baseline fx)`` of inverse depth,
about 7e-5 1/m at 320 px and 60 degrees: 2 mm at 5 m, 17 cm at 50 m (rounded, so half that).

Every file is written to a temporary name in its folder and renamed (``os.replace``), so a
killed run leaves either the old state or the complete file; a frame counts as done when all
six files exist, and an interrupted frame is rendered again in full.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
import json
import os
from pathlib import Path
import tempfile
from typing import Any
import zlib

import cv2
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.synth.renderer import GENERATOR_VERSION
from mtl_perception.synth.scene_types import Frame
import numpy as np

CITYSCAPES_BASELINE_M = 0.209313
MANIFEST_FORMAT = 'mtl_perception.synth_manifest/1'


def frame_seed(seed: int, split: str, index: int) -> int:
    """Return the scene seed of frame ``index`` of ``split``: independent of workers and order."""
    sequence = np.random.SeedSequence([int(seed), zlib.crc32(split.encode('utf-8')),
                                       int(index)])
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class FramePaths:
    """The six files of one generated frame."""

    image: Path
    label_ids: Path
    instance_ids: Path
    disparity: Path
    depth: Path
    camera: Path

    def all(self) -> tuple[Path, ...]:  # noqa: A003 (a method, not the builtin)
        return (self.image, self.label_ids, self.instance_ids, self.disparity, self.depth,
                self.camera)

    def complete(self) -> bool:
        return all(path.is_file() for path in self.all())


def scene_name(index: int, scenes: int) -> str:
    return f'scene{index % scenes:03d}'


def frame_paths(root: str | Path, split: str, index: int, scenes: int) -> FramePaths:
    """Return where frame ``index`` of ``split`` lives under ``root``."""
    scene = scene_name(index, scenes)
    stem = f'{scene}_{index:06d}'
    root = Path(root)

    def path(kind: str, suffix: str) -> Path:
        return root / kind / split / scene / f'{stem}_{suffix}'

    return FramePaths(image=path('leftImg8bit', 'leftImg8bit.png'),
                      label_ids=path('gtFine', 'gtFine_labelIds.png'),
                      instance_ids=path('gtFine', 'gtFine_instanceIds.png'),
                      disparity=path('disparity', 'disparity.png'),
                      depth=path('depth', 'depth.png'),
                      camera=path('camera', 'camera.json'))


def encode_disparity(depth_m: np.ndarray, fx_px: float,
                     baseline_m: float = CITYSCAPES_BASELINE_M) -> np.ndarray:
    """Return Cityscapes disparity PNG values (uint16): ``p = 256 d + 1``, 1 for sky (NaN)."""
    depth = np.asarray(depth_m, dtype=np.float64)
    sky = ~np.isfinite(depth)
    with np.errstate(divide='ignore', invalid='ignore'):
        value = np.round(256.0 * baseline_m * fx_px / depth + 1.0)
    value[sky] = 1.0
    value[~sky & ~(depth > 0)] = 0.0
    value[value > 65535] = 0.0  # nearer than the format can hold: invalid rather than wrong
    return value.astype(np.uint16)


def encode_depth_mm(depth_m: np.ndarray) -> np.ndarray:
    """Return z-depth as uint16 millimetres, 0 where unknown (NaN) or beyond 65.535 m."""
    depth = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        value = np.round(depth * 1000.0)
        value[~np.isfinite(value) | (value > 65535) | (value < 0)] = 0
    return value.astype(np.uint16)


def camera_json(frame: Frame, baseline_m: float = CITYSCAPES_BASELINE_M,
                seed: int | None = None) -> dict[str, Any]:
    """Return the Cityscapes-style camera description of a frame (plus a ``synthetic`` block)."""
    pose = frame.world_from_camera
    metadata = frame.metadata
    return {
        'extrinsic': {
            'baseline': baseline_m,
            'x': float(pose[0, 3]), 'y': float(pose[1, 3]), 'z': float(pose[2, 3]),
            'pitch': float(np.radians(metadata.get('pitch_down_deg', 0.0))),
            'roll': 0.0, 'yaw': float(np.radians(metadata.get('yaw_deg', 0.0))),
        },
        'intrinsic': {'fx': frame.camera.fx, 'fy': frame.camera.fy, 'u0': frame.camera.cx,
                      'v0': frame.camera.cy},
        'synthetic': {
            'generator': GENERATOR_VERSION,
            'seed': seed if seed is not None else metadata.get('seed'),
            'hfov_deg': frame.camera.hfov_deg,
            'near_m': frame.camera.near_m, 'far_m': frame.camera.far_m,
            'world_from_camera': [[float(v) for v in row] for row in pose],
            'instances': [{'id': info.instance_id, 'class_id': info.class_id,
                           'model': info.model, 'pixels': info.pixels}
                          for info in frame.instances],
        },
    }


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _png_bytes(array: np.ndarray, path: Path) -> bytes:
    ok, encoded = cv2.imencode('.png', array)
    if not ok:
        raise OSError(f'could not encode {path} as PNG')
    return encoded.tobytes()


def atomic_write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and a rename."""
    _atomic_write_bytes(Path(path), (json.dumps(data, indent=2) + '\n').encode('utf-8'))


def write_frame(frame: Frame, paths: FramePaths,
                baseline_m: float = CITYSCAPES_BASELINE_M) -> None:
    """Write the six files of one frame, each atomically; the camera JSON goes last."""
    if int(frame.instance_ids.max(initial=0)) > 65535:
        raise ValueError('instance ids above 65535 do not fit the uint16 instanceIds PNG')
    _atomic_write_bytes(paths.image, _png_bytes(
        cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR), paths.image))
    _atomic_write_bytes(paths.label_ids, _png_bytes(frame.semantic.astype(np.uint8),
                                                    paths.label_ids))
    _atomic_write_bytes(paths.instance_ids, _png_bytes(frame.instance_ids.astype(np.uint16),
                                                       paths.instance_ids))
    _atomic_write_bytes(paths.disparity, _png_bytes(
        encode_disparity(frame.depth_m, frame.camera.fx, baseline_m), paths.disparity))
    _atomic_write_bytes(paths.depth, _png_bytes(encode_depth_mm(frame.depth_m), paths.depth))
    atomic_write_json(paths.camera, camera_json(frame, baseline_m))


def new_manifest(baseline_m: float = CITYSCAPES_BASELINE_M) -> dict[str, Any]:
    """Return an empty manifest: generator, class set and encodings; splits are added later."""
    return {
        'format': MANIFEST_FORMAT,
        'generator': GENERATOR_VERSION,
        'class_set': SYNTH_CLASSES.to_dict(),
        'baseline_m': baseline_m,
        'encodings': {
            'labelIds': 'uint8 class ids of class_set, written directly',
            'instanceIds': 'uint16 class*1000+index for things, class id for stuff',
            'disparity': 'uint16 p = 256*d + 1, d = baseline*fx/depth; 1 = sky, 0 = invalid',
            'depth': 'uint16 z-depth in millimetres, 0 = none (sky)',
        },
        'splits': {},
    }
