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

"""Images as the network reads them: RGB from every colour encoding, depth in metres."""

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import random_pixels, raw_image  # noqa: E402, I100
import cv2  # noqa: E402
from mtl_perception.ros.conversions import (  # noqa: E402
    depth_image_to_metres,
    image_to_numpy,
    image_to_rgb,
    numpy_to_image,
)

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
