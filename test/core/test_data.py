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

"""The Cityscapes-layout loader on generated and (fake) real data, and the joint transforms."""

from __future__ import annotations

import json
from pathlib import Path
import shutil

import cv2
from mtl_perception.core.data import build_dataset, CityscapesDataset, DatasetError
from mtl_perception.core.data.targets import instance_offsets
from mtl_perception.core.data.transforms import (
    Compose,
    RandomCrop,
    RandomHorizontalFlip,
    Resize,
)
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

KEYS = {'image', 'semantic', 'instance_offsets', 'instance_mask', 'inverse_depth',
        'depth_valid', 'instance_ids', 'depth_m', 'path'}
FX, BASELINE = 2262.52, 0.209313  # Cityscapes' values


def _write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def _centroid_check(sample: dict) -> int:
    """Assert pixel + offset is the centroid of the pixel's instance; return instances seen."""
    ids = sample['instance_ids'].numpy()
    offsets = sample['instance_offsets'].numpy()
    mask = sample['instance_mask'].numpy()
    np.testing.assert_array_equal(mask, ids > 0)
    assert (offsets[:, ~mask] == 0).all()
    values = np.unique(ids[ids > 0])
    for value in values:
        rows, cols = np.nonzero(ids == value)
        np.testing.assert_allclose(cols + offsets[0, rows, cols], cols.mean(), atol=1e-3)
        np.testing.assert_allclose(rows + offsets[1, rows, cols], rows.mean(), atol=1e-3)
    return values.size


# --- generated data -------------------------------------------------------------------------

@pytest.fixture(scope='module')
def synth_data(tmp_path_factory):
    """Two 64x48 generated frames written by mtl_synth, and the same frames in memory."""
    pytest.importorskip('pybullet')
    from mtl_perception.synth import SceneRenderer
    from mtl_perception.synth.generate import generate, SynthJob
    from mtl_perception.synth.writer import frame_seed

    root = tmp_path_factory.mktemp('synth')
    generate(SynthJob(out=root, split='train', frames=2, width=64, height=48, seed=3,
                      scenes=1), workers=1, progress=False)
    with SceneRenderer() as renderer:
        frames = [renderer.render_frame(frame_seed(3, 'train', index), 64, 48)
                  for index in range(2)]
    return root, frames


def test_generated_round_trip(synth_data):
    root, frames = synth_data
    dataset = CityscapesDataset(root, 'train', 'synth')
    assert len(dataset) == 2
    instances = 0
    for index, frame in enumerate(frames):
        sample = dataset[index]
        assert set(sample) == KEYS
        assert sample['image'].shape == (3, 48, 64) and sample['image'].dtype == torch.float32
        np.testing.assert_array_equal(sample['semantic'].numpy(), frame.semantic)
        things = frame.instance_ids >= 1000
        np.testing.assert_array_equal(sample['instance_ids'].numpy(),
                                      np.where(things, frame.instance_ids, 0))
        instances += _centroid_check(sample)

        # Canonical inverse depth back to metric: 1 / depth within the disparity quantisation.
        f_norm = frame.camera.fx / 64
        metric_inverse = sample['inverse_depth'][0].numpy() / f_norm  # f_canon = 1
        valid = sample['depth_valid'].numpy()
        sky = frame.semantic == 0
        surface = valid & ~sky
        quantum = 1.0 / (256.0 * BASELINE * frame.camera.fx)
        np.testing.assert_allclose(metric_inverse[surface], 1.0 / frame.depth_m[surface],
                                   rtol=1e-5, atol=0.5 * quantum + 1e-7)
        assert valid[sky].all() and (metric_inverse[sky] == 0).all()
        depth_m = sample['depth_m'][0].numpy()
        assert np.isnan(depth_m[sky]).all()
        np.testing.assert_allclose(depth_m[~sky], frame.depth_m[~sky], atol=5e-4 + 1e-6)
    assert instances >= 2


def test_generated_data_with_a_real_cityscapes_class_set_is_refused(synth_data):
    with pytest.raises(DatasetError, match='pass label_mapping'):
        CityscapesDataset(synth_data[0], 'train', 'cityscapes')


def test_missing_label_names_the_file(synth_data, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(synth_data[0], root)
    label = next((root / 'gtFine' / 'train').rglob('*_gtFine_labelIds.png'))
    label.unlink()
    with pytest.raises(DatasetError, match=str(label)):
        CityscapesDataset(root, 'train', 'synth')


def test_size_mismatch_names_the_file(synth_data, tmp_path):
    root = tmp_path / 'copy'
    shutil.copytree(synth_data[0], root)
    disparity = sorted((root / 'disparity' / 'train').rglob('*_disparity.png'))[0]
    _write_png(disparity, np.ones((10, 10), np.uint16))
    with pytest.raises(DatasetError, match=str(disparity)):
        CityscapesDataset(root, 'train', 'synth')[0]


def test_empty_or_missing_split_says_what_was_expected(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / 'leftImg8bit' / 'val')):
        CityscapesDataset(tmp_path, 'val', 'cityscapes')
    (tmp_path / 'leftImg8bit' / 'val' / 'city').mkdir(parents=True)
    with pytest.raises(DatasetError, match='is empty'):
        CityscapesDataset(tmp_path, 'val', 'cityscapes')


# --- real Cityscapes layout (a fake tree with real label ids) -------------------------------

WIDTH, HEIGHT = 16, 12


@pytest.fixture
def cityscapes_root(tmp_path):
    """
    Write one 16x12 Cityscapes frame.

    Void top, road bottom, a car (26001), a truck (27001), a person (24000), a car group
    without instance (26), disparity 10 px with an invalid patch.
    """
    labels = np.full((HEIGHT, WIDTH), 7, np.uint8)  # road
    instances = np.full((HEIGHT, WIDTH), 7, np.uint16)
    labels[:3], instances[:3] = 0, 0  # void
    labels[4:8, 1:5], instances[4:8, 1:5] = 26, 26001  # car
    labels[4:7, 6:9], instances[4:7, 6:9] = 27, 27001  # truck
    labels[5:9, 10:12], instances[5:9, 10:12] = 24, 24000  # person
    labels[9:11, 13:15], instances[9:11, 13:15] = 26, 26  # car group: no instance
    disparity = np.full((HEIGHT, WIDTH), 256 * 10 + 1, np.uint16)
    disparity[0:2, 0:4] = 0  # invalid
    image = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    stem = 'aachen_000000_000019'
    _write_png(tmp_path / 'leftImg8bit/train/aachen' / f'{stem}_leftImg8bit.png', image)
    _write_png(tmp_path / 'gtFine/train/aachen' / f'{stem}_gtFine_labelIds.png', labels)
    _write_png(tmp_path / 'gtFine/train/aachen' / f'{stem}_gtFine_instanceIds.png', instances)
    _write_png(tmp_path / 'disparity/train/aachen' / f'{stem}_disparity.png', disparity)
    camera = tmp_path / 'camera/train/aachen' / f'{stem}_camera.json'
    camera.parent.mkdir(parents=True)
    camera.write_text(json.dumps({
        'extrinsic': {'baseline': BASELINE, 'pitch': 0.038, 'roll': 0.0, 'x': 1.7, 'y': 0.1,
                      'yaw': -0.0195, 'z': 1.18},
        'intrinsic': {'fx': FX, 'fy': 2265.30, 'u0': 1096.98, 'v0': 513.137}}))
    return tmp_path


def test_cityscapes_train_ids_instances_and_depth(cityscapes_root):
    sample = CityscapesDataset(cityscapes_root, 'train', 'cityscapes', f_canon=1.0)[0]
    semantic = sample['semantic'].numpy()
    assert semantic[11, 0] == 0  # road
    assert semantic[0, 0] == 255  # void
    assert semantic[5, 2] == 13 and semantic[5, 7] == 14 and semantic[6, 10] == 11
    assert semantic[9, 13] == 13  # the car group is still car
    ids = sample['instance_ids'].numpy()
    assert ids[5, 2] == 13001 and ids[5, 7] == 14001 and ids[6, 10] == 11000  # file indices
    assert ids[9, 13] == 0 and ids[11, 0] == 0
    assert _centroid_check(sample) == 3
    np.testing.assert_allclose(sample['instance_offsets'][:, 4, 1].numpy(), [1.5, 1.5])

    valid = sample['depth_valid'].numpy()
    assert not valid[0:2, 0:4].any() and valid.sum() == WIDTH * HEIGHT - 8
    expected = (10.0 / (BASELINE * FX)) * (FX / WIDTH) / 1.0
    np.testing.assert_allclose(sample['inverse_depth'][0].numpy()[valid], expected, rtol=1e-6)
    assert (sample['inverse_depth'][0].numpy()[~valid] == 0).all()
    depth_m = sample['depth_m'][0].numpy()
    np.testing.assert_allclose(depth_m[valid], BASELINE * FX / 10.0, rtol=1e-6)
    assert np.isnan(depth_m[~valid]).all()


def test_cityscapes_categories_keep_instances_apart(cityscapes_root):
    sample = CityscapesDataset(cityscapes_root, 'train', 'cityscapes_categories')[0]
    semantic, ids = sample['semantic'].numpy(), sample['instance_ids'].numpy()
    assert semantic[5, 2] == semantic[5, 7] == 6 and semantic[6, 10] == 5
    assert (ids[5, 2], ids[5, 7], ids[6, 10]) == (6000, 6001, 5000)


def test_cityscapes_without_manifest_is_not_synth(cityscapes_root):
    with pytest.raises(DatasetError, match='no manifest.json'):
        CityscapesDataset(cityscapes_root, 'train', 'synth')


# --- transforms -----------------------------------------------------------------------------

def test_flip_negates_x_offsets(cityscapes_root):
    plain = CityscapesDataset(cityscapes_root, 'train', 'cityscapes')[0]
    flipped = CityscapesDataset(cityscapes_root, 'train', 'cityscapes',
                                transform=RandomHorizontalFlip(1.0))[0]
    offsets, mirrored = plain['instance_offsets'].numpy(), flipped['instance_offsets'].numpy()
    np.testing.assert_allclose(mirrored[0], -offsets[0][:, ::-1], atol=1e-5)
    np.testing.assert_allclose(mirrored[1], offsets[1][:, ::-1], atol=1e-5)
    np.testing.assert_array_equal(flipped['semantic'].numpy(), plain['semantic'].numpy()[:, ::-1])


def test_nearest_resize_keeps_label_values_and_f_norm(cityscapes_root):
    plain = CityscapesDataset(cityscapes_root, 'train', 'cityscapes')[0]
    for size in ((11, 7), (40, 30)):
        resized = CityscapesDataset(cityscapes_root, 'train', 'cityscapes',
                                    transform=Resize(*size))[0]
        assert resized['semantic'].shape == (size[1], size[0])
        assert set(np.unique(resized['semantic'])) <= set(np.unique(plain['semantic']))
        assert set(np.unique(resized['instance_ids'])) <= set(np.unique(plain['instance_ids']))
        _centroid_check(resized)
        # f_norm is unchanged by a resize, so the canonical inverse depth values are too.
        values = np.unique(resized['inverse_depth'].numpy())
        assert set(values) <= set(np.unique(plain['inverse_depth'].numpy()))


def test_crop_changes_f_norm_and_pads_with_ignore(cityscapes_root):
    plain = CityscapesDataset(cityscapes_root, 'train', 'cityscapes')[0]
    cropped = CityscapesDataset(cityscapes_root, 'train', 'cityscapes',
                                transform=RandomCrop(8, 6))[0]
    valid = cropped['depth_valid'].numpy()
    # Same fx, half the width: f_norm doubles (a narrower view) and so does the canonical
    # inverse depth: a crop magnifies everything, which the canonical camera sees as nearer.
    ratio = cropped['inverse_depth'][0].numpy()[valid] / plain['inverse_depth'].max().item()
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-6)
    padded = CityscapesDataset(cityscapes_root, 'train', 'cityscapes',
                               transform=Compose([RandomCrop(20, 14)]))[0]
    border = 20 * 14 - WIDTH * HEIGHT  # pixels outside the image
    semantic = padded['semantic'].numpy()
    assert (semantic == 255).sum() == border + 3 * WIDTH  # padding + the void rows
    assert (~padded['depth_valid'].numpy()).sum() == border + 8  # padding + invalid patch
    assert padded['instance_ids'].numpy()[semantic == 255].max() == 0
    assert padded['instance_mask'].sum() == plain['instance_mask'].sum()


def test_augmented_dataset_is_reproducible_and_batches(synth_data):
    dataset = build_dataset(synth_data[0], 'train', 'synth', size=(32, 24), augment=True)
    torch.manual_seed(0)
    first = dataset[0]
    torch.manual_seed(0)
    again = dataset[0]
    for key in KEYS - {'path'}:
        assert torch.equal(first[key].nan_to_num(-1) if key == 'depth_m' else first[key],
                           again[key].nan_to_num(-1) if key == 'depth_m' else again[key]), key
    assert first['image'].shape == (3, 24, 32)
    _centroid_check(first)
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch['instance_offsets'].shape == (2, 2, 24, 32)
    assert batch['depth_valid'].dtype == torch.bool and len(batch['path']) == 2


def test_instance_offsets_of_a_known_square():
    ids = np.zeros((5, 6), np.int64)
    ids[1:4, 2:5] = 7000  # centre (x 3, y 2)
    offsets, mask = instance_offsets(ids)
    assert mask.sum() == 9
    assert offsets[0, 1, 2] == 1.0 and offsets[1, 1, 2] == 1.0
    assert offsets[0, 3, 4] == -1.0 and offsets[1, 3, 4] == -1.0
