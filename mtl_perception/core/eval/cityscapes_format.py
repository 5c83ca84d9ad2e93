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
Cityscapes' official results format: write predictions the official evaluators can score.

``mtl_evaluate`` measures our own metrics at the network's resolution on train ids. Numbers
comparable with the Cityscapes benchmark come only from cityscapesScripts' evaluators run on
full-resolution predictions in Cityscapes **label ids**, so this module writes exactly that
format; :mod:`.cityscapes_scoring` calls those evaluators unchanged.

Layout under ``results_dir`` (``<frame>`` is ``<city>_<sequence>_<frame>``)::

    pixel/<city>/<frame>_pred_labelIds.png   label ids (uint8), one per image
    instance/<city>/<frame>_pred.txt         one line per instance: "mask label_id confidence"
    instance/<city>/masks/<frame>_<k>.png    binary mask (0/255) of instance k
    resultPixelLevelSemanticLabeling.json    the evaluators' full reports
    resultInstanceLevelSemanticLabeling.json
    gtInstances.json, matches.json           the instance evaluator's cache and matches

Semantic and instance results live in separate trees because the evaluators' own file search
(``CITYSCAPES_RESULTS``) takes any ``<frame>*.png`` below its root as the semantic prediction;
kept apart, the official command lines work on these folders as well.

An instance's confidence is its vote agreement (``InstanceResult.confidence``) times the mean
semantic max-softmax probability of its pixels: AP ranks instances across all frames, and vote
agreement alone says nothing about whether the class is right.
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
from pathlib import Path
import shutil
from typing import Any

import cv2
from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.classes import CITYSCAPES_CLASSES, CITYSCAPES_LABEL_TO_TRAIN
from mtl_perception.core.data.frames import find_frames
from mtl_perception.core.pipeline import PipelineConfig, ScenePipeline
from mtl_perception.core.predictor import Predictor
import numpy as np
from tqdm import tqdm

LOGGER = logging.getLogger(__name__)

PIXEL_DIR = 'pixel'
INSTANCE_DIR = 'instance'
MASK_DIR = 'masks'
PIXEL_SUFFIX = '_pred_labelIds.png'
INSTANCE_SUFFIX = '_pred.txt'
_IMAGE_SUFFIX = '_leftImg8bit.png'


def train_to_label_table() -> np.ndarray:
    """
    Return a (256,) uint8 table from Cityscapes train ids (0..18) to label ids.

    The inverse of ``CITYSCAPES_LABEL_TO_TRAIN``; ids without a class (255) become label 0,
    "unlabeled", which the evaluators ignore.
    """
    table = np.zeros(256, dtype=np.uint8)
    label_ids = np.flatnonzero(CITYSCAPES_LABEL_TO_TRAIN != 255)
    table[CITYSCAPES_LABEL_TO_TRAIN[label_ids]] = label_ids.astype(np.uint8)
    return table


def frame_stem(image_path: str | Path) -> str:
    """Return ``<city>_<sequence>_<frame>`` of a ``*_leftImg8bit.png`` path."""
    name = Path(image_path).name
    if not name.endswith(_IMAGE_SUFFIX):
        raise ValueError(f'{image_path} is not a Cityscapes image (*{_IMAGE_SUFFIX})')
    return name[: -len(_IMAGE_SUFFIX)]


def result_paths(results_dir: str | Path, image_path: str | Path) -> tuple[Path, Path]:
    """Return the semantic PNG and the instance text file of one frame's results."""
    results_dir = Path(results_dir)
    city, stem = Path(image_path).parent.name, frame_stem(image_path)
    return (results_dir / PIXEL_DIR / city / f'{stem}{PIXEL_SUFFIX}',
            results_dir / INSTANCE_DIR / city / f'{stem}{INSTANCE_SUFFIX}')


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), array):
        raise OSError(f'cannot write {path}')


def write_frame_results(results_dir: str | Path, image_path: str | Path,
                        label_ids: np.ndarray, instance_ids: np.ndarray | None = None,
                        instance_label_ids: Sequence[int] = (),
                        confidences: Sequence[float] = ()) -> int:
    """
    Write one frame in the official format; return the number of instance masks written.

    ``label_ids`` (H, W) uint8 holds Cityscapes label ids. ``instance_ids`` (H, W) numbers the
    instances 1..N (0 = none); instance ``k`` has label id ``instance_label_ids[k - 1]`` and
    confidence ``confidences[k - 1]``. Without ``instance_ids`` no instance file is written (a
    model without an instance head); with it, a file is written even when N = 0, so the
    instance evaluator sees "no instances" instead of a missing prediction.
    """
    pixel_path, text_path = result_paths(results_dir, image_path)
    label_ids = np.asarray(label_ids)
    if label_ids.ndim != 2 or label_ids.dtype != np.uint8:
        raise ValueError(f'label_ids must be (H, W) uint8, got {label_ids.shape} '
                         f'{label_ids.dtype}')
    _write_png(pixel_path, label_ids)
    if instance_ids is None:
        return 0
    instance_ids = np.asarray(instance_ids)
    if instance_ids.shape != label_ids.shape:
        raise ValueError(f'instance_ids {instance_ids.shape} and label_ids {label_ids.shape} '
                         'must have the same shape')
    if len(instance_label_ids) != len(confidences):
        raise ValueError(f'{len(instance_label_ids)} instance label ids but '
                         f'{len(confidences)} confidences')
    stem = frame_stem(image_path)
    lines = []
    for index, (label_id, confidence) in enumerate(zip(instance_label_ids, confidences),
                                                   start=1):
        mask = instance_ids == index
        if not mask.any():
            continue
        relative = f'{MASK_DIR}/{stem}_{index:03d}.png'
        # The evaluator splits each line on single spaces and wants exactly three fields.
        if any(character.isspace() for character in relative):
            raise ValueError(f'mask path {relative!r} contains white space, which the '
                             'instance evaluator cannot read')
        _write_png(text_path.parent / relative, mask.astype(np.uint8) * 255)
        lines.append(f'{relative} {int(label_id)} {float(confidence):.6f}\n')
    text_path.parent.mkdir(parents=True, exist_ok=True)
    text_path.write_text(''.join(lines), encoding='utf-8')
    return len(lines)


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _clear_results(results_dir: Path) -> None:
    """Remove the two result trees this module writes, so no stale frame gets scored."""
    for name in (PIXEL_DIR, INSTANCE_DIR):
        folder = results_dir / name
        if folder.is_dir():
            shutil.rmtree(folder)


def write_cityscapes_results(checkpoint_path: str | Path, data_root: str | Path, split: str,
                             results_dir: str | Path, device: str = 'cpu',
                             max_frames: int = 0, pipeline_config: PipelineConfig | None = None
                             ) -> dict[str, Any]:
    """
    Predict every frame of a split at its original resolution, in the official format.

    The checkpoint must predict the 19 Cityscapes train ids (class set ``cityscapes``); its
    train ids are written as label ids, and thing instances (clustered by the node's
    :class:`~mtl_perception.core.pipeline.ScenePipeline` with ``pipeline_config``, default
    the node's defaults) as masks. ``max_frames`` > 0 keeps the first frames only. Previous
    ``pixel/`` and ``instance/`` trees under ``results_dir`` are replaced. Returns a summary
    (frames, instances, folders).
    """
    checkpoint = load_checkpoint(checkpoint_path)
    class_set = checkpoint.class_set
    if (class_set.name != CITYSCAPES_CLASSES.name or class_set.names != CITYSCAPES_CLASSES.names
            or tuple(class_set.thing_ids) != CITYSCAPES_CLASSES.thing_ids):
        raise ValueError(
            f'checkpoint {checkpoint_path} predicts class set {class_set.name!r} '
            f'({class_set.num_classes} classes); the Cityscapes results format needs the 19 '
            'Cityscapes train ids (class set "cityscapes")')
    tasks = checkpoint.model_config.tasks
    if 'semantic' not in tasks:
        raise ValueError(f'checkpoint {checkpoint_path} has no semantic head (tasks {tasks})')
    with_instances = 'instance' in tasks
    frames = find_frames(data_root, split, require_depth=False)
    if max_frames:
        frames = frames[:max_frames]
    results_dir = Path(results_dir)
    _clear_results(results_dir)
    pipeline = ScenePipeline(Predictor(checkpoint, device=device), pipeline_config)
    to_label = train_to_label_table()
    outputs = ({'semantic', 'instances', 'confidence'} if with_instances else {'semantic'})
    total_instances = 0
    for frame in tqdm(frames, desc=f'cityscapes results {split}', unit='frame', disable=None):
        image = _read_rgb(frame.image)
        scene = pipeline.process(image, outputs=outputs)  # at the image's resolution
        prediction = scene.prediction
        label_ids = to_label[prediction.semantic]
        if not with_instances:
            write_frame_results(results_dir, frame.image, label_ids)
            continue
        result = scene.instances
        # Mean semantic confidence per instance, with one bincount over the instance map.
        count = len(result)
        flat_ids = result.instance_ids.reshape(-1).astype(np.int64)
        sums = np.bincount(flat_ids, weights=prediction.semantic_confidence.reshape(-1),
                           minlength=count + 1)[1:count + 1]
        sizes = np.bincount(flat_ids, minlength=count + 1)[1:count + 1]
        semantic_confidence = sums / np.maximum(sizes, 1)
        confidences = result.confidence.astype(np.float64) * semantic_confidence
        total_instances += write_frame_results(
            results_dir, frame.image, label_ids, result.instance_ids,
            to_label[result.class_ids.astype(np.int64)].tolist(), confidences.tolist())
    LOGGER.info('wrote Cityscapes results of %d %s frames (%d instances) to %s', len(frames),
                split, total_instances, results_dir)
    return {'frames': len(frames), 'instances': total_instances, 'split': split,
            'checkpoint': str(checkpoint_path), 'results_dir': str(results_dir),
            'pixel_dir': str(results_dir / PIXEL_DIR),
            'instance_dir': str(results_dir / INSTANCE_DIR) if with_instances else None}


def write_ground_truth_results(data_root: str | Path, split: str, results_dir: str | Path,
                               max_frames: int = 0) -> dict[str, Any]:
    """
    Write a split's ground truth in the results format: a perfect prediction.

    Scoring it must give 1.0 everywhere, which checks the whole chain (files, label ids,
    evaluators' settings) without a model. Instances are the ground truth's instance ids of
    at least 1000 (groups such as "cargroup" have no instance) with confidence 1.
    """
    frames = find_frames(data_root, split, require_depth=False)
    if max_frames:
        frames = frames[:max_frames]
    results_dir = Path(results_dir)
    _clear_results(results_dir)
    for frame in frames:
        label_ids = cv2.imread(str(frame.label_ids), cv2.IMREAD_UNCHANGED)
        raw_instances = cv2.imread(str(frame.instance_ids), cv2.IMREAD_UNCHANGED)
        if label_ids is None or raw_instances is None:
            raise FileNotFoundError(f'cannot read the ground truth of {frame.image}')
        values = np.unique(raw_instances[raw_instances >= 1000])
        instance_ids = np.zeros(raw_instances.shape, dtype=np.int32)
        for index, value in enumerate(values.tolist(), start=1):
            instance_ids[raw_instances == value] = index
        write_frame_results(results_dir, frame.image, label_ids.astype(np.uint8),
                            instance_ids, (values // 1000).tolist(), [1.0] * len(values))
    return {'frames': len(frames), 'results_dir': str(results_dir)}
