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
Hostile camera messages: valid ones made at random, and named mutations of them.

Each case is a message (Image, CompressedImage or CameraInfo) made from a valid one by one
named mutation (a zero width, a JPEG header claiming 8000x8000, fx = 5e-324, a 72 kB encoding,
a stamp an hour back ...); :mod:`.oracle` says what the node must do with it.
"""

from __future__ import annotations

from collections.abc import Callable
import copy
from dataclasses import dataclass
from typing import Any

import cv2
from mtl_perception.ros.conversions import image_encoding_layout, numpy_to_image
from mtl_perception.ros.stream import NS_PER_S
import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

ANSWERED = 'answered'
CALLBACK, WORKER, INFO = 'callback', 'worker', 'info'


@dataclass
class Case:
    """One message to send and what the node must do with it."""

    topic: str  # 'image', 'compressed' or 'camera_info'
    category: str  # the mutation's name
    message: Any
    expected: str = ANSWERED  # 'answered' or the rejection reason ('bad_image' ...)
    stage: str = CALLBACK  # where the node decides: in the callback, the worker, or info
    clock_jump: bool = False


# ------------------------------------------------------------------------------------------
# Valid messages
# ------------------------------------------------------------------------------------------

_COLOUR_ENCODINGS = ('rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'mono16', 'rgb16', 'bgr16',
                     '8UC3', '8UC1', 'bayer_rggb8', 'bayer_gbrg8', 'yuv422', 'yuyv')


def _stamp(message: Any, stamp_ns: int) -> None:
    message.header.stamp.sec = int(stamp_ns // NS_PER_S)
    message.header.stamp.nanosec = int(stamp_ns % NS_PER_S)


def stamp_ns_of(message: Any) -> int:
    return message.header.stamp.sec * NS_PER_S + message.header.stamp.nanosec


def valid_image(rng: np.random.Generator, stamp_ns: int) -> Image:
    """Return a random small image in one of the colour encodings the node reads."""
    encoding = str(rng.choice(_COLOUR_ENCODINGS))
    width, height = int(rng.integers(8, 97)) & ~1, int(rng.integers(8, 73))
    element, channels = image_encoding_layout(encoding)
    shape = (height, width, channels) if channels > 1 else (height, width)
    pixels = rng.integers(0, np.iinfo(element).max, shape, dtype=element.newbyteorder('='))
    message = numpy_to_image(pixels, encoding)
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


def valid_compressed(rng: np.random.Generator, stamp_ns: int) -> CompressedImage:
    """Return a random small JPEG or PNG (colour, mono or 16-bit) as image_transport sends."""
    width, height = int(rng.integers(8, 97)), int(rng.integers(8, 73))
    kind = int(rng.integers(0, 4))
    if kind == 0:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width, 3), dtype=np.uint8), '.jpg',
            'bgr8; jpeg compressed bgr8')
    elif kind == 1:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width), dtype=np.uint8), '.jpg',
            'mono8; jpeg compressed mono8')
    elif kind == 2:
        pixels, extension, image_format = (
            rng.integers(0, 255, (height, width, 3), dtype=np.uint8), '.png',
            'bgr8; png compressed bgr8')
    else:
        pixels, extension, image_format = (
            rng.integers(0, 65535, (height, width), dtype=np.uint16), '.png',
            'mono16; png compressed mono16')
    ok, encoded = cv2.imencode(extension, pixels)
    if not ok:
        raise RuntimeError(f'OpenCV could not encode a {extension} test image')
    message = CompressedImage(format=image_format)
    message.data = encoded.tobytes()
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


def valid_camera_info(rng: np.random.Generator, stamp_ns: int) -> CameraInfo:
    width, height = int(rng.integers(16, 1921)), int(rng.integers(16, 1081))
    fx = float(width) * float(rng.uniform(0.4, 2.0))
    fy = fx * float(rng.uniform(0.95, 1.05))
    message = CameraInfo(width=width, height=height, distortion_model='plumb_bob')
    message.k = [fx, 0.0, width / 2 - 0.5, 0.0, fy, height / 2 - 0.5, 0.0, 0.0, 1.0]
    message.p = [fx, 0.0, width / 2 - 0.5, 0.0, 0.0, fy, height / 2 - 0.5, 0.0,
                 0.0, 0.0, 1.0, 0.0]
    message.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    message.d = [float(v) for v in rng.normal(0.0, 0.05, 5)]
    message.header.frame_id = 'camera_optical_frame'
    _stamp(message, stamp_ns)
    return message


# ------------------------------------------------------------------------------------------
# Mutations: (message, rng) -> None, in place; named for the report
# ------------------------------------------------------------------------------------------

_UINT32_MAX = 2**32 - 1
_HOSTILE_TEXT = ('A' * 72_537, 'rgb8\n[FATAL] [0.0] [forged]: line', '\x1b[31mred\x1b[0m',
                 '', '\u202ergb8', 'rgb8\x00\x00', 'é' * 300, '%s%n%x' * 20)


def _text(rng: np.random.Generator) -> str:
    return _HOSTILE_TEXT[int(rng.integers(0, len(_HOSTILE_TEXT)))]


def _raw_data(message: Any) -> bytes:
    return bytes(message.data)


def _set_data(message: Any, data: bytes) -> None:
    message.data = data


IMAGE_MUTATIONS: dict[str, Callable[[Image, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'zero_width': lambda m, r: setattr(m, 'width', 0),
    'zero_height': lambda m, r: setattr(m, 'height', 0),
    'huge_width': lambda m, r: setattr(m, 'width', _UINT32_MAX),
    'huge_both': lambda m, r: (setattr(m, 'width', 100_000), setattr(m, 'height', 100_000),
                               setattr(m, 'step', 300_000)),
    'claims_8000x8000': lambda m, r: (setattr(m, 'width', 8000), setattr(m, 'height', 8000),
                                      setattr(m, 'step', 24_000)),
    'random_size': lambda m, r: (setattr(m, 'width', int(r.integers(0, 5000))),
                                 setattr(m, 'height', int(r.integers(0, 5000)))),
    'short_data': lambda m, r: _set_data(m, _raw_data(m)[:int(r.integers(0, len(m.data)))]),
    'extra_data': lambda m, r: _set_data(m, _raw_data(m) + bytes(int(r.integers(1, 500)))),
    'step_too_small': lambda m, r: setattr(m, 'step', max(0, m.step - 1)),
    'step_zero': lambda m, r: setattr(m, 'step', 0),
    'step_huge': lambda m, r: setattr(m, 'step', _UINT32_MAX),
    'step_padded': lambda m, r: (_set_data(m, _raw_data(m) + bytes(m.height * 16)),
                                 setattr(m, 'step', m.step + 16)),
    'encoding_hostile': lambda m, r: setattr(m, 'encoding', _text(r)),
    'encoding_depth': lambda m, r: setattr(
        m, 'encoding', {1: '8SC1', 2: '16SC1', 3: '8SC3', 4: '8SC4'}.get(m.step // m.width,
                                                                         '8SC1')),
    'encoding_many_channels': lambda m, r: setattr(m, 'encoding', '8UC512'),
    'bigendian_flip': lambda m, r: setattr(m, 'is_bigendian', 1 - int(m.is_bigendian)),
    'odd_width_yuv': lambda m, r: (setattr(m, 'encoding', 'yuv422'),
                                   setattr(m, 'width', m.width - 1 if m.width > 2 else 3),
                                   setattr(m, 'step', 2 * m.width)),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
    'tiny': lambda m, r: (setattr(m, 'height', 4), _set_data(m, _raw_data(m)[:4 * m.step])),
    'stamp_back_1h': lambda m, r: _stamp(m, stamp_ns_of(m) - 3600 * NS_PER_S),
    'stamp_ahead_1d': lambda m, r: _stamp(m, stamp_ns_of(m) + 86_400 * NS_PER_S),
    'stamp_slightly_back': lambda m, r: _stamp(m, stamp_ns_of(m) - NS_PER_S // 2),
    'stamp_zero': lambda m, r: _stamp(m, 0),
}


def _patch(data: bytes, offset: int, value: bytes) -> bytes:
    if offset < 0 or offset + len(value) > len(data):
        return data
    return data[:offset] + value + data[offset + len(value):]


def _jpeg_sof(data: bytes) -> int:
    for marker in (b'\xff\xc0', b'\xff\xc2', b'\xff\xc1'):
        index = data.find(marker)
        if index >= 0:
            return index
    return -1


def _claim(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the size in a JPEG frame header or PNG IHDR without touching the rest."""
    if data[:3] == b'\xff\xd8\xff':
        sof = _jpeg_sof(data)
        if sof < 0:
            return data
        return _patch(_patch(data, sof + 5, height.to_bytes(2, 'big')), sof + 7,
                      width.to_bytes(2, 'big'))
    return _patch(_patch(data, 16, width.to_bytes(4, 'big')), 20, height.to_bytes(4, 'big'))


def _flip(data: bytes, rng: np.random.Generator, low: int, high: int, count: int = 4) -> bytes:
    mutable = bytearray(data)
    high = min(high, len(mutable))
    if high <= low:
        return data
    for position in rng.integers(low, high, count):
        mutable[int(position)] = int(rng.integers(0, 256))
    return bytes(mutable)


COMPRESSED_MUTATIONS: dict[str, Callable[[CompressedImage, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'claims_8000x8000': lambda m, r: _set_data(m, _claim(_raw_data(m), 8000, 8000)),
    'claims_16x60000': lambda m, r: _set_data(m, _claim(_raw_data(m), 16, 60000)),
    'claims_zero': lambda m, r: _set_data(m, _claim(_raw_data(m), 0, 16)),
    'claims_random': lambda m, r: _set_data(m, _claim(_raw_data(m), int(r.integers(1, 65536)),
                                                      int(r.integers(1, 65536)))),
    'cut_in_header': lambda m, r: _set_data(m, _raw_data(m)[:int(r.integers(0, 40))]),
    'cut_in_body': lambda m, r: _set_data(
        m, _raw_data(m)[:int(r.integers(len(m.data) // 2, len(m.data)))]),
    'flip_header': lambda m, r: _set_data(m, _flip(_raw_data(m), r, 2, 200)),
    'flip_body': lambda m, r: _set_data(m, _flip(_raw_data(m), r, len(m.data) // 2,
                                                 len(m.data), 8)),
    'garbage': lambda m, r: _set_data(m, r.integers(0, 256, int(r.integers(1, 4000)),
                                                    dtype=np.uint8).tobytes()),
    'empty': lambda m, r: _set_data(m, b''),
    'prefix_garbage': lambda m, r: _set_data(m, b'\x00' * 16 + _raw_data(m)),
    'format_compressed_depth': lambda m, r: setattr(m, 'format', '16UC1; compressedDepth png'),
    'format_hostile': lambda m, r: setattr(m, 'format', _text(r)),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
    'stamp_back_1h': lambda m, r: _stamp(m, stamp_ns_of(m) - 3600 * NS_PER_S),
    'stamp_ahead_1d': lambda m, r: _stamp(m, stamp_ns_of(m) + 86_400 * NS_PER_S),
    'stamp_slightly_back': lambda m, r: _stamp(m, stamp_ns_of(m) - NS_PER_S // 2),
}


def _set_k(message: CameraInfo, index: int, value: float) -> None:
    k = list(message.k)
    k[index] = value
    message.k = k


CAMERA_INFO_MUTATIONS: dict[str, Callable[[CameraInfo, np.random.Generator], None]] = {
    'valid': lambda m, r: None,
    'fx_zero': lambda m, r: _set_k(m, 0, 0.0),
    'fx_negative': lambda m, r: _set_k(m, 0, -500.0),
    'fx_denormal': lambda m, r: _set_k(m, 0, 5e-324),
    'fx_huge': lambda m, r: (_set_k(m, 0, 1e300), _set_k(m, 4, 1e300)),
    'fx_nan': lambda m, r: _set_k(m, 0, float('nan')),
    'fy_inf': lambda m, r: _set_k(m, 4, float('inf')),
    'cx_far': lambda m, r: _set_k(m, 2, 1e9),
    'cy_far_negative': lambda m, r: _set_k(m, 5, -1e7),
    'k_all_zero': lambda m, r: setattr(m, 'k', [0.0] * 9),
    'k_bad_last_row': lambda m, r: _set_k(m, 8, 0.0),
    'k_random': lambda m, r: setattr(m, 'k', [float(v) for v in r.normal(0, 1e3, 9)]),
    'zero_size': lambda m, r: setattr(m, 'width', 0),
    'huge_size': lambda m, r: setattr(m, 'height', 100_000),
    'roi_outside': lambda m, r: (setattr(m.roi, 'x_offset', m.width), setattr(m.roi, 'width',
                                                                              m.width)),
    'binning_huge': lambda m, r: setattr(m, 'binning_x', 1_000_000),
    'distortion_hostile': lambda m, r: setattr(m, 'distortion_model', _text(r)),
    'd_many': lambda m, r: setattr(m, 'd', [0.0] * 10_000),
    'frame_id_hostile': lambda m, r: setattr(m.header, 'frame_id', _text(r)),
}


MUTATIONS = {'image': IMAGE_MUTATIONS, 'compressed': COMPRESSED_MUTATIONS,
             'camera_info': CAMERA_INFO_MUTATIONS}


def as_received(message: Any) -> Any:
    """
    Return ``message`` as a subscriber gets it: serialized to CDR and back.

    The wire changes what an attacker sent: CDR strings end at the first NUL, so an encoding
    ``'rgb8'`` followed by NUL bytes arrives as ``'rgb8'``. The oracle must judge what the
    node receives.
    """
    return deserialize_message(serialize_message(message), type(message))


def clone(message: Any) -> Any:
    """Return an independent copy of a message (cases are reused by the long runs)."""
    return copy.deepcopy(message)
