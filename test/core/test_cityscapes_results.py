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

"""Cityscapes results format and the official cityscapesScripts scores, on a fake Cityscapes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import sys

import cv2
from mtl_perception.core.checkpoint import Checkpoint, Preprocessing, save_checkpoint
from mtl_perception.core.classes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_LABEL_TO_TRAIN,
    SYNTH_CLASSES,
)
from mtl_perception.core.config import preset_config
from mtl_perception.core.eval import (
    result_paths,
    score_cityscapes_results,
    train_to_label_table,
    write_cityscapes_results,
    write_ground_truth_results,
)
from mtl_perception.core.model import MultiTaskNet
from mtl_perception.core.pipeline import PipelineConfig
import numpy as np
import pytest
import torch

WIDTH, HEIGHT = 96, 48  # the network runs at 64x32: predictions are upsampled to this
EVALUATED_LABEL_IDS = set(np.flatnonzero(CITYSCAPES_LABEL_TO_TRAIN != 255).tolist())
THING_LABEL_IDS = {24, 25, 26, 27, 28, 31, 32, 33}
FRAMES = ('aachen_000000_000019', 'bochum_000001_000042')


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _frame(index: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the label ids and instance ids of frame ``index``.

    Sky, building, road, a void strip and things of at least 100 pixels (the instance
    evaluator ignores smaller ones).
    """
    labels = np.full((HEIGHT, WIDTH), 7, np.uint8)  # road
    labels[:12] = 23  # sky
    labels[12:24] = 11  # building
    labels[:, :4] = 0  # unlabeled: ignored in evaluation
    instances = labels.astype(np.uint16)
    if index == 0:
        labels[26:38, 10:22], instances[26:38, 10:22] = 26, 26001  # car, 144 px
        labels[14:38, 40:46], instances[14:38, 40:46] = 24, 24001  # person, 144 px
        labels[40:46, 60:70], instances[40:46, 60:70] = 26, 26  # car group: no instance
    else:
        labels[12:24, 80:96], instances[12:24, 80:96] = 21, 21  # vegetation
        labels[20:40, 30:38], instances[20:40, 30:38] = 24, 24002  # person, 160 px
        labels[30:42, 60:72], instances[30:42, 60:72] = 33, 33001  # bicycle, 144 px
    return labels, instances


def make_fake_cityscapes(root: Path) -> Path:
    """Write two frames of a real-Cityscapes layout (no manifest.json), val split."""
    rng = np.random.default_rng(0)
    for index, stem in enumerate(FRAMES):
        city = stem.split('_')[0]
        labels, instances = _frame(index)
        image = rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
        _write_png(root / 'leftImg8bit/val' / city / f'{stem}_leftImg8bit.png', image)
        _write_png(root / 'gtFine/val' / city / f'{stem}_gtFine_labelIds.png', labels)
        _write_png(root / 'gtFine/val' / city / f'{stem}_gtFine_instanceIds.png', instances)
        _write_png(root / 'disparity/val' / city / f'{stem}_disparity.png',
                   np.full((HEIGHT, WIDTH), 2561, np.uint16))
        camera = root / 'camera/val' / city / f'{stem}_camera.json'
        camera.parent.mkdir(parents=True)
        camera.write_text(json.dumps({'extrinsic': {'baseline': 0.209313},
                                      'intrinsic': {'fx': 2262.52, 'fy': 2265.30,
                                                    'u0': 1096.98, 'v0': 513.137}}))
    return root


@pytest.fixture
def cityscapes_root(tmp_path: Path) -> Path:
    return make_fake_cityscapes(tmp_path / 'cityscapes')


def _checkpoint(path: Path, class_set=CITYSCAPES_CLASSES) -> Path:
    torch.manual_seed(0)
    config = preset_config('tiny', class_set.num_classes)
    checkpoint = Checkpoint(model_config=config, class_set=class_set,
                            preprocessing=Preprocessing(input_width=64, input_height=32),
                            state_dict=MultiTaskNet(config).state_dict())
    return save_checkpoint(checkpoint, path)


def _read(path: Path) -> np.ndarray:
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert array is not None, path
    return array


def test_train_ids_map_back_to_their_label_ids():
    table = train_to_label_table()
    for label_id in EVALUATED_LABEL_IDS:
        assert table[CITYSCAPES_LABEL_TO_TRAIN[label_id]] == label_id
    assert table[255] == 0  # no class: "unlabeled", ignored by the evaluators


def test_results_hold_label_ids_and_instance_masks_at_the_original_size(
        cityscapes_root, tmp_path):
    results = tmp_path / 'results'
    stale = results / 'instance' / 'aachen' / 'aachen_000000_000099_pred.txt'
    stale.parent.mkdir(parents=True)
    stale.write_text('')
    summary = write_cityscapes_results(_checkpoint(tmp_path / 'model.pt'), cityscapes_root,
                                       'val', results,
                                       pipeline_config=PipelineConfig(instance_min_pixels=4))
    assert summary['frames'] == 2
    assert not stale.exists()  # an earlier run's frames would be scored otherwise
    instances = 0
    for stem in FRAMES:
        image = cityscapes_root / 'leftImg8bit/val' / stem.split('_')[0] / (
            f'{stem}_leftImg8bit.png')
        pixel_path, text_path = result_paths(results, image)
        label_ids = _read(pixel_path)
        assert label_ids.shape == (HEIGHT, WIDTH) and label_ids.dtype == np.uint8
        assert set(np.unique(label_ids).tolist()) <= EVALUATED_LABEL_IDS
        for line in text_path.read_text().splitlines():
            relative, label_id, confidence = line.split(' ')
            assert not Path(relative).is_absolute()
            assert int(label_id) in THING_LABEL_IDS
            assert 0.0 <= float(confidence) <= 1.0
            mask = _read(text_path.parent / relative)
            assert mask.shape == (HEIGHT, WIDTH) and set(np.unique(mask).tolist()) <= {0, 255}
            # A mask covers pixels that the semantic result gives the instance's class.
            assert (label_ids[mask > 0] == int(label_id)).all()
            instances += 1
    assert instances == summary['instances'] > 0  # the random model does predict things


def test_other_class_sets_are_refused(cityscapes_root, tmp_path):
    with pytest.raises(ValueError, match='19 Cityscapes train ids'):
        write_cityscapes_results(_checkpoint(tmp_path / 'synth.pt', SYNTH_CLASSES),
                                 cityscapes_root, 'val', tmp_path / 'results')


def test_missing_cityscapes_scripts_says_how_to_install(cityscapes_root, tmp_path,
                                                        monkeypatch):
    monkeypatch.setitem(sys.modules, 'cityscapesscripts.evaluation', None)
    with pytest.raises(ImportError, match='pip install cityscapesScripts'):
        score_cityscapes_results(cityscapes_root, 'val', tmp_path)


def test_the_ground_truth_scores_perfectly(cityscapes_root, tmp_path):
    pytest.importorskip('cityscapesscripts')
    results = tmp_path / 'results'
    write_ground_truth_results(cityscapes_root, 'val', results)
    cwd, environ, has_in1d = os.getcwd(), dict(os.environ), hasattr(np, 'in1d')
    scores = score_cityscapes_results(cityscapes_root, 'val', results)
    assert (os.getcwd(), dict(os.environ), hasattr(np, 'in1d')) == (cwd, environ, has_in1d)
    assert scores['frames'] == scores['instance_frames'] == 2
    for key in ('class_iou', 'class_iiou', 'category_iou', 'category_iiou', 'instance_ap',
                'instance_ap50'):
        assert scores[key] == pytest.approx(1.0), key
    present = {'road', 'building', 'vegetation', 'sky', 'person', 'car', 'bicycle'}
    assert {name for name, iou in scores['class_iou_per_class'].items()
            if not math.isnan(iou)} == present
    assert {name for name, value in scores['instance_ap_per_class'].items()
            if not math.isnan(value['ap'])} == {'person', 'car', 'bicycle'}
    for name in ('resultPixelLevelSemanticLabeling.json',
                 'resultInstanceLevelSemanticLabeling.json', 'gtInstances.json',
                 'matches.json'):
        assert (results / name).is_file(), name


def test_prediction_on_ignored_pixels_only_is_scored_despite_upstream_issue_89(
        cityscapes_root, tmp_path, caplog):
    """Return the only car prediction lies on unlabeled pixels: their AP code would raise."""
    pytest.importorskip('cityscapesscripts')
    results = tmp_path / 'results'
    write_ground_truth_results(cityscapes_root, 'val', results)
    image = cityscapes_root / 'leftImg8bit/val/aachen' / f'{FRAMES[0]}_leftImg8bit.png'
    text_path = result_paths(results, image)[1]
    lines = text_path.read_text().splitlines()
    car_line = next(line for line in lines if line.split(' ')[1] == '26')
    void_mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    void_mask[:, :4] = 255
    _write_png(text_path.parent / car_line.split(' ')[0], void_mask)
    scores = score_cityscapes_results(cityscapes_root, 'val', results)
    assert scores['instance_ap_per_class']['car']['ap'] == 0.0
    assert scores['instance_ap_per_class']['person']['ap'] == pytest.approx(1.0)
    assert scores['instance_ap'] == pytest.approx(2.0 / 3.0)
    assert 'issue #89' in caplog.text


def test_predictions_are_scored(cityscapes_root, tmp_path):
    pytest.importorskip('cityscapesscripts')
    results = tmp_path / 'results'
    write_cityscapes_results(_checkpoint(tmp_path / 'model.pt'), cityscapes_root, 'val',
                             results, max_frames=1)
    scores = score_cityscapes_results(cityscapes_root, 'val', results)
    assert scores['frames'] == 1
    for key in ('class_iou', 'category_iou', 'instance_ap', 'instance_ap50'):
        assert 0.0 <= scores[key] <= 1.0, key
