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

"""CompressedImage (JPEG, PNG) decoding, and what it refuses."""

import array

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import make_header  # noqa: E402, I100
import cv2  # noqa: E402
from mtl_perception.ros.conversions import compressed_image_to_numpy  # noqa: E402
from sensor_msgs.msg import CompressedImage  # noqa: E402


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
