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
The files of a Cityscapes-layout split: which frames it holds, and reading each frame's files.

``leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png`` names a frame; its ``gtFine`` label and
instance PNGs, ``disparity`` PNG, ``camera`` JSON and (generated data only) metric ``depth``
PNG are its siblings in the other top-level folders. The data set, the Cityscapes result
writer and the official-score shim all list frames with :func:`find_frames`, so they agree on
what a split is.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIX = '_leftImg8bit.png'


class DatasetError(ValueError):
    """A data set folder or file is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class FrameFiles:
    """The files of one frame; optional ones are None when absent."""

    image: Path
    label_ids: Path
    instance_ids: Path
    disparity: Path | None
    camera: Path | None
    depth: Path | None


def find_frames(root: str | Path, split: str, require_depth: bool = True) -> list[FrameFiles]:
    """
    List the frames of a split, checking that every image has its label files.

    Raises :class:`DatasetError` naming the expected folder when the split has no images, and
    naming the file when one is missing (labels always; disparity and camera when
    ``require_depth``).
    """
    root = Path(root)
    image_dir = root / 'leftImg8bit' / split
    if not image_dir.is_dir():
        raise DatasetError(f'split {split!r} not found: expected the folder {image_dir} '
                           f'(Cityscapes layout leftImg8bit/<split>/<city>/*{IMAGE_SUFFIX})')
    images = sorted(image_dir.glob(f'*/*{IMAGE_SUFFIX}'))
    if not images:
        raise DatasetError(f'split {split!r} is empty: no <city>/*{IMAGE_SUFFIX} files in '
                           f'{image_dir}')
    frames = []
    for image in images:
        city = image.parent.name
        stem = image.name[: -len(IMAGE_SUFFIX)]

        def sibling(kind: str, suffix: str, stem: str = stem, city: str = city) -> Path:
            return root / kind / split / city / f'{stem}_{suffix}'

        label_ids = sibling('gtFine', 'gtFine_labelIds.png')
        instance_ids = sibling('gtFine', 'gtFine_instanceIds.png')
        disparity = sibling('disparity', 'disparity.png')
        camera = sibling('camera', 'camera.json')
        depth = sibling('depth', 'depth.png')
        required = [label_ids, instance_ids] + ([disparity, camera] if require_depth else [])
        for path in required:
            if not path.is_file():
                raise DatasetError(f'image {image} has no matching file {path}')
        frames.append(FrameFiles(
            image=image, label_ids=label_ids, instance_ids=instance_ids,
            disparity=disparity if disparity.is_file() else None,
            camera=camera if camera.is_file() else None,
            depth=depth if depth.is_file() else None))
    return frames


def read_png(path: Path, color: bool = False) -> np.ndarray:
    """Return a PNG as RGB (``color``) or as its single channel, unchanged in bit depth."""
    flags = cv2.IMREAD_COLOR if color else cv2.IMREAD_UNCHANGED
    array = cv2.imread(str(path), flags)
    if array is None:
        raise DatasetError(f'cannot read image file {path}')
    if color:
        return cv2.cvtColor(array, cv2.COLOR_BGR2RGB)
    if array.ndim != 2:
        raise DatasetError(f'{path} must be a single-channel PNG, got shape {array.shape}')
    return array


def read_camera(path: Path) -> tuple[float, float]:
    """Return (fx in pixels, stereo baseline in metres) from a Cityscapes camera JSON."""
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
        fx = float(data['intrinsic']['fx'])
        baseline = float(data['extrinsic']['baseline'])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f'{path} is not a Cityscapes camera file with intrinsic.fx and '
                           f'extrinsic.baseline: {error}') from error
    if not fx > 0 or not baseline > 0:
        raise DatasetError(f'{path}: fx ({fx}) and baseline ({baseline}) must be positive')
    return fx, baseline
