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

"""Tests of the ROS <-> NumPy conversion layer with the real message classes."""

import array
import sys
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from builtin_interfaces.msg import Time  # noqa: E402, I100
import cv2  # noqa: E402
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from mtl_perception.ros import conversions  # noqa: E402
from mtl_perception.ros.conversions import (  # noqa: E402
    camera_info_to_intrinsics,
    compressed_image_to_numpy,
    copy_header,
    depth_image_to_metres,
    diagnostic_status,
    image_to_numpy,
    image_to_rgb,
    instance_markers,
    numpy_to_image,
    pointcloud2_to_structured,
    scaled_camera_info,
    structured_to_pointcloud2,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import (  # noqa: E402
    CameraInfo,
    CompressedImage,
    Image,
    PointCloud2,
    PointField,
    RegionOfInterest,
)
from std_msgs.msg import Header  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

LITTLE_ENDIAN = sys.byteorder == 'little'


def make_header(sec=12, nanosec=345, frame_id='camera_optical_frame'):
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=frame_id)


def raw_image(encoding, height, width, step, payload, is_bigendian=False):
    return Image(header=make_header(), height=height, width=width, encoding=encoding,
                 is_bigendian=int(is_bigendian), step=step, data=array.array('B', payload))


def random_pixels(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


# ------------------------------------------------------------------------------------------
# Image -> NumPy: known values
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize('encoding', ['rgb8', 'bgr8', '8UC3'])
def test_three_channel_bytes_are_read_in_encoding_order(encoding):
    msg = raw_image(encoding, 1, 2, 6, bytes([1, 2, 3, 4, 5, 6]))
    pixels = image_to_numpy(msg)
    assert pixels.dtype == np.uint8
    assert pixels.shape == (1, 2, 3)
    assert pixels.tolist() == [[[1, 2, 3], [4, 5, 6]]]


@pytest.mark.parametrize('encoding', ['rgba8', 'bgra8'])
def test_four_channel_bytes_are_read_in_encoding_order(encoding):
    msg = raw_image(encoding, 1, 2, 8, bytes(range(1, 9)))
    assert image_to_numpy(msg).tolist() == [[[1, 2, 3, 4], [5, 6, 7, 8]]]


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
def test_mono8_is_two_dimensional(encoding):
    msg = raw_image(encoding, 2, 2, 2, bytes([0, 1, 254, 255]))
    pixels = image_to_numpy(msg)
    assert pixels.shape == (2, 2)
    assert pixels.tolist() == [[0, 1], [254, 255]]


@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
def test_sixteen_bit_little_endian_values(encoding):
    payload = np.array([[1, 256], [4660, 65535]], dtype='<u2').tobytes()
    pixels = image_to_numpy(raw_image(encoding, 2, 2, 4, payload))
    assert pixels.dtype == np.uint16
    assert pixels.tolist() == [[1, 256], [4660, 65535]]


def test_float32_values():
    values = np.array([[0.5, -1.25, np.inf]], dtype='<f4')
    pixels = image_to_numpy(raw_image('32FC1', 1, 3, 12, values.tobytes()))
    assert pixels.dtype == np.float32
    np.testing.assert_array_equal(pixels, values)


def test_signed_and_double_generic_encodings():
    signed = np.array([[-2, 3]], dtype='<i2')
    assert image_to_numpy(raw_image('16SC1', 1, 2, 4, signed.tobytes())).tolist() == [[-2, 3]]
    doubles = np.array([[1e-300, -2.5]], dtype='<f8')
    np.testing.assert_array_equal(
        image_to_numpy(raw_image('64FC1', 1, 2, 16, doubles.tobytes())), doubles)


@pytest.mark.parametrize('encoding, dtype', [('mono16', '>u2'), ('16UC1', '>u2'),
                                             ('32FC1', '>f4'), ('64FC1', '>f8')])
def test_big_endian_data_is_swapped_to_native(encoding, dtype):
    values = random_pixels((3, 4), dtype.replace('>', '<'))
    payload = values.astype(dtype).tobytes()
    step = 4 * np.dtype(dtype).itemsize
    pixels = image_to_numpy(raw_image(encoding, 3, 4, step, payload, is_bigendian=True))
    assert pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, values)


@pytest.mark.parametrize('encoding, dtype, channels, padding', [
    ('rgb8', np.uint8, 3, 7),
    ('mono8', np.uint8, 1, 3),
    ('16UC1', np.uint16, 1, 3),   # odd padding: rows start unaligned
    ('32FC1', np.float32, 1, 4),
])
def test_padded_rows_are_skipped(encoding, dtype, channels, padding):
    height, width = 3, 5
    shape = (height, width, channels) if channels > 1 else (height, width)
    values = random_pixels(shape, dtype)
    row_bytes = width * channels * np.dtype(dtype).itemsize
    rows = np.full((height, row_bytes + padding), 0xAB, dtype=np.uint8)
    rows[:, :row_bytes] = values.reshape(height, -1).view(np.uint8)
    msg = raw_image(encoding, height, width, row_bytes + padding, rows.tobytes())
    np.testing.assert_array_equal(image_to_numpy(msg), values)
    assert image_to_numpy(msg, copy=True).flags.c_contiguous


def test_padded_big_endian_rows():
    values = np.array([[1, 2], [3, 65000]], dtype=np.uint16)
    rows = np.zeros((2, 6), dtype=np.uint8)
    rows[:, :4] = values.astype('>u2').view(np.uint8).reshape(2, 4)
    msg = raw_image('mono16', 2, 2, 6, rows.tobytes(), is_bigendian=True)
    np.testing.assert_array_equal(image_to_numpy(msg), values)


def test_extra_trailing_bytes_are_ignored():
    msg = raw_image('mono8', 1, 2, 2, bytes([7, 8, 9, 9]))
    assert image_to_numpy(msg).tolist() == [[7, 8]]


def test_result_is_a_view_of_the_message_unless_copied():
    msg = numpy_to_image(random_pixels((4, 6, 3), np.uint8), 'rgb8')
    view = image_to_numpy(msg)
    assert np.shares_memory(view, np.frombuffer(msg.data, dtype=np.uint8))
    copied = image_to_numpy(msg, copy=True)
    assert not np.shares_memory(copied, np.frombuffer(msg.data, dtype=np.uint8))
    np.testing.assert_array_equal(copied, view)


@pytest.mark.parametrize('make_data', [bytes, bytearray, lambda b: np.frombuffer(b, np.uint8),
                                       list])
def test_data_of_other_containers_is_read(make_data):
    """Duck-typed messages (rosbags, hand-built) may carry bytes, ndarrays or lists."""
    payload = bytes([1, 2, 3, 4, 5, 6])
    msg = SimpleNamespace(height=1, width=2, encoding='rgb8', is_bigendian=0, step=6,
                          data=make_data(payload))
    assert image_to_numpy(msg).tolist() == [[[1, 2, 3], [4, 5, 6]]]


def test_rosbags_image_is_accepted():
    typestore = pytest.importorskip('rosbags.typesys')
    store = typestore.get_typestore(typestore.Stores.ROS2_HUMBLE)
    Header_ = store.types['std_msgs/msg/Header']
    Time_ = store.types['builtin_interfaces/msg/Time']
    RosbagsImage = store.types['sensor_msgs/msg/Image']
    msg = RosbagsImage(header=Header_(stamp=Time_(sec=1, nanosec=2), frame_id='cam'),
                       height=1, width=2, encoding='bgr8', is_bigendian=0, step=6,
                       data=np.array([1, 2, 3, 4, 5, 6], dtype=np.uint8))
    assert image_to_rgb(msg).tolist() == [[[3, 2, 1], [6, 5, 4]]]


# ------------------------------------------------------------------------------------------
# NumPy -> Image -> NumPy
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize('encoding, dtype, channels', [
    ('rgb8', np.uint8, 3), ('bgr8', np.uint8, 3), ('rgba8', np.uint8, 4),
    ('bgra8', np.uint8, 4), ('mono8', np.uint8, 1), ('mono16', np.uint16, 1),
    ('16UC1', np.uint16, 1), ('32FC1', np.float32, 1), ('8UC3', np.uint8, 3),
    ('16SC1', np.int16, 1), ('64FC1', np.float64, 1), ('32FC3', np.float32, 3),
])
def test_round_trip(encoding, dtype, channels):
    shape = (5, 7, channels) if channels > 1 else (5, 7)
    values = random_pixels(shape, dtype)
    msg = numpy_to_image(values, encoding, make_header())
    assert (msg.height, msg.width, msg.encoding) == (5, 7, encoding)
    assert msg.step == 7 * channels * np.dtype(dtype).itemsize
    assert len(msg.data) == msg.step * msg.height
    assert msg.is_bigendian == (sys.byteorder == 'big')
    assert isinstance(msg.data, array.array) and msg.data.typecode == 'B'
    back = image_to_numpy(msg)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, values)


def test_round_trip_through_serialization():
    values = random_pixels((6, 8, 3), np.uint8)
    msg = numpy_to_image(values, 'rgb8', make_header())
    restored = deserialize_message(serialize_message(msg), Image)
    np.testing.assert_array_equal(image_to_numpy(restored), values)
    assert restored.header.frame_id == 'camera_optical_frame'
    assert (restored.header.stamp.sec, restored.header.stamp.nanosec) == (12, 345)
    depth = random_pixels((6, 8), np.float32)
    restored = deserialize_message(serialize_message(numpy_to_image(depth, '32FC1')), Image)
    np.testing.assert_array_equal(image_to_numpy(restored), depth)


def test_numpy_to_image_copies_the_header():
    header = make_header(sec=99, nanosec=7, frame_id='left')
    msg = numpy_to_image(np.zeros((2, 2), np.uint8), 'mono8', header)
    header.stamp.sec = 1
    header.frame_id = 'changed'
    assert msg.header is not header
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (
        99, 7, 'left')


def test_numpy_to_image_without_header_gets_an_empty_one():
    msg = numpy_to_image(np.zeros((2, 2), np.uint8), 'mono8')
    assert msg.header.frame_id == '' and msg.header.stamp.sec == 0


def test_numpy_to_image_accepts_views_and_foreign_byte_order():
    values = random_pixels((6, 10, 3), np.uint8)
    strided = values[::2, 1::3]
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(strided, 'rgb8')), strided)
    depth = random_pixels((3, 4), np.float32)
    swapped = depth.astype(depth.dtype.newbyteorder('S'))
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(swapped, '32FC1')), depth)


def test_numpy_to_image_accepts_a_trailing_single_channel():
    values = random_pixels((3, 4, 1), np.uint8)
    np.testing.assert_array_equal(image_to_numpy(numpy_to_image(values, 'mono8')), values[..., 0])


# ------------------------------------------------------------------------------------------
# image_to_rgb and depth
# ------------------------------------------------------------------------------------------

RGB = np.array([[[10, 20, 30], [40, 50, 60]]], dtype=np.uint8)  # (1, 2, 3)


@pytest.mark.parametrize('encoding, stored', [
    ('rgb8', RGB),
    ('bgr8', RGB[..., ::-1]),
    ('8UC3', RGB[..., ::-1]),
    ('rgba8', np.concatenate([RGB, np.full((1, 2, 1), 255, np.uint8)], axis=2)),
    ('bgra8', np.concatenate([RGB[..., ::-1], np.full((1, 2, 1), 9, np.uint8)], axis=2)),
])
def test_image_to_rgb_orders_channels(encoding, stored):
    rgb = image_to_rgb(numpy_to_image(np.ascontiguousarray(stored), encoding))
    assert rgb.dtype == np.uint8 and rgb.shape == (1, 2, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, RGB)


def test_image_to_rgb_replicates_mono():
    rgb = image_to_rgb(numpy_to_image(np.array([[0, 128, 255]], np.uint8), 'mono8'))
    assert rgb.tolist() == [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]


def test_image_to_rgb_scales_sixteen_bit_full_range_by_default():
    mono = np.array([[0, 257, 32896, 65535]], np.uint16)
    rgb = image_to_rgb(numpy_to_image(mono, 'mono16'))
    assert rgb[..., 0].tolist() == [[0, 1, 128, 255]]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_image_to_rgb_white_level_for_twelve_bit_sensors():
    mono = np.array([[0, 4095, 65535]], np.uint16)
    rgb = image_to_rgb(numpy_to_image(mono, '16UC1'), white_level=4095)
    assert rgb[..., 1].tolist() == [[0, 255, 255]]


@pytest.mark.parametrize('encoding, order', [('rgb16', [0, 1, 2]), ('bgr16', [2, 1, 0]),
                                             ('bgra16', [2, 1, 0, 3])])
def test_image_to_rgb_scales_sixteen_bit_colour(encoding, order):
    rgb16 = np.array([[[0, 257, 65535, 1000]]], np.uint16)[..., order]
    rgb = image_to_rgb(numpy_to_image(np.ascontiguousarray(rgb16), encoding))
    assert rgb.tolist() == [[[0, 1, 255]]]


def test_image_to_rgb_handles_padded_bgr():
    height, width, padding = 4, 5, 3
    bgr = random_pixels((height, width, 3), np.uint8)
    rows = np.zeros((height, width * 3 + padding), np.uint8)
    rows[:, :width * 3] = bgr.reshape(height, -1)
    msg = raw_image('bgr8', height, width, width * 3 + padding, rows.tobytes())
    np.testing.assert_array_equal(image_to_rgb(msg), bgr[..., ::-1])


def test_image_to_rgb_copy_does_not_share_memory():
    msg = numpy_to_image(RGB, 'rgb8')
    buffer = np.frombuffer(msg.data, np.uint8)
    assert np.shares_memory(image_to_rgb(msg), buffer)
    assert not np.shares_memory(image_to_rgb(msg, copy=True), buffer)


@pytest.mark.parametrize('pattern', ['rggb', 'bggr', 'gbrg', 'grbg'])
def test_image_to_rgb_demosaics_bayer(pattern):
    colour = (200, 100, 50)
    mosaic = np.zeros((8, 8), np.uint8)
    layout = {'r': 0, 'g': 1, 'b': 2}
    for index, letter in enumerate(pattern):
        mosaic[index // 2::2, index % 2::2] = colour[layout[letter]]
    rgb = image_to_rgb(numpy_to_image(mosaic, f'bayer_{pattern}8'))
    assert rgb[3:5, 3:5].reshape(-1, 3).tolist() == [list(colour)] * 4


@pytest.mark.parametrize('encoding, code', [('yuv422', cv2.COLOR_YUV2RGB_UYVY),
                                            ('yuv422_yuy2', cv2.COLOR_YUV2RGB_YUY2)])
def test_image_to_rgb_converts_packed_yuv(encoding, code):
    packed = random_pixels((2, 4, 2), np.uint8)
    rgb = image_to_rgb(numpy_to_image(packed, encoding))
    np.testing.assert_array_equal(rgb, cv2.cvtColor(packed, code))


def test_image_to_rgb_rejects_depth():
    with pytest.raises(ValueError, match='32FC1.*image_to_numpy'):
        image_to_rgb(numpy_to_image(np.zeros((2, 2), np.float32), '32FC1'))


def test_image_to_rgb_rejects_a_bad_white_level():
    with pytest.raises(ValueError, match='white_level'):
        image_to_rgb(numpy_to_image(RGB, 'rgb8'), white_level=0)


def test_depth_in_millimetres_becomes_metres_with_nan_for_zero():
    millimetres = np.array([[0, 1500]], np.uint16)
    depth_m = depth_image_to_metres(numpy_to_image(millimetres, '16UC1'))
    assert depth_m.dtype == np.float32
    assert np.isnan(depth_m[0, 0]) and depth_m[0, 1] == pytest.approx(1.5)


def test_depth_in_metres_keeps_values_and_marks_invalid():
    metres = np.array([[np.inf, 0.0, 2.5, np.nan]], np.float32)
    msg = numpy_to_image(metres, '32FC1')
    depth_m = depth_image_to_metres(msg)
    assert np.isnan(depth_m[0, [0, 1, 3]]).all() and depth_m[0, 2] == 2.5
    assert np.isinf(image_to_numpy(msg)[0, 0])  # the message itself is untouched


def test_depth_rejects_colour():
    with pytest.raises(ValueError, match='16UC1.*32FC1'):
        depth_image_to_metres(numpy_to_image(RGB, 'rgb8'))


# ------------------------------------------------------------------------------------------
# Bad images
# ------------------------------------------------------------------------------------------


def test_unknown_encoding_is_named_with_the_supported_ones():
    with pytest.raises(ValueError, match=r"'hsv8'.*rgb8.*32FC1") as error:
        image_to_numpy(raw_image('hsv8', 1, 1, 3, bytes(3)))
    assert 'mono16' in str(error.value)


@pytest.mark.parametrize('encoding', ['16FC1', '8UC0', '32UC1', 'RGB8'])
def test_invalid_generic_encodings_are_rejected(encoding):
    with pytest.raises(ValueError, match='unsupported image encoding'):
        image_to_numpy(raw_image(encoding, 1, 1, 8, bytes(8)))


@pytest.mark.parametrize('height, width, name', [(0, 4, 'height'), (4, 0, 'width')])
def test_zero_sized_image_is_rejected(height, width, name):
    with pytest.raises(ValueError, match=f'Image.{name} is 0'):
        image_to_numpy(raw_image('mono8', height, width, 4, bytes(16)))


def test_step_shorter_than_a_row_is_rejected():
    with pytest.raises(ValueError, match='step is 5 bytes.*at least 6'):
        image_to_numpy(raw_image('rgb8', 1, 2, 5, bytes(6)))


def test_short_data_names_expected_and_actual_bytes():
    with pytest.raises(ValueError, match='expected .* = 12 bytes, got 11 bytes'):
        image_to_numpy(raw_image('rgb8', 2, 2, 6, bytes(11)))


def test_absurd_side_is_rejected():
    with pytest.raises(ValueError, match='more than the 16384 px'):
        image_to_numpy(raw_image('mono8', 1, 20000, 20000, bytes(10)))


def test_absurd_byte_count_is_rejected_before_reading_data():
    with pytest.raises(ValueError, match='exceeds'):
        image_to_numpy(raw_image('rgb8', 16000, 16000, 48000, bytes(10)))


def test_non_image_is_a_type_error():
    with pytest.raises(TypeError, match='sensor_msgs/Image.*CameraInfo'):
        image_to_numpy(CameraInfo())


def test_data_of_a_wrong_type_is_a_type_error():
    msg = SimpleNamespace(height=1, width=1, encoding='mono8', is_bigendian=0, step=1,
                          data='a')
    with pytest.raises(TypeError, match='Image.data'):
        image_to_numpy(msg)


def test_numpy_to_image_rejects_a_dtype_mismatch():
    with pytest.raises(ValueError, match='32FC1 needs dtype float32, got float64.*astype'):
        numpy_to_image(np.zeros((2, 2)), '32FC1')


@pytest.mark.parametrize('shape, encoding', [((2, 2), 'rgb8'), ((2, 2, 4), 'rgb8'),
                                             ((2, 2, 3), 'mono8'), ((2,), 'mono8')])
def test_numpy_to_image_rejects_a_shape_mismatch(shape, encoding):
    with pytest.raises(ValueError, match='needs an array of shape'):
        numpy_to_image(np.zeros(shape, np.uint8), encoding)


def test_numpy_to_image_rejects_empty_arrays():
    with pytest.raises(ValueError, match='height is 0'):
        numpy_to_image(np.zeros((0, 3), np.uint8), 'mono8')


def test_numpy_to_image_rejects_non_arrays_and_unknown_encodings():
    with pytest.raises(TypeError, match='numpy.ndarray'):
        numpy_to_image([[1, 2]], 'mono8')
    with pytest.raises(ValueError, match="'jpeg'"):
        numpy_to_image(np.zeros((2, 2), np.uint8), 'jpeg')


# ------------------------------------------------------------------------------------------
# CompressedImage
# ------------------------------------------------------------------------------------------


def smooth_rgb(height=32, width=48):
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 6, columns * 5, (rows + columns) * 3], axis=2).astype(np.uint8)


def compressed(rgb, extension, image_format):
    ok, encoded = cv2.imencode(extension, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return CompressedImage(header=make_header(), format=image_format,
                           data=array.array('B', encoded.tobytes()))


@pytest.mark.parametrize('image_format', ['png', 'bgr8; png compressed bgr8',
                                          'rgb8; png compressed bgr8'])
def test_png_decodes_exactly(image_format):
    rgb = smooth_rgb()
    np.testing.assert_array_equal(compressed_image_to_numpy(compressed(rgb, '.png',
                                                                       image_format)), rgb)


@pytest.mark.parametrize('image_format', ['jpeg', 'rgb8; jpeg compressed bgr8'])
def test_jpeg_decodes_within_tolerance(image_format):
    rgb = smooth_rgb()
    decoded = compressed_image_to_numpy(compressed(rgb, '.jpg', image_format))
    assert decoded.shape == rgb.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - rgb.astype(int)).mean() < 3.0


def test_compressed_mono_is_replicated():
    mono = smooth_rgb()[..., 0]
    ok, encoded = cv2.imencode('.png', mono)
    msg = CompressedImage(format='mono8; png compressed mono8',
                          data=array.array('B', encoded.tobytes()))
    decoded = compressed_image_to_numpy(msg)
    assert decoded.shape == (*mono.shape, 3)
    np.testing.assert_array_equal(decoded[..., 1], mono)


def test_corrupt_compressed_data_is_a_value_error():
    msg = CompressedImage(format='jpeg', data=array.array('B', b'not a jpeg at all' * 10))
    with pytest.raises(ValueError, match='could not decode.*170 bytes'):
        compressed_image_to_numpy(msg)


def test_empty_compressed_data_is_a_value_error():
    with pytest.raises(ValueError, match='empty'):
        compressed_image_to_numpy(CompressedImage(format='jpeg'))


def test_compressed_depth_is_refused_with_a_hint():
    msg = CompressedImage(format='16UC1; compressedDepth png', data=array.array('B', bytes(20)))
    with pytest.raises(ValueError, match='compressedDepth'):
        compressed_image_to_numpy(msg)


# ------------------------------------------------------------------------------------------
# CameraInfo
# ------------------------------------------------------------------------------------------


def make_camera_info(fx=500.0, fy=510.0, cx=319.5, cy=239.5, width=640, height=480,
                     baseline_tx=-25.0):
    return CameraInfo(
        header=make_header(), width=width, height=height, distortion_model='plumb_bob',
        d=[0.1, -0.2, 0.001, 0.002, 0.0],
        k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[fx, 0.0, cx, baseline_tx, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def project(matrix, point_xyz):
    homogeneous = matrix[:, :3] @ point_xyz + (matrix[:, 3] if matrix.shape[1] == 4 else 0)
    return homogeneous[:2] / homogeneous[2]


def test_intrinsics_are_read_and_validated():
    intrinsics = camera_info_to_intrinsics(make_camera_info())
    np.testing.assert_array_equal(intrinsics.K, [[500, 0, 319.5], [0, 510, 239.5], [0, 0, 1]])
    assert intrinsics.K.dtype == np.float64
    assert (intrinsics.width, intrinsics.height) == (640, 480)
    assert intrinsics.distortion_model == 'plumb_bob'
    np.testing.assert_array_equal(intrinsics.D, [0.1, -0.2, 0.001, 0.002, 0.0])
    assert intrinsics.frame_id == 'camera_optical_frame'
    assert intrinsics.P.shape == (3, 4) and intrinsics.P[0, 3] == -25.0
    assert intrinsics.f_norm == pytest.approx(500.0 / 640.0)
    assert (intrinsics.fx_px, intrinsics.fy_px, intrinsics.cx_px, intrinsics.cy_px) == (
        500.0, 510.0, 319.5, 239.5)


def test_uncalibrated_camera_is_explained():
    info = make_camera_info()
    info.k = np.zeros(9)
    with pytest.raises(ValueError, match='all zeros.*not calibrated'):
        camera_info_to_intrinsics(info)


@pytest.mark.parametrize('fx, fy', [(0.0, 500.0), (500.0, -1.0)])
def test_non_positive_focal_length_is_rejected(fx, fy):
    with pytest.raises(ValueError, match='focal length'):
        camera_info_to_intrinsics(make_camera_info(fx=fx, fy=fy))


@pytest.mark.parametrize('width, height, name', [(0, 480, 'width'), (640, 0, 'height')])
def test_zero_camera_size_is_rejected(width, height, name):
    with pytest.raises(ValueError, match=f'CameraInfo.{name} is 0'):
        camera_info_to_intrinsics(make_camera_info(width=width, height=height))


def test_malformed_k_is_rejected():
    info = make_camera_info()
    info.k[8] = 0.0
    with pytest.raises(ValueError, match='last row'):
        camera_info_to_intrinsics(info)


def test_binning_and_roi_describe_the_published_image():
    info = make_camera_info()
    info.roi = RegionOfInterest(x_offset=100, y_offset=40, width=400, height=300)
    info.binning_x = info.binning_y = 2
    intrinsics = camera_info_to_intrinsics(info)
    assert (intrinsics.width, intrinsics.height) == (200, 150)
    assert intrinsics.fx_px == 250.0 and intrinsics.fy_px == 255.0
    # Pixel centres: binned pixel i covers raw pixels 2i and 2i + 1, centred at 2i + 0.5.
    assert intrinsics.cx_px == pytest.approx((319.5 - 100 - 0.5) / 2)
    assert intrinsics.cy_px == pytest.approx((239.5 - 40 - 0.5) / 2)
    with pytest.raises(ValueError, match='does not fit'):
        info.roi.x_offset = 300
        camera_info_to_intrinsics(info)


def test_scaled_camera_info_halves_k_and_p_with_pixel_centres():
    info = make_camera_info()
    scaled = scaled_camera_info(info, 320, 240)
    assert (scaled.width, scaled.height) == (320, 240)
    K = scaled.k.reshape(3, 3)
    P = scaled.p.reshape(3, 4)
    np.testing.assert_allclose(K, [[250, 0, 159.5], [0, 255, 119.5], [0, 0, 1]])
    np.testing.assert_allclose(P, [[250, 0, 159.5, -12.5], [0, 255, 119.5, 0], [0, 0, 1, 0]])
    assert list(scaled.d) == list(info.d) and scaled.distortion_model == 'plumb_bob'
    np.testing.assert_array_equal(scaled.r, info.r)
    assert scaled.header is not info.header
    assert (scaled.header.stamp.sec, scaled.header.frame_id) == (12, 'camera_optical_frame')


def test_scaled_camera_info_projects_like_cv2_resize():
    info = make_camera_info()
    scaled = scaled_camera_info(info, 512, 288)  # non-uniform scale
    point_xyz = np.array([0.3, -0.2, 2.0])
    u, v = project(info.k.reshape(3, 3), point_xyz)
    expected = [(u + 0.5) * 512 / 640 - 0.5, (v + 0.5) * 288 / 480 - 0.5]
    np.testing.assert_allclose(project(scaled.k.reshape(3, 3), point_xyz), expected)
    np.testing.assert_allclose(project(scaled.p.reshape(3, 4), point_xyz),
                               [(project(info.p.reshape(3, 4), point_xyz)[0] + 0.5) * 0.8
                                - 0.5, expected[1]])


def test_scaled_camera_info_can_follow_image_proc():
    scaled = scaled_camera_info(make_camera_info(), 320, 240, half_pixel_centers=False)
    assert scaled.k[2] == pytest.approx(319.5 / 2)


def test_scaled_camera_info_flattens_roi_and_binning():
    info = make_camera_info()
    info.roi = RegionOfInterest(x_offset=0, y_offset=0, width=640, height=480)
    info.binning_x = info.binning_y = 2
    scaled = scaled_camera_info(info, 320, 240)  # the published image is already 320x240
    assert (scaled.binning_x, scaled.binning_y, scaled.roi.width) == (0, 0, 0)
    np.testing.assert_allclose(scaled.k.reshape(3, 3)[:2, :2], [[250, 0], [0, 255]])


def test_scaled_uncalibrated_camera_stays_uncalibrated():
    info = make_camera_info()
    info.k = np.zeros(9)
    info.p = np.zeros(12)
    scaled = scaled_camera_info(info, 320, 240)
    assert not scaled.k.any() and not scaled.p.any()


def test_scaled_camera_info_is_serializable_and_rejects_bad_sizes():
    scaled = scaled_camera_info(make_camera_info(), 320, 240)
    restored = deserialize_message(serialize_message(scaled), CameraInfo)
    np.testing.assert_array_equal(restored.k, scaled.k)
    with pytest.raises(ValueError, match='width is 0'):
        scaled_camera_info(make_camera_info(), 0, 240)
    with pytest.raises(TypeError, match='height must be an int'):
        scaled_camera_info(make_camera_info(), 320, 240.0)


# ------------------------------------------------------------------------------------------
# PointCloud2
# ------------------------------------------------------------------------------------------

PADDED_DTYPE = np.dtype({
    'names': ['x', 'y', 'z', 'rgb', 'label', 'instance'],
    'formats': ['<f4', '<f4', '<f4', '<f4', '<u2', '<u4'],
    'offsets': [0, 4, 8, 16, 20, 24],
    'itemsize': 32,
})


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
    big = points.astype(np.dtype({
        'names': list(PADDED_DTYPE.names),
        'formats': ['>f4', '>f4', '>f4', '>f4', '>u2', '>u4'],
        'offsets': [0, 4, 8, 16, 20, 24], 'itemsize': 32}))
    msg = structured_to_pointcloud2(points)
    msg.is_bigendian = True
    msg.data = array.array('B', big.tobytes())
    back = pointcloud2_to_structured(msg)
    assert all(back.dtype.fields[name][0].isnative for name in back.dtype.names)
    assert_points_equal(back, points)


def test_writing_a_big_endian_array_stores_native_order():
    points = make_points()
    big = points.astype(np.dtype({
        'names': list(PADDED_DTYPE.names),
        'formats': ['>f4', '>f4', '>f4', '>f4', '>u2', '>u4'],
        'offsets': [0, 4, 8, 16, 20, 24], 'itemsize': 32}))
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
# Headers, markers, diagnostics
# ------------------------------------------------------------------------------------------


def test_copy_header_is_a_deep_copy():
    header = make_header()
    copied = copy_header(header)
    header.stamp.nanosec = 0
    header.frame_id = 'other'
    assert (copied.stamp.sec, copied.stamp.nanosec, copied.frame_id) == (
        12, 345, 'camera_optical_frame')
    with pytest.raises(TypeError, match='std_msgs/Header'):
        copy_header(Image())


def test_instance_markers_clear_then_draw_each_instance():
    centroids = np.array([[0.1, 0.2, 1.5], [np.nan, 0.0, 1.0], [-0.3, 0.0, 2.0]])
    markers = instance_markers(centroids, ['chair 1', 'table 2', 'person 3'],
                               np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8),
                               make_header())
    assert isinstance(markers, MarkerArray)
    clear, *drawn = markers.markers
    assert clear.action == Marker.DELETEALL
    assert [(m.id, m.type) for m in drawn] == [
        (0, Marker.SPHERE), (1, Marker.TEXT_VIEW_FACING),
        (4, Marker.SPHERE), (5, Marker.TEXT_VIEW_FACING)]
    assert drawn[1].text == 'chair 1' and drawn[3].text == 'person 3'
    assert drawn[0].pose.position.z == 1.5
    assert drawn[1].pose.position.y == pytest.approx(0.1)  # above the sphere (y down)
    assert (drawn[2].color.b, drawn[2].color.r) == (1.0, 0.0)
    assert all(m.header.frame_id == 'camera_optical_frame' and m.header.stamp.sec == 12
               for m in markers.markers)
    restored = deserialize_message(serialize_message(markers), MarkerArray)
    assert len(restored.markers) == 5


def test_instance_markers_validate_shapes():
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        instance_markers(np.zeros((2, 2)), ['a', 'b'], np.zeros((2, 3)), make_header())
    with pytest.raises(ValueError, match='labels'):
        instance_markers(np.zeros((2, 3)), ['a'], np.zeros((2, 3)), make_header())


def test_diagnostic_status_from_a_dict():
    status = diagnostic_status('mtl_perception: inference',
                               {'latency_ms': 12.3456789, 'frames': 10, 'gpu': False},
                               level=DiagnosticStatus.WARN, message='slow',
                               hardware_id='cpu')
    assert status.level == DiagnosticStatus.WARN
    assert [(kv.key, kv.value) for kv in status.values] == [
        ('latency_ms', '12.3457'), ('frames', '10'), ('gpu', 'false')]
    restored = deserialize_message(serialize_message(status), DiagnosticStatus)
    assert restored.message == 'slow'
    with pytest.raises(ValueError, match='level'):
        diagnostic_status('x', {}, level=7)


def test_module_exports_exist():
    for name in conversions.__all__:
        assert hasattr(conversions, name), name
