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

"""One frame, done once: only the asked heads run, work at the network's resolution, few copies."""

import cv2
from mtl_perception.core import geometry, instances, pointcloud
from mtl_perception.core.instances.grid import suppress_close_peaks
from mtl_perception.core.instances.votes import assign_nearest, collect_votes
from mtl_perception.core.pipeline import PipelineConfig, ScenePipeline
from mtl_perception.core.predictor import Predictor
from mtl_perception.core.transfer import resize_labels, resize_smooth, to_host
import numpy as np
import pytest
import torch
import torch.nn.functional as F


def _heads_run(predictor: Predictor) -> list[str]:
    calls: list[str] = []
    for task, head in predictor.model.heads.items():
        head.register_forward_hook(lambda module, args, out, task=task: calls.append(task))
    return calls


def test_only_the_heads_asked_for_run(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    calls = _heads_run(predictor)
    image = np.zeros((48, 64, 3), np.uint8)
    prediction = predictor.predict(image, outputs={'depth'})
    assert calls == ['depth'] and prediction.semantic is None
    calls.clear()
    ScenePipeline(predictor).process(image, outputs={'semantic'})
    assert calls == ['semantic']
    calls.clear()
    ScenePipeline(predictor).process(image, outputs={'instances'})
    assert sorted(calls) == ['instance', 'semantic']


def test_outputs_are_reduced_at_the_network_resolution(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    net = predictor.infer(np.zeros((120, 160, 3), np.uint8), confidence=True)
    assert net.network_size == (64, 48)
    assert net.semantic.dtype == torch.uint8 and tuple(net.semantic.shape) == (48, 64)
    assert tuple(net.instance_offsets.shape) == (2, 48, 64)
    assert tuple(net.inverse_depth.shape) == (48, 64)
    assert net.semantic_confidence.dtype == torch.float32


def test_cpu_resizes_match_torch():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 200, (48, 64), generator=generator, dtype=torch.int32)
    smooth = torch.rand((2, 48, 64), generator=generator)
    for size in ((160, 120), (100, 30), (32, 24), (640, 480), (1280, 720), (333, 197)):
        expected = F.interpolate(labels[None, None].float(), size=size[::-1],
                                 mode='nearest-exact')[0, 0].to(torch.int32)
        assert torch.equal(resize_labels(labels, size), expected)
        bilinear = F.interpolate(smooth[None], size=size[::-1], mode='bilinear',
                                 align_corners=False)[0]
        torch.testing.assert_close(resize_smooth(smooth, size), bilinear, atol=1e-5, rtol=0)


def test_one_copy_packing_restores_every_dtype_and_shape():
    tensors = {'labels': torch.arange(35, dtype=torch.uint8).reshape(5, 7),
               'ids': torch.arange(-6, 6, dtype=torch.int32).reshape(3, 4),
               'depth': torch.linspace(0, 1, 9).reshape(3, 3),
               'counts': torch.tensor([1, 2, 3], dtype=torch.int64)}
    packed = to_host(tensors, single_copy=True)
    for key, tensor in tensors.items():
        assert packed[key].dtype == tensor.numpy().dtype
        np.testing.assert_array_equal(packed[key], tensor.numpy())


def _greedy_reference(centres, slot, strength, radius, limit):
    kept = []
    for index in np.argsort(-strength, kind='stable'):
        if len(kept) >= limit:
            break
        if any(slot[k] == slot[index] and ((centres[k] - centres[index]) ** 2).sum() < radius ** 2
               for k in kept):
            continue
        kept.append(index)
    return sorted(kept)


@pytest.mark.parametrize('seed', range(5))
def test_vectorised_peak_suppression_is_greedy_nms(seed):
    rng = np.random.default_rng(seed)
    count = 300
    centres = rng.uniform(0, 100, (count, 2))
    slot = rng.integers(0, 3, count)
    strength = rng.integers(1, 20, count).astype(np.float64)  # ties on purpose
    for limit in (255, 10):
        kept = suppress_close_peaks(torch.from_numpy(centres).float(), torch.from_numpy(slot),
                                    torch.from_numpy(strength), 12.0, limit)
        assert kept.tolist() == _greedy_reference(centres.astype(np.float32), slot, strength,
                                                  12.0, limit)


def test_assignment_finds_the_nearest_centre_of_the_class():
    rng = np.random.default_rng(1)
    height, width = 60, 80
    semantic = rng.integers(3, 5, (height, width)).astype(np.uint8)
    offsets = rng.normal(0, 15, (2, height, width)).astype(np.float32)
    table = torch.from_numpy(instances.thing_table([3, 4]))
    votes = collect_votes(torch.from_numpy(semantic), torch.from_numpy(offsets), table)
    centres = torch.from_numpy(rng.uniform(0, 80, (40, 2)).astype(np.float32))
    centre_slot = torch.from_numpy(rng.integers(0, 2, 40))
    # Peaks that survive suppression are at least nms_radius_px apart within a class.
    keep = suppress_close_peaks(centres, centre_slot, torch.ones(40), 12.0, 255)
    centres, centre_slot = centres[keep], centre_slot[keep]
    assignment, distance2 = assign_nearest(votes, centres, centre_slot, 30.0)
    points = torch.stack([votes.vote_x, votes.vote_y], 1)
    full = ((points[:, None] - centres[None]) ** 2).sum(-1)
    full[votes.slot[:, None] != centre_slot[None, :]] = float('inf')
    best2, best = full.min(1)
    expected = torch.where(best2 <= 900.0, best, torch.full_like(best, -1))
    assert torch.equal(assignment, expected)
    torch.testing.assert_close(distance2, best2)


def test_cloud_from_depth_equals_backprojecting_every_pixel():
    rng = np.random.default_rng(2)
    height, width = 30, 40
    depth = rng.uniform(0.5, 30.0, (height, width)).astype(np.float32)
    depth[0, :5] = np.nan
    ids = rng.integers(0, 4, (height, width)).astype(np.int32)
    semantic = rng.integers(0, 8, (height, width)).astype(np.uint8)
    rgb = rng.integers(0, 255, (height, width, 3)).astype(np.uint8)
    K = np.array([[35.0, 0.3, 19.2], [0.0, 33.0, 14.1], [0.0, 0.0, 1.0]])
    for stride, voxel in ((1, None), (2, None), (3, 0.5)):
        expected = pointcloud.build_instance_cloud(
            geometry.backproject(depth, K), rgb, semantic, ids, stride=stride,
            voxel_size_m=voxel, max_range_m=20.0)
        cloud = pointcloud.instance_cloud_from_depth(depth, K, rgb, semantic, ids,
                                                     stride=stride, voxel_size_m=voxel,
                                                     max_range_m=20.0)
        assert cloud.dtype == expected.dtype and cloud.shape == expected.shape
        for name in ('x', 'y', 'z'):
            np.testing.assert_allclose(cloud[name], expected[name], rtol=1e-6)
        for name in ('rgb', 'instance', 'label'):
            np.testing.assert_array_equal(cloud[name].view(np.uint32) if name == 'rgb'
                                          else cloud[name], expected[name].view(np.uint32)
                                          if name == 'rgb' else expected[name])


def test_instances_do_not_depend_on_the_output_size(tiny_checkpoint):
    from mtl_perception.synth import render_frame

    frame = render_frame(90_001, 64, 48)
    pipeline = ScenePipeline(Predictor(tiny_checkpoint, device='cpu'),
                             PipelineConfig(instance_min_pixels=2, instance_peak_threshold=0.2))
    reference = pipeline.process(frame.rgb, frame.K, {'instances'}).instances
    assert len(reference) > 0
    for scale in (2, 5):
        size = (64 * scale, 48 * scale)
        image = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_NEAREST)
        found = pipeline.process(image, None, {'instances'}).instances
        assert len(found) == len(reference)
        np.testing.assert_array_equal(found.instance_ids[::scale, ::scale],
                                      reference.instance_ids)
        np.testing.assert_array_equal(found.pixel_counts, reference.pixel_counts)
