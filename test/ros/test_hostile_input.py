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

"""
Hostile input to the pure conversions: compressed headers, implausible intrinsics, log text.

Each test here reproduces one defect of issue 12 found by feeding the node what an attacker or
a broken driver would send; the node-level counterparts run over DDS in test_node_hostile.py.
"""

import array
import json
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

pytest.importorskip('rclpy')

from mtl_perception.ros import conversions  # noqa: E402, I100
from mtl_perception.ros.conversions import (  # noqa: E402
    camera_info_to_intrinsics,
    compressed_image_size,
    compressed_image_to_numpy,
    image_to_numpy,
    ImplausibleCameraInfo,
    printable,
)
from mtl_perception.ros.sim_camera import camera_info_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402


def jpeg_claiming(width: int, height: int, seed: int = 0) -> bytes:
    """Return a real 64x64 JPEG (about 8 kB of noise) whose frame header claims width x height."""
    pixels = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode('.jpg', pixels, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = bytearray(encoded.tobytes())
    sof = data.index(b'\xff\xc0')  # baseline frame header: FF C0, length, precision, H, W
    data[sof + 5:sof + 7] = height.to_bytes(2, 'big')
    data[sof + 7:sof + 9] = width.to_bytes(2, 'big')
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    ok, encoded = cv2.imencode('.png', np.zeros((8, 8, 3), np.uint8))
    assert ok
    data = bytearray(encoded.tobytes())
    data[16:20] = width.to_bytes(4, 'big')
    data[20:24] = height.to_bytes(4, 'big')
    return bytes(data)


def compressed_message(data: bytes, image_format: str = 'jpeg') -> CompressedImage:
    return CompressedImage(format=image_format, data=array.array('B', data))


@pytest.mark.parametrize('encode', ['.jpg', '.png'])
def test_compressed_size_is_read_from_the_header(encode):
    ok, encoded = cv2.imencode(encode, np.zeros((37, 53, 3), np.uint8))
    assert ok
    message = compressed_message(encoded.tobytes())
    assert compressed_image_size(message) == (53, 37)
    assert compressed_image_to_numpy(message).shape == (37, 53, 3)


def test_progressive_jpeg_size_is_read_too():
    ok, encoded = cv2.imencode('.jpg', np.zeros((21, 34, 3), np.uint8),
                               [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    assert compressed_image_size(compressed_message(encoded.tobytes())) == (34, 21)


@pytest.mark.parametrize(('make', 'width', 'height', 'match'), [
    (jpeg_claiming, 8000, 8000, '8000x8000'),
    (jpeg_claiming, 16, 60000, 'height of 60000 px'),
    (jpeg_claiming, 0, 64, 'width of 0'),
    (png_claiming, 8000, 8000, '8000x8000'),
    (png_claiming, 2**31 - 1, 1, 'width of 2147483647'),
])
def test_oversized_compressed_frames_are_refused_before_decoding(make, width, height, match):
    message = compressed_message(make(width, height))
    with pytest.raises(ValueError, match=match):
        compressed_image_size(message)
    with pytest.raises(ValueError, match='not decoded|width of 0'):
        compressed_image_to_numpy(message)


def test_the_pixel_limit_can_be_lowered():
    message = compressed_message(jpeg_claiming(640, 480))
    assert compressed_image_size(message) == (640, 480)
    with pytest.raises(ValueError, match='more than the 1000 px'):
        compressed_image_size(message, max_pixels=1000)


def test_an_8k_jpeg_claiming_8000x8000_is_refused_fast_and_small():
    """In a fresh process so that its peak RSS is this decode's, not the test session's."""
    script = """
import array, json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from test_hostile_input import jpeg_claiming
from mtl_perception.ros.conversions import compressed_image_to_numpy
from sensor_msgs.msg import CompressedImage
data = jpeg_claiming(8000, 8000)
message = CompressedImage(format='jpeg', data=array.array('B', data))
before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    compressed_image_to_numpy(message)
    refused = False
except ValueError:
    refused = True
elapsed_ms = (time.perf_counter() - start) * 1e3
grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb
print(json.dumps({'bytes': len(data), 'refused': refused, 'ms': elapsed_ms,
                  'grown_mb': grown_kb / 1024}))
"""
    test_dir = str(__import__('pathlib').Path(__file__).parent)
    output = subprocess.run([sys.executable, '-c', script, test_dir], capture_output=True,
                            text=True, timeout=120, check=True).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    assert figures['bytes'] < 16_000
    assert figures['refused'], figures
    assert figures['ms'] < 10.0, figures
    assert figures['grown_mb'] < 10.0, figures  # decoding would take 192 MB


def test_header_parsing_survives_truncated_and_garbled_jpegs():
    data = jpeg_claiming(64, 64)
    rng = np.random.default_rng(1)
    header_end = data.index(b'\xff\xc0') + 9
    for cut in range(0, header_end):
        with pytest.raises(ValueError):
            compressed_image_size(compressed_message(data[:cut]))
    for cut in range(header_end, len(data), 97):  # libjpeg fills in what is missing
        try:
            decoded = compressed_image_to_numpy(compressed_message(data[:cut]))
        except ValueError:
            continue
        assert decoded.shape == (64, 64, 3)
    for _ in range(300):
        garbled = bytearray(data[:400])
        for position in rng.integers(2, len(garbled), 5):
            garbled[position] = int(rng.integers(0, 256))
        start = time.perf_counter()
        try:
            compressed_image_size(compressed_message(bytes(garbled)))
        except ValueError:
            pass
        assert time.perf_counter() - start < 0.01


def make_info(fx: float = 500.0, fy: float = 500.0, cx: float = 319.5, cy: float = 239.5,
              width: int = 640, height: int = 480) -> CameraInfo:
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return camera_info_message(K, width, height, 'camera_optical_frame')


@pytest.mark.parametrize(('values', 'match'), [
    ({'fx': 5e-324}, 'fx / width'),
    ({'fx': 1e300, 'fy': 1e300}, 'fx / width'),
    ({'fy': 1e-3}, 'fy / height'),
    ({'cx': 1e9}, 'cx / width'),
    ({'cy': -1e6}, 'cy / height'),
    ({'fx': 500.0, 'fy': 20.0}, 'fx / fy'),
])
def test_implausible_intrinsics_are_refused_with_the_bound(values, match):
    with pytest.raises(ImplausibleCameraInfo, match=match):
        camera_info_to_intrinsics(make_info(**values))


@pytest.mark.parametrize('values', [
    {},  # a common 640x480 camera
    {'fx': 160.0, 'fy': 160.0},  # a 127-degree wide-angle lens
    {'fx': 20000.0, 'fy': 20000.0},  # a 1.8-degree telephoto lens
    {'cx': 700.0, 'cy': -100.0},  # a cropped region off-centre
])
def test_plausible_intrinsics_are_accepted(values):
    camera_info_to_intrinsics(make_info(**values))


def test_implausible_is_still_a_value_error():
    assert issubclass(ImplausibleCameraInfo, ValueError)


def test_printable_escapes_control_characters_and_bounds_the_length():
    assert printable('rgb8') == 'rgb8'
    assert printable('a\nb\x1b[31mc\u202e') == 'a\\x0ab\\x1b[31mc\\u202e'
    long = printable('x' * 72_537)
    assert len(long) < conversions.MAX_LOG_TEXT_CHARS + 30
    assert long.endswith('(72537 characters)')


def test_an_attacker_encoding_is_not_quoted_in_full():
    message = Image(height=1, width=1, step=3, encoding='A' * 72_537 + '\n',
                    data=array.array('B', b'\x00\x00\x00'))
    with pytest.raises(ValueError) as caught:
        image_to_numpy(message)
    text = str(caught.value)
    assert len(text) < 2000 and '\n' not in text and '72538 characters' in text
