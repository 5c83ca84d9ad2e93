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

"""PointCloud2 <-> structured arrays, and the PointField tables behind both."""

import array
import sys

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import make_header  # noqa: E402, I100
from mtl_perception.core import geometry, pointcloud  # noqa: E402
from mtl_perception.ros.conversions import (  # noqa: E402
    dtype_from_pointfields,
    pointcloud2_to_structured,
    pointfields_from_dtype,
    structured_to_pointcloud2,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import (  # noqa: E402
    Image,
    PointCloud2,
    PointField,
)

LITTLE_ENDIAN = sys.byteorder == 'little'

PADDED_DTYPE = np.dtype({
    'names': ['x', 'y', 'z', 'rgb', 'label', 'instance'],
    'formats': ['<f4', '<f4', '<f4', '<f4', '<u2', '<u4'],
    'offsets': [0, 4, 8, 16, 20, 24],
    'itemsize': 32,
})
BIG_ENDIAN_PADDED_DTYPE = np.dtype({
    'names': list(PADDED_DTYPE.names),
    'formats': ['>f4', '>f4', '>f4', '>f4', '>u2', '>u4'],
    'offsets': [0, 4, 8, 16, 20, 24], 'itemsize': 32})


def make_points(count=5, dtype=PADDED_DTYPE, seed=1):
    rng = np.random.default_rng(seed)
    points = np.zeros(count, dtype=dtype)
    for name in ('x', 'y', 'z', 'rgb'):
        points[name] = rng.standard_normal(count).astype(np.float32)
    points['label'] = rng.integers(0, 65535, count)
    points['instance'] = rng.integers(0, 2**32 - 1, count, dtype=np.uint32)
    return points


def assert_points_equal(actual, expected):
    assert actual.dtype.names == expected.dtype.names
    for name in expected.dtype.names:
        assert actual[name].dtype == expected[name].dtype, name
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_pointcloud2_layout_from_a_padded_dtype():
    points = make_points()
    msg = structured_to_pointcloud2(points, make_header())
    assert (msg.height, msg.width) == (1, 5)
    assert (msg.point_step, msg.row_step) == (32, 160)
    assert len(msg.data) == 160
    assert msg.is_bigendian == (not LITTLE_ENDIAN)
    assert msg.is_dense
    layout = [(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    assert layout == [('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
                      ('z', 8, PointField.FLOAT32, 1), ('rgb', 16, PointField.FLOAT32, 1),
                      ('label', 20, PointField.UINT16, 1),
                      ('instance', 24, PointField.UINT32, 1)]
    assert msg.header.frame_id == 'camera_optical_frame'


@pytest.mark.parametrize('dtype', [PADDED_DTYPE, np.dtype([
    ('x', 'f4'), ('y', 'f4'), ('z', 'f4'), ('rgb', 'f4'), ('label', 'u2'),
    ('instance', 'u4')])])
def test_pointcloud2_round_trip_field_by_field(dtype):
    points = make_points(dtype=dtype)
    msg = structured_to_pointcloud2(points, make_header())
    back = pointcloud2_to_structured(msg)
    assert back.dtype.itemsize == dtype.itemsize
    assert_points_equal(back, points)
    restored = deserialize_message(serialize_message(msg), PointCloud2)
    assert_points_equal(pointcloud2_to_structured(restored), points)


def test_empty_pointcloud2_round_trip():
    msg = structured_to_pointcloud2(make_points(0), make_header())
    assert (msg.height, msg.width, len(msg.data)) == (1, 0, 0)
    assert msg.is_dense
    back = pointcloud2_to_structured(deserialize_message(serialize_message(msg), PointCloud2))
    assert back.shape == (0,) and back.dtype.names == PADDED_DTYPE.names


def test_default_pointcloud2_message_reads_as_empty():
    assert pointcloud2_to_structured(PointCloud2()).shape == (0,)


def test_pointcloud2_is_not_dense_with_nan_coordinates():
    points = make_points()
    points['z'][2] = np.nan
    assert not structured_to_pointcloud2(points).is_dense
    assert structured_to_pointcloud2(points, is_dense=True).is_dense


def test_organised_pointcloud2_round_trip():
    points = make_points(12).reshape(3, 4)
    msg = structured_to_pointcloud2(points)
    assert (msg.height, msg.width, msg.row_step) == (3, 4, 128)
    assert pointcloud2_to_structured(msg).shape == (12,)
    assert_points_equal(pointcloud2_to_structured(msg, organized=True), points)


def test_explicit_fields_repack_the_points():
    points = make_points(dtype=np.dtype([('x', 'f8'), ('y', 'f8'), ('z', 'f8'),
                                         ('rgb', 'f4'), ('label', 'u2'), ('instance', 'u4')]))
    fields = [('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
              PointField(name='z', offset=8, datatype=PointField.FLOAT32, count=1),
              ('label', 12, PointField.UINT16)]
    msg = structured_to_pointcloud2(points, make_header(), fields)
    assert msg.point_step == 14
    back = pointcloud2_to_structured(msg)
    assert back.dtype.names == ('x', 'y', 'z', 'label')
    np.testing.assert_array_equal(back['x'], points['x'].astype(np.float32))
    np.testing.assert_array_equal(back['label'], points['label'])


def test_explicit_fields_must_exist_and_cast_safely():
    points = make_points()
    with pytest.raises(ValueError, match="'intensity' is not in the points dtype"):
        structured_to_pointcloud2(points, fields=[('intensity', 0, PointField.FLOAT32, 1)])
    with pytest.raises(ValueError, match="'x' of dtype float32 cannot be stored safely"):
        structured_to_pointcloud2(points, fields=[('x', 0, PointField.INT16, 1)])


def test_multi_count_fields_become_sub_arrays():
    dtype = np.dtype([('xyz', '<f4', (3,)), ('label', 'u1')])
    points = np.zeros(4, dtype=dtype)
    points['xyz'] = np.arange(12, dtype=np.float32).reshape(4, 3)
    points['label'] = [1, 2, 3, 4]
    msg = structured_to_pointcloud2(points)
    assert [(f.name, f.count) for f in msg.fields] == [('xyz', 3), ('label', 1)]
    assert_points_equal(pointcloud2_to_structured(msg), points)


def test_reading_honours_row_padding():
    points = make_points(6)
    row_bytes = 3 * PADDED_DTYPE.itemsize
    rows = np.zeros((2, row_bytes + 8), np.uint8)
    rows[:, :row_bytes] = points.view(np.uint8).reshape(2, row_bytes)
    msg = structured_to_pointcloud2(points[:1])
    msg.height, msg.width, msg.row_step = 2, 3, row_bytes + 8
    msg.data = array.array('B', rows.tobytes())
    assert_points_equal(pointcloud2_to_structured(msg), points)


def test_reading_a_big_endian_cloud():
    points = make_points()
    big = points.astype(BIG_ENDIAN_PADDED_DTYPE)
    msg = structured_to_pointcloud2(points)
    msg.is_bigendian = True
    msg.data = array.array('B', big.tobytes())
    back = pointcloud2_to_structured(msg)
    assert all(back.dtype.fields[name][0].isnative for name in back.dtype.names)
    assert_points_equal(back, points)


def test_writing_a_big_endian_array_stores_native_order():
    points = make_points()
    big = points.astype(BIG_ENDIAN_PADDED_DTYPE)
    assert_points_equal(pointcloud2_to_structured(structured_to_pointcloud2(big)), points)


def test_reading_returns_a_view_unless_copied():
    msg = structured_to_pointcloud2(make_points())
    buffer = np.frombuffer(msg.data, np.uint8)
    assert np.shares_memory(pointcloud2_to_structured(msg), buffer)
    assert not np.shares_memory(pointcloud2_to_structured(msg, copy=True), buffer)


def test_unnamed_padding_fields_get_a_name():
    msg = structured_to_pointcloud2(make_points())
    msg.fields[3].name = ''
    assert 'unnamed_3' in pointcloud2_to_structured(msg).dtype.names


def test_unknown_point_datatype_is_named():
    msg = structured_to_pointcloud2(make_points())
    msg.fields[4].datatype = 9
    with pytest.raises(ValueError, match="'label' has datatype 9.*FLOAT32=7"):
        pointcloud2_to_structured(msg)


def test_short_point_data_names_expected_and_actual_bytes():
    msg = structured_to_pointcloud2(make_points())
    msg.data = msg.data[:-1]
    with pytest.raises(ValueError, match='expected .* = 160 bytes, got 159 bytes'):
        pointcloud2_to_structured(msg)


def test_fields_beyond_point_step_are_rejected():
    msg = structured_to_pointcloud2(make_points())
    msg.point_step = 24
    msg.row_step = 24 * 5
    with pytest.raises(ValueError, match='end at byte 28 but point_step is 24'):
        pointcloud2_to_structured(msg)


def test_row_step_shorter_than_a_row_is_rejected():
    msg = structured_to_pointcloud2(make_points())
    msg.row_step = 100
    with pytest.raises(ValueError, match='row_step is 100'):
        pointcloud2_to_structured(msg)


def test_duplicate_field_names_are_rejected():
    msg = structured_to_pointcloud2(make_points())
    msg.fields[1].name = 'x'
    with pytest.raises(ValueError, match="'x' appears twice"):
        pointcloud2_to_structured(msg)


def test_bad_point_arrays_are_rejected():
    with pytest.raises(TypeError, match='structured numpy.ndarray'):
        structured_to_pointcloud2([(1.0, 2.0, 3.0)])
    with pytest.raises(ValueError, match='structured dtype'):
        structured_to_pointcloud2(np.zeros((4, 3), np.float32))
    with pytest.raises(ValueError, match='float16'):
        structured_to_pointcloud2(np.zeros(3, dtype=[('x', 'f2')]))
    with pytest.raises(TypeError, match='sensor_msgs/PointCloud2'):
        pointcloud2_to_structured(Image())


# ------------------------------------------------------------------------------------------
# The instance cloud of core.pointcloud through the PointField tables
# ------------------------------------------------------------------------------------------


def instance_cloud(height=24, width=32):
    """Return the packed cloud of a flat wall 2 m away with two instances and random colours."""
    ids = np.zeros((height, width), np.int32)
    ids[4:20, 2:14] = 1
    ids[4:20, 14:30] = 2
    rgb = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return pointcloud.instance_cloud_from_depth(
        np.full((height, width), 2.0, np.float32), geometry.default_camera_matrix(width, height),
        rgb, (ids * 3).astype(np.uint8), ids)


def test_instance_cloud_fields_match_the_documented_layout():
    fields = [(f.name, f.offset, f.datatype, f.count)
              for f in pointfields_from_dtype(pointcloud.CLOUD_DTYPE)]
    assert fields == [
        ('x', 0, PointField.FLOAT32, 1), ('y', 4, PointField.FLOAT32, 1),
        ('z', 8, PointField.FLOAT32, 1), ('rgb', 12, PointField.FLOAT32, 1),
        ('instance', 16, PointField.UINT32, 1), ('label', 20, PointField.UINT16, 1)]
    assert (PointField.INT8, PointField.FLOAT64) == (1, 8)


def test_instance_cloud_round_trips_through_bytes_field_by_field():
    cloud = instance_cloud()
    assert cloud.size == 2 * 16 * 12 + 16 * 4
    msg = structured_to_pointcloud2(cloud, make_header())
    assert (msg.point_step, msg.row_step) == (24, 24 * cloud.size)
    assert len(msg.data) == cloud.size * cloud.dtype.itemsize
    decoded = pointcloud2_to_structured(msg)
    for name in cloud.dtype.names:
        # Compare bits, so the packed rgb floats are checked exactly too.
        assert decoded[name].tobytes() == cloud[name].tobytes(), name
    # PointField messages and (name, offset, datatype, count) tuples describe the same dtype.
    tuples = [(f.name, f.offset, f.datatype, f.count) for f in msg.fields]
    assert dtype_from_pointfields(msg.fields, cloud.dtype.itemsize) == cloud.dtype
    assert dtype_from_pointfields(tuples, cloud.dtype.itemsize) == cloud.dtype


def test_field_descriptions_reject_what_pointfield_cannot_hold():
    with pytest.raises(ValueError, match='PointField cannot'):
        pointfields_from_dtype(np.dtype([('x', '<f4'), ('id', '<i8')]))
    with pytest.raises(ValueError, match='do not fit'):
        dtype_from_pointfields([('x', 0, PointField.FLOAT64, 1)], 4)
    with pytest.raises(ValueError, match='not one of the PointField types'):
        dtype_from_pointfields([('x', 0, 9, 1)], 8)
    vector = np.dtype([('normal', '<f4', (3,)), ('label', '<u2')])
    fields = pointfields_from_dtype(vector)
    assert [(f.name, f.offset, f.datatype, f.count) for f in fields] == [
        ('normal', 0, PointField.FLOAT32, 3), ('label', 12, PointField.UINT16, 1)]
    assert dtype_from_pointfields(fields, vector.itemsize) == vector
