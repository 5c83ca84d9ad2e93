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
Training targets from a frame's label files: class mapping, instance ids and centre offsets.

Pure NumPy on one frame, applied after the joint transforms so the targets are exact at the
sample's resolution (the rules are in ``cityscapes.py``'s docstring). :func:`instance_offsets`
is also what the clustering benchmark uses to make perfect offsets from ground truth.
"""

from __future__ import annotations

from mtl_perception.core import IGNORE_INDEX
from mtl_perception.core.classes import ClassSet
from mtl_perception.core.data.frames import DatasetError
import numpy as np


def identity_mapping(class_set: ClassSet) -> np.ndarray:
    """Return a (256,) uint8 table that keeps the class set's ids and maps the rest to 255."""
    table = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    table[: class_set.num_classes] = np.arange(class_set.num_classes, dtype=np.uint8)
    return table


def remap_instances(raw_ids: np.ndarray, label_mapping: np.ndarray,
                    thing_table: np.ndarray) -> np.ndarray:
    """
    Return int64 instance ids ``mapped_class * 1000 + k`` (0 = none) from Cityscapes ids.

    ``k`` is the file's index (``raw % 1000``) unless two raw ids of the frame would then
    collide (several labels mapped to one class, e.g. car and truck to "vehicle"); then ``k``
    numbers that class's instances from 0 in the order of their raw ids. Values below 1000
    (stuff, or thing pixels without an instance, e.g. Cityscapes groups) and instances whose
    mapped class is not a thing get 0.
    """
    raw = np.asarray(raw_ids).astype(np.int64, copy=False)
    raw_class = np.clip(raw // 1000, 0, 255)
    mapped = label_mapping[raw_class].astype(np.int64)
    keep = (raw >= 1000) & thing_table[mapped]
    out = np.zeros(raw.shape, dtype=np.int64)
    if not keep.any():
        return out
    values, inverse = np.unique(raw[keep], return_inverse=True)
    value_class = label_mapping[np.clip(values // 1000, 0, 255)].astype(np.int64)
    new_values = value_class * 1000 + values % 1000  # the file's index where it stays unique
    for class_id in np.unique(value_class):
        members = np.flatnonzero(value_class == class_id)  # already sorted by raw id
        if np.unique(new_values[members]).size == members.size:
            continue
        if members.size > 1000:
            raise DatasetError(f'more than 1000 instances of class {class_id} in one frame')
        new_values[members] = class_id * 1000 + np.arange(members.size)
    out[keep] = new_values[inverse.reshape(-1)]
    return out


def instance_offsets(instance_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """
    Return offsets (2, H, W) float32 to each instance's centroid and the instance mask.

    Channel 0 is x (columns), channel 1 y (rows): ``centre = pixel + offset``. Pixels with id 0
    have offset 0 and mask False.
    """
    ids = np.asarray(instance_ids)
    height, width = ids.shape
    offsets = np.zeros((2, height, width), dtype=np.float32)
    mask = ids > 0
    if not mask.any():
        return offsets, mask
    values, inverse = np.unique(ids[mask], return_inverse=True)
    inverse = inverse.reshape(-1)
    rows, cols = np.nonzero(mask)
    counts = np.bincount(inverse, minlength=values.size).astype(np.float64)
    centre_x = np.bincount(inverse, weights=cols, minlength=values.size) / counts
    centre_y = np.bincount(inverse, weights=rows, minlength=values.size) / counts
    offsets[0, rows, cols] = (centre_x[inverse] - cols).astype(np.float32)
    offsets[1, rows, cols] = (centre_y[inverse] - rows).astype(np.float32)
    return offsets, mask
