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

"""Packed instance clouds: layout, byte round trips, colour packing and decimation."""

from __future__ import annotations

from mtl_perception.core import geometry
from mtl_perception.core.pointcloud import (
    build_instance_cloud,
    CLOUD_DTYPE,
    pack_rgb,
    unpack_rgb,
)
import numpy as np
import pytest


def scene(height: int = 24, width: int = 32, depth_m: float = 2.0, seed: int = 0) -> dict:
    """Return a flat wall with two instances side by side and random colours."""
    rng = np.random.default_rng(seed)
    depth = np.full((height, width), depth_m, dtype=np.float32)
    points = geometry.backproject(depth, geometry.default_camera_matrix(width, height))
    ids = np.zeros((height, width), dtype=np.int32)
    ids[4:20, 2:14] = 1
    ids[4:20, 14:30] = 2
    semantic = np.where(ids == 1, 7, np.where(ids == 2, 4, 1)).astype(np.uint8)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return {'points': points, 'rgb': rgb, 'semantic': semantic, 'instance_ids': ids}


def test_layout_matches_the_documented_fields():
    # The PointField list the ROS side derives from it: test_conversions_point_cloud.py.
    assert CLOUD_DTYPE.itemsize == 24
    layout = [(name, CLOUD_DTYPE.fields[name][1], CLOUD_DTYPE.fields[name][0].str)
              for name in CLOUD_DTYPE.names]
    assert layout == [('x', 0, '<f4'), ('y', 4, '<f4'), ('z', 8, '<f4'), ('rgb', 12, '<f4'),
                      ('instance', 16, '<u4'), ('label', 20, '<u2')]


def test_padding_is_zero_and_bytes_are_little_endian():
    data = scene()
    cloud = build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                                 data['instance_ids'])
    raw = np.frombuffer(cloud.tobytes(), dtype=np.uint8).reshape(cloud.size, 24)
    assert not raw[:, 22:].any()
    first = raw[0]
    assert first[16:20].tobytes() == int(cloud['instance'][0]).to_bytes(4, 'little')
    assert first[20:22].tobytes() == int(cloud['label'][0]).to_bytes(2, 'little')


def test_only_instance_pixels_with_finite_points_are_kept():
    data = scene()
    data['points'][4, 2] = np.nan  # a pixel of instance 1 without depth
    cloud = build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                                 data['instance_ids'])
    assert cloud.size == (data['instance_ids'] > 0).sum() - 1
    assert set(np.unique(cloud['instance']).tolist()) == {1, 2}
    assert np.isfinite(cloud['z']).all()
    labels = {1: 7, 2: 4}
    assert all(labels[int(i)] == int(lab) for i, lab in zip(cloud['instance'], cloud['label']))
    # Raster order: the first point is the first kept pixel of the image.
    v, u = np.argwhere(data['instance_ids'] > 0)[1]
    np.testing.assert_array_equal(unpack_rgb(cloud['rgb'][0]), data['rgb'][v, u])
    np.testing.assert_allclose(cloud['x'][0], data['points'][v, u, 0])


def test_rgb_packing_round_trips_and_uses_the_pcl_bit_layout():
    assert pack_rgb(np.array([255, 0, 0], np.uint8)).view(np.uint32) == 0xFF0000
    assert pack_rgb(np.array([0, 255, 0], np.uint8)).view(np.uint32) == 0x00FF00
    assert pack_rgb(np.array([1, 2, 3], np.uint8)).view(np.uint32) == 0x010203
    values = np.arange(256, dtype=np.uint8)
    colours = np.stack(np.meshgrid(values, values[::5], values[::7], indexing='ij'), -1)
    packed = pack_rgb(colours)
    assert packed.dtype == np.float32 and packed.shape == colours.shape[:-1]
    np.testing.assert_array_equal(unpack_rgb(packed), colours)
    with pytest.raises(ValueError, match='uint8'):
        pack_rgb(np.zeros((2, 3), np.float32))


def test_nan_and_empty_frames_give_empty_clouds():
    data = scene()
    nan_points = np.full_like(data['points'], np.nan)
    cases = [
        (nan_points, data['rgb'], data['semantic'], data['instance_ids']),
        (data['points'], data['rgb'], data['semantic'], np.zeros((24, 32), np.int32)),
        (np.zeros((0, 0, 3), np.float32), np.zeros((0, 0, 3), np.uint8),
         np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.int32)),
    ]
    for points, rgb, semantic, ids in cases:
        for voxel in (None, 0.05):
            cloud = build_instance_cloud(points, rgb, semantic, ids, voxel_size_m=voxel,
                                         max_range_m=10.0)
            assert cloud.shape == (0,) and cloud.dtype == CLOUD_DTYPE
            assert cloud.tobytes() == b''


def test_sky_pixels_of_an_instance_give_no_points():
    inverse = np.zeros((8, 8), np.float32)
    inverse[:, 4:] = 0.5
    depth_m = geometry.canonical_inverse_depth_to_depth_m(inverse, 8.0, 8)
    points = geometry.backproject(depth_m, geometry.default_camera_matrix(8, 8))
    ids = np.ones((8, 8), np.int32)
    cloud = build_instance_cloud(points, None, np.zeros((8, 8), np.uint8), ids)
    assert cloud.size == 32
    assert not cloud['rgb'].view(np.uint32).any()  # no colours given: black


def test_stride_keeps_every_nth_row_and_column():
    data = scene()
    data['instance_ids'][:] = 1
    for stride, expected in ((1, 24 * 32), (2, 12 * 16), (3, 8 * 11), (5, 5 * 7)):
        cloud = build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                                     data['instance_ids'], stride=stride)
        assert cloud.size == expected
    with pytest.raises(ValueError, match='stride'):
        build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                             data['instance_ids'], stride=0)


def test_voxel_decimation_keeps_one_point_per_voxel_per_instance():
    # Points on an exact 1 cm grid in the plane z = 1; 4 cm voxels hold 4 x 4 of them.
    v, u = np.mgrid[0:32, 0:32].astype(np.float32)
    points = np.stack([u * 0.01 + 0.005, v * 0.01 + 0.005, np.ones_like(u)], -1)
    ids = np.ones((32, 32), np.int32)
    ids[:, 16:] = 2
    ids[:2, :2] = 3  # a small instance sharing voxels with instance 1
    semantic = np.zeros((32, 32), np.uint8)
    cloud = build_instance_cloud(points, None, semantic, ids, voxel_size_m=0.04)
    per_instance = {i: int((cloud['instance'] == i).sum()) for i in (1, 2, 3)}
    assert per_instance == {1: 8 * 4, 2: 8 * 4, 3: 1}
    keys = np.stack([cloud['instance'], np.floor(cloud['x'] / 0.04),
                     np.floor(cloud['y'] / 0.04)], 1)
    assert np.unique(keys, axis=0).shape[0] == cloud.size  # one per voxel and instance
    first = cloud[cloud['instance'] == 1][0]
    assert (first['x'], first['y']) == (points[0, 2, 0], points[0, 2, 1])  # raster order
    coarse = build_instance_cloud(points, None, semantic, ids, voxel_size_m=1.0)
    assert coarse.size == 3


def test_max_range_limits_depth():
    data = scene(depth_m=12.0)
    kept = build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                                data['instance_ids'], max_range_m=15.0)
    dropped = build_instance_cloud(data['points'], data['rgb'], data['semantic'],
                                   data['instance_ids'], max_range_m=10.0)
    assert kept.size == (data['instance_ids'] > 0).sum() and dropped.size == 0


def test_shape_mismatch_is_reported():
    data = scene()
    with pytest.raises(ValueError, match='semantic must have shape'):
        build_instance_cloud(data['points'], data['rgb'], data['semantic'][:-1],
                             data['instance_ids'])


def test_unpacking_refuses_colours_that_lost_their_bits():
    with pytest.raises(ValueError, match='float32'):
        unpack_rgb(np.zeros(3, np.float64))
    packed = pack_rgb(np.array([[9, 8, 7]], np.uint8))
    np.testing.assert_array_equal(unpack_rgb(packed[0]), [9, 8, 7])  # a scalar works too
