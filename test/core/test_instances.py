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

"""Instance clustering from centre votes, and the thing panoptic quality used to score it."""

from __future__ import annotations

import warnings

import cv2
from mtl_perception.core.benchmark import synthetic_frame
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.instance_metrics import panoptic_quality, PanopticQualityAccumulator
from mtl_perception.core.instances import (
    cluster_grid_torch,
    cluster_instances,
    InstanceResult,
    METHODS,
)
from mtl_perception.tools import benchmark_instances
import numpy as np
import pytest
import torch

THINGS = SYNTH_CLASSES.is_thing()
THING_IDS = SYNTH_CLASSES.thing_ids
POLE, TABLE, ROBOT, VEHICLE, OBJECT = 2, 3, 4, 5, 7


def perfect_offsets(gt_ids: np.ndarray) -> np.ndarray:
    """Exact offsets to the centroid of each instance's visible pixels; NaN elsewhere."""
    height, width = gt_ids.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    offsets = np.full((2, height, width), np.nan, dtype=np.float32)
    for instance in np.unique(gt_ids[gt_ids >= 1000]):
        mask = gt_ids == instance
        offsets[0][mask] = xs[mask].mean() - xs[mask]
        offsets[1][mask] = ys[mask].mean() - ys[mask]
    return offsets


def toy_scene() -> tuple[np.ndarray, np.ndarray]:
    """
    Return a 72 x 96 frame.

    An object cut in two by a pole, a robot touching a vehicle, a table.
    """
    semantic = np.ones((72, 96), dtype=np.uint8)  # ground
    gt_ids = np.ones((72, 96), dtype=np.int32)
    semantic[5:25, 5:55] = OBJECT  # cut by the pole at columns 26..33
    gt_ids[5:25, 5:55] = OBJECT * 1000
    semantic[:, 26:34] = POLE
    gt_ids[:, 26:34] = POLE
    semantic[35:60, 10:30] = ROBOT  # touches the vehicle along column 30
    gt_ids[35:60, 10:30] = ROBOT * 1000
    semantic[35:60, 34:54] = VEHICLE
    gt_ids[35:60, 34:54] = VEHICLE * 1000
    semantic[40:65, 65:90] = TABLE
    gt_ids[40:65, 65:90] = TABLE * 1000
    return semantic, gt_ids


def assert_same_partition(result: InstanceResult, gt_ids: np.ndarray) -> None:
    """Every ground-truth instance is exactly one predicted instance, and nothing else is."""
    predicted = result.instance_ids
    assert np.array_equal(predicted > 0, gt_ids >= 1000)
    pairs = np.unique(np.stack([gt_ids[predicted > 0], predicted[predicted > 0]]), axis=1)
    assert pairs.shape[1] == len(np.unique(gt_ids[gt_ids >= 1000])) == len(result)
    assert len(np.unique(pairs[0])) == len(np.unique(pairs[1])) == pairs.shape[1]


def test_perfect_offsets_recover_every_instance():
    semantic, gt_ids = toy_scene()
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS)
    assert_same_partition(result, gt_ids)
    quality = panoptic_quality(result.instance_ids, result.class_ids, gt_ids, semantic,
                               THING_IDS)
    assert quality['pq'] == pytest.approx(1.0)
    assert (quality['tp'], quality['fp'], quality['fn']) == (4, 0, 0)
    np.testing.assert_allclose(result.confidence, 1.0)


def test_parts_of_an_occluded_object_join_through_their_votes():
    semantic, gt_ids = toy_scene()
    parts, _ = cv2.connectedComponents((gt_ids == OBJECT * 1000).astype(np.uint8))
    assert parts - 1 == 2  # the pole really cuts it in two
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS)
    ids = np.unique(result.instance_ids[gt_ids == OBJECT * 1000])
    assert ids.size == 1 and ids[0] > 0
    index = ids[0] - 1
    assert result.class_ids[index] == OBJECT
    assert result.pixel_counts[index] == (gt_ids == OBJECT * 1000).sum()
    ys, xs = np.nonzero(gt_ids == OBJECT * 1000)
    np.testing.assert_allclose(result.centroids_px[index], (xs.mean(), ys.mean()), atol=1e-3)


def test_touching_objects_of_different_classes_stay_apart_even_with_close_centres():
    semantic = np.zeros((40, 40), dtype=np.uint8)
    gt_ids = np.zeros((40, 40), dtype=np.int32)
    semantic[10:30, 10:30] = ROBOT
    gt_ids[10:30, 10:30] = ROBOT * 1000
    semantic[30:34, 10:30] = VEHICLE  # centres 12 px apart, inside the NMS radius below
    gt_ids[30:34, 10:30] = VEHICLE * 1000
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS, nms_radius_px=20.0,
                               min_pixels=10)
    assert_same_partition(result, gt_ids)
    assert sorted(result.class_ids.tolist()) == [ROBOT, VEHICLE]


def test_two_instances_of_one_class_are_separate():
    semantic = np.zeros((40, 80), dtype=np.uint8)
    gt_ids = np.zeros((40, 80), dtype=np.int32)
    semantic[5:35, 5:35] = OBJECT
    gt_ids[5:35, 5:35] = OBJECT * 1000
    semantic[5:35, 35:75] = OBJECT  # touching, same class
    gt_ids[5:35, 35:75] = OBJECT * 1000 + 1
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS)
    assert_same_partition(result, gt_ids)


def test_small_groups_are_dropped():
    semantic, gt_ids = toy_scene()
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS, min_pixels=600)
    assert len(result) == 2  # the object (20 x 42 = 840 px after the cut) and the table (625)
    assert np.all(result.pixel_counts >= 600)
    assert set(np.unique(result.instance_ids).tolist()) == {0, 1, 2}


def test_noisy_votes_still_cluster():
    semantic, gt_ids = toy_scene()
    rng = np.random.default_rng(0)
    offsets = perfect_offsets(gt_ids) + rng.normal(0, 1.5, (2, 72, 96)).astype(np.float32)
    result = cluster_instances(semantic, offsets, THINGS)
    quality = panoptic_quality(result.instance_ids, result.class_ids, gt_ids, semantic,
                               THING_IDS)
    assert quality['tp'] == 4 and quality['fp'] == 0
    assert quality['pq'] > 0.95


@pytest.mark.parametrize('method', METHODS)
def test_empty_and_nan_inputs_give_empty_results(method):
    stuff_only = np.ones((24, 32), dtype=np.uint8)
    offsets = np.zeros((2, 24, 32), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no runtime warnings from NaN either
        for semantic, votes in (
            (stuff_only, offsets),
            (np.full((24, 32), OBJECT, np.uint8), np.full((2, 24, 32), np.nan, np.float32)),
            (np.full((24, 32), OBJECT, np.uint8), np.full((2, 24, 32), np.inf, np.float32)),
            (np.zeros((0, 0), np.uint8), np.zeros((2, 0, 0), np.float32)),
        ):
            result = cluster_instances(semantic, votes, THINGS, method=method)
            assert len(result) == 0
            assert result.instance_ids.shape == semantic.shape
            assert result.instance_ids.dtype == np.int32
            assert not result.instance_ids.any()
            assert result.centroids_px.shape == (0, 2)


def test_nan_votes_belong_to_no_instance():
    semantic, gt_ids = toy_scene()
    offsets = perfect_offsets(gt_ids)
    offsets[:, 40:45, 65:90] = np.nan  # five rows of the table cast no vote
    result = cluster_instances(semantic, offsets, THINGS)
    assert not result.instance_ids[40:45, 65:90].any()
    assert len(result) == 4
    assert (result.instance_ids[45:65, 65:90] > 0).all()


def test_inputs_as_thing_ids_int_labels_and_tensors_agree():
    semantic, gt_ids = toy_scene()
    offsets = perfect_offsets(gt_ids)
    reference = cluster_instances(semantic, offsets, THINGS)
    variants = [
        cluster_instances(semantic.astype(np.int64), offsets, list(THING_IDS)),
        cluster_instances(torch.from_numpy(semantic), torch.from_numpy(offsets), THINGS),
    ]
    for result in variants:
        np.testing.assert_array_equal(result.instance_ids, reference.instance_ids)
        np.testing.assert_array_equal(result.class_ids, reference.class_ids)
    tensors = cluster_grid_torch(torch.from_numpy(semantic), torch.from_numpy(offsets),
                                 torch.from_numpy(THINGS))
    assert isinstance(tensors.instance_ids, torch.Tensor)
    np.testing.assert_array_equal(tensors.numpy().instance_ids, reference.instance_ids)


def test_labels_outside_the_table_are_not_things():
    semantic, gt_ids = toy_scene()
    labels = semantic.astype(np.int64)
    labels[0, :] = 1000 + OBJECT  # out of range: must neither crash nor count as a thing
    labels[1, :] = -1
    result = cluster_instances(labels, perfect_offsets(gt_ids), THINGS)
    assert len(result) == 4
    assert not result.instance_ids[:2].any()


@pytest.mark.parametrize('method', ['optics', 'dbscan', 'hdbscan'])
def test_sklearn_methods_agree_with_grid_on_perfect_offsets(method):
    semantic, gt_ids = toy_scene()
    offsets = perfect_offsets(gt_ids)
    grid = cluster_instances(semantic, offsets, THINGS)
    result = cluster_instances(semantic, offsets, THINGS, method=method)
    assert_same_partition(result, gt_ids)
    # Same partition: each grid instance is exactly one instance of the other method.
    pairs = np.unique(np.stack([grid.instance_ids.ravel(), result.instance_ids.ravel()]),
                      axis=1)
    assert pairs.shape[1] == len(grid) + 1
    np.testing.assert_allclose(np.sort(result.centroids_px, axis=0),
                               np.sort(grid.centroids_px, axis=0), atol=1e-3)


def test_optics_subsample_assigns_every_pixel():
    semantic, gt_ids = toy_scene()
    rng = np.random.default_rng(1)
    offsets = perfect_offsets(gt_ids) + rng.normal(0, 1.0, (2, 72, 96)).astype(np.float32)
    result = cluster_instances(semantic, offsets, THINGS, method='optics', max_points=300)
    quality = panoptic_quality(result.instance_ids, result.class_ids, gt_ids, semantic,
                               THING_IDS)
    assert quality['tp'] == 4 and quality['pq'] > 0.95


def test_bad_arguments_are_reported():
    semantic, gt_ids = toy_scene()
    offsets = perfect_offsets(gt_ids)
    with pytest.raises(ValueError, match='unknown instance method'):
        cluster_instances(semantic, offsets, THINGS, method='kmeans')
    with pytest.raises(TypeError, match='cell_size'):
        cluster_instances(semantic, offsets, THINGS, cell_size=4)
    with pytest.raises(TypeError, match='min_size'):
        cluster_instances(semantic, offsets, THINGS, method='dbscan', min_size=10)
    with pytest.raises(ValueError, match='offsets must be'):
        cluster_instances(semantic, offsets[:, :10], THINGS)


@pytest.mark.parametrize('method', METHODS)
def test_one_settings_dict_serves_every_method(method):
    semantic, gt_ids = toy_scene()
    settings = {'min_pixels': 40, 'peak_threshold': 0.1, 'xi': 0.1, 'eps_px': 3.0,
                'max_points': 2000}  # other methods' parameters are ignored
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS, method=method,
                               **settings)
    assert_same_partition(result, gt_ids)


def test_peak_threshold_is_a_fraction_of_the_smallest_instance():
    semantic, gt_ids = toy_scene()
    offsets = perfect_offsets(gt_ids)
    # All votes of an instance fall on one point, so its peak holds all its pixels: 500 for
    # the robot and the vehicle, 625 for the table, 840 for the object.
    for threshold, count in ((1.0, 4), (1.2, 2), (1.7, 0)):
        result = cluster_instances(semantic, offsets, THINGS, min_pixels=500,
                                   peak_threshold=threshold)
        assert len(result) == count, threshold
    result = cluster_instances(semantic, offsets, THINGS, min_pixels=500, min_votes=800)
    assert result.class_ids.tolist() == [OBJECT]


def test_benchmark_frames_with_perfect_offsets_give_pq_one():
    frame = synthetic_frame(320, 240, seed=3, noise_px=0.0, outlier_fraction=0.0)
    parts, _ = cv2.connectedComponents((frame.gt_ids == frame.occluded_id).astype(np.uint8))
    assert parts - 1 >= 2
    result = cluster_instances(frame.semantic, frame.true_offsets, THINGS)
    quality = panoptic_quality(result.instance_ids, result.class_ids, frame.gt_ids,
                               frame.gt_semantic, THING_IDS)
    assert quality['pq'] == pytest.approx(1.0)


def test_benchmark_main_writes_its_section(tmp_path, capsys):
    doc = tmp_path / 'benchmarks.md'
    doc.write_text('# Benchmarks\n\nkeep me\n\n<!-- instances:begin -->\nold\n'
                   '<!-- instances:end -->\n\nand me\n')
    args = ['--sizes', '64x48', '--methods', 'grid', '--frames', '1', '--repeats', '1',
            '--write-docs', str(doc)]
    assert benchmark_instances.main(args) == 0
    text = doc.read_text()
    assert 'keep me' in text and 'and me' in text and 'old' not in text
    assert text.count('<!-- instances:begin -->') == 1
    assert '| 64x48 |' in text and '| 64x48 |' in capsys.readouterr().out


# ------------------------------------------------------------------------------------------
# Panoptic quality
# ------------------------------------------------------------------------------------------


def test_pq_counts_a_poor_match_as_false_positive_and_false_negative():
    gt_semantic = np.zeros((10, 10), dtype=np.uint8)
    gt_semantic[:, :6] = OBJECT
    gt_ids = np.where(gt_semantic == OBJECT, OBJECT * 1000, 0)
    predicted = np.zeros((10, 10), dtype=np.int32)
    predicted[:, :2] = 1  # IoU 20 / 60
    quality = panoptic_quality(predicted, [OBJECT], gt_ids, gt_semantic, THING_IDS)
    assert (quality['tp'], quality['fp'], quality['fn']) == (0, 1, 1)
    assert quality['pq'] == 0.0
    predicted[:, :5] = 1  # IoU 50 / 60
    quality = panoptic_quality(predicted, {1: OBJECT}, gt_ids, gt_semantic, THING_IDS)
    assert quality['per_class'][OBJECT]['sq'] == pytest.approx(5 / 6)
    assert quality['pq'] == pytest.approx(5 / 6)
    quality = panoptic_quality(predicted, [ROBOT], gt_ids, gt_semantic, THING_IDS)
    assert (quality['tp'], quality['fp'], quality['fn']) == (0, 1, 1)  # wrong class


def test_pq_ignores_predictions_on_void_and_crowd():
    gt_semantic = np.zeros((10, 10), dtype=np.uint8)
    gt_semantic[:, :4] = 255  # void
    gt_semantic[:, 6:] = OBJECT  # a crowd region: thing class without instance index
    gt_ids = gt_semantic.astype(np.int32)
    predicted = np.zeros((10, 10), dtype=np.int32)
    predicted[:, :5] = 1  # 40 of 50 pixels on void
    predicted[:, 5:] = 2  # 40 of 50 pixels on the crowd region of its class
    quality = panoptic_quality(predicted, [ROBOT, OBJECT], gt_ids, gt_semantic, THING_IDS)
    assert (quality['tp'], quality['fp'], quality['fn']) == (0, 0, 0)
    quality = panoptic_quality(predicted, [ROBOT, ROBOT], gt_ids, gt_semantic, THING_IDS)
    assert quality['fp'] == 1  # a crowd of another class does not excuse it


def test_pq_leaves_void_out_of_the_union():
    gt_semantic = np.zeros((10, 10), dtype=np.uint8)
    gt_semantic[:, :5] = OBJECT
    gt_semantic[:, 5:7] = 255
    gt_ids = np.where(gt_semantic == OBJECT, OBJECT * 1000 + 3, gt_semantic.astype(np.int32))
    predicted = np.zeros((10, 10), dtype=np.int32)
    predicted[:, :7] = 4  # spills onto void only
    quality = panoptic_quality(predicted, {4: OBJECT}, gt_ids, gt_semantic, THING_IDS)
    assert quality['tp'] == 1 and quality['sq'] == pytest.approx(1.0)


def test_pq_accumulator_sums_frames():
    semantic, gt_ids = toy_scene()
    result = cluster_instances(semantic, perfect_offsets(gt_ids), THINGS)
    accumulator = PanopticQualityAccumulator(THING_IDS, class_names=SYNTH_CLASSES.names)
    accumulator.update(result.instance_ids, result.class_ids, gt_ids, semantic)
    accumulator.update(np.zeros_like(gt_ids), [], gt_ids, semantic)  # misses everything
    quality = accumulator.compute()
    assert (quality['tp'], quality['fp'], quality['fn']) == (4, 0, 4)
    assert quality['pq'] == pytest.approx(2 / 3)  # RQ = 1 / (1 + 0.5) per class
    assert quality['per_class'][OBJECT]['name'] == 'object'
    assert np.isnan(quality['per_class'][6]['pq'])  # no person anywhere: left out
    assert quality['num_classes'] == 4
