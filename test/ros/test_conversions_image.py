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

"""Raw sensor_msgs/Image <-> NumPy: layouts, byte order, round trips and refusals."""

import array
import sys
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import make_header, random_pixels, raw_image  # noqa: E402, I100
from mtl_perception.ros.conversions import (  # noqa: E402
    image_to_numpy,
    image_to_rgb,
    numpy_to_image,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

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
