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
Colour images of the outputs and the mosaics (input | semantic | instances | depth).

Shared by ``mtl_evaluate``, the bag evaluator and the demo so their pictures look the same.
"""

from __future__ import annotations

import cv2
from mtl_perception.core.classes import ClassSet
import numpy as np


def colorize_semantic(labels: np.ndarray, class_set: ClassSet, image: np.ndarray | None = None,
                      alpha: float = 0.0) -> np.ndarray:
    """Palette image of class ids (unknown 255 is black); optionally blended with ``image``."""
    colour = class_set.palette_array()[labels]
    if image is not None and alpha > 0:
        colour = (alpha * image.astype(np.float32) + (1 - alpha) * colour).astype(np.uint8)
    return colour


def instance_colours(count: int) -> np.ndarray:
    """Distinct, stable colours for instance ids 1..count (row 0 is black)."""
    golden = 0.618033988749895
    hues = ((np.arange(count + 1) * golden) % 1.0 * 179).astype(np.uint8)
    hsv = np.stack([hues, np.full_like(hues, 200), np.full_like(hues, 255)], axis=-1)
    colours = cv2.cvtColor(hsv[None], cv2.COLOR_HSV2RGB)[0]
    colours[0] = 0
    return colours


def colorize_instances(instance_ids: np.ndarray, image: np.ndarray | None = None) -> np.ndarray:
    """Each instance in its own colour over a darkened input (or black)."""
    ids = instance_ids.astype(np.int64)
    colours = instance_colours(int(ids.max()) if ids.size else 0)
    out = colours[np.clip(ids, 0, None)]
    if image is not None:
        background = (image.astype(np.float32) * 0.35).astype(np.uint8)
        out = np.where((ids > 0)[..., None], out, background)
    return out


def colorize_inverse_depth(inverse_depth: np.ndarray, max_value: float | None = None
                           ) -> np.ndarray:
    """Turbo colour map of inverse depth: near is warm, far and sky (0) are dark."""
    values = np.nan_to_num(inverse_depth.astype(np.float32), nan=0.0)
    top = max_value or float(np.percentile(values, 99)) or 1.0
    scaled = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)


def label_panel(panel: np.ndarray, text: str) -> np.ndarray:
    panel = np.ascontiguousarray(panel)
    scale = max(0.35, panel.shape[1] / 900)
    cv2.putText(panel, text, (5, int(18 * scale / 0.5)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def mosaic(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Labelled panels side by side; all are resized to the first panel's height."""
    height = panels[0][1].shape[0]
    row = []
    for title, panel in panels:
        if panel.shape[0] != height:
            width = int(round(panel.shape[1] * height / panel.shape[0]))
            panel = cv2.resize(panel, (width, height), interpolation=cv2.INTER_NEAREST)
        row.append(label_panel(panel.copy(), title))
    return np.concatenate(row, axis=1)


def write_png(path: str, rgb: np.ndarray) -> None:
    """Write an RGB image (OpenCV wants BGR); raise if the write fails."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')
