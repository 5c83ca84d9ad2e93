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
Class lists and palettes: the generated scenes' classes and the Cityscapes train classes.

A :class:`ClassSet` travels inside every checkpoint, so a model alone says what its label ids
mean and how to colour them. "Thing" classes have instances (and so centre offsets); "stuff"
classes do not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class ClassSet:
    """Names, palette and thing/stuff split of the semantic classes a model predicts."""

    name: str
    names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    thing_ids: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.names) != len(self.palette):
            raise ValueError(
                f'class set {self.name!r}: {len(self.names)} names '
                f'but {len(self.palette)} colours')
        bad = [i for i in self.thing_ids if not 0 <= i < len(self.names)]
        if bad:
            raise ValueError(f'class set {self.name!r}: thing ids {bad} are not class ids')

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def is_thing(self) -> np.ndarray:
        """Return a boolean lookup table, True for thing classes (index = class id)."""
        table = np.zeros(256, dtype=bool)
        table[list(self.thing_ids)] = True
        return table

    def palette_array(self) -> np.ndarray:
        """Return a (256, 3) uint8 colour table; ids without a class (255 = unknown) are black."""
        table = np.zeros((256, 3), dtype=np.uint8)
        table[: self.num_classes] = np.asarray(self.palette, dtype=np.uint8)
        return table

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ClassSet:
        return cls(
            name=str(data['name']),
            names=tuple(str(n) for n in data['names']),
            palette=tuple(tuple(int(c) for c in rgb) for rgb in data['palette']),
            thing_ids=tuple(int(i) for i in data.get('thing_ids', ())),
        )


SYNTH_CLASSES = ClassSet(
    name='synth',
    names=('sky', 'ground', 'structure', 'table', 'robot', 'vehicle', 'person', 'object'),
    palette=(
        (70, 130, 180),   # sky: the far background, inverse depth 0
        (128, 64, 128),   # ground: the plane
        (102, 102, 156),  # structure: walls, boxes used as walls and shelves
        (190, 153, 153),  # table
        (220, 20, 60),    # robot: r2d2, kuka, panda, quadrupeds
        (0, 0, 142),      # vehicle: racecar, husky
        (255, 200, 0),    # person: humanoids
        (0, 200, 80),     # object: ducks, teddies, lego, jenga, cubes, spheres, random meshes
    ),
    thing_ids=(3, 4, 5, 6, 7),
)
"""Classes of the PyBullet scenes made by ``mtl_synth`` (ids 0-7; 255 = unknown)."""

# Cityscapes: the 19 evaluated train classes (trainId order) and their official colours.
CITYSCAPES_CLASSES = ClassSet(
    name='cityscapes',
    names=('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light',
           'traffic sign', 'vegetation', 'terrain', 'sky', 'person', 'rider', 'car', 'truck',
           'bus', 'train', 'motorcycle', 'bicycle'),
    palette=((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
             (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152),
             (70, 130, 180), (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70),
             (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32)),
    thing_ids=(11, 12, 13, 14, 15, 16, 17, 18),
)

# Cityscapes labelId (0..33, -1) -> trainId (0..18, 255 = ignore), from cityscapesScripts.
CITYSCAPES_LABEL_TO_TRAIN = np.full(256, 255, dtype=np.uint8)
for _label_id, _train_id in {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8,
                             22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16,
                             32: 17, 33: 18}.items():
    CITYSCAPES_LABEL_TO_TRAIN[_label_id] = _train_id

CITYSCAPES_CATEGORIES = ClassSet(
    name='cityscapes_categories',
    names=('flat', 'construction', 'object', 'nature', 'sky', 'human', 'vehicle'),
    palette=((128, 64, 128), (70, 70, 70), (153, 153, 153), (107, 142, 35), (70, 130, 180),
             (220, 20, 60), (0, 0, 142)),
    thing_ids=(5, 6),
)

# Cityscapes labelId -> category id (void labels 0-6 -> ignore).
CITYSCAPES_LABEL_TO_CATEGORY = np.full(256, 255, dtype=np.uint8)
for _label_id, _category in {7: 0, 8: 0, 9: 0, 10: 0, 11: 1, 12: 1, 13: 1, 14: 1, 15: 1, 16: 1,
                             17: 2, 18: 2, 19: 2, 20: 2, 21: 3, 22: 3, 23: 4, 24: 5, 25: 5,
                             26: 6, 27: 6, 28: 6, 29: 6, 30: 6, 31: 6, 32: 6, 33: 6}.items():
    CITYSCAPES_LABEL_TO_CATEGORY[_label_id] = _category

CLASS_SETS = {c.name: c for c in (SYNTH_CLASSES, CITYSCAPES_CLASSES, CITYSCAPES_CATEGORIES)}


def get_class_set(name: str) -> ClassSet:
    """Return a known class set by name, with an error listing the choices."""
    try:
        return CLASS_SETS[name]
    except KeyError:
        raise ValueError(
            f'unknown class set {name!r}; choose one of {sorted(CLASS_SETS)}') from None
