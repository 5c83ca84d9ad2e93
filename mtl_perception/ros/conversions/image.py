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
Raw ``sensor_msgs/Image`` <-> NumPy: encodings, colour and Bayer/YUV to RGB, depth in metres.

Readers duck-type their input (rclpy messages and the ``rosbags`` classes alike) and return
views of the message's buffer where the layout allows it (no padding, native byte order); pass
``copy=True`` for an independent array. Pixels are handled with vectorised NumPy views, never
with Python loops.
"""

from __future__ import annotations

import re
from typing import Any

import cv2
from mtl_perception.ros.conversions._common import (
    bytes_of,
    checked_dimension,
    header_or_default,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    NATIVE_BIG_ENDIAN,
    new_message,
    require_fields,
    uint8_buffer,
)
from mtl_perception.ros.conversions.text import quoted
import numpy as np
from sensor_msgs.msg import Image

_NAMED_ENCODINGS: dict[str, tuple[str, int]] = {
    'rgb8': ('u1', 3), 'rgba8': ('u1', 4), 'rgb16': ('u2', 3), 'rgba16': ('u2', 4),
    'bgr8': ('u1', 3), 'bgra8': ('u1', 4), 'bgr16': ('u2', 3), 'bgra16': ('u2', 4),
    'mono8': ('u1', 1), 'mono16': ('u2', 1),
    'bayer_rggb8': ('u1', 1), 'bayer_bggr8': ('u1', 1),
    'bayer_gbrg8': ('u1', 1), 'bayer_grbg8': ('u1', 1),
    'bayer_rggb16': ('u2', 1), 'bayer_bggr16': ('u2', 1),
    'bayer_gbrg16': ('u2', 1), 'bayer_grbg16': ('u2', 1),
    # Packed 4:2:2, two bytes per pixel. ROS's 'yuv422' is UYVY byte order.
    'yuv422': ('u1', 2), 'uyvy': ('u1', 2), 'yuv422_yuy2': ('u1', 2), 'yuyv': ('u1', 2),
}

# OpenCV's '<depth><type>C<channels>' names, as sensor_msgs/image_encodings.hpp accepts them.
_GENERIC_ENCODING = re.compile(r'^(8|16|32|64)([USF])C([1-9][0-9]{0,2})$')
_GENERIC_BASES = {
    ('8', 'U'): 'u1', ('8', 'S'): 'i1', ('16', 'U'): 'u2', ('16', 'S'): 'i2',
    ('32', 'S'): 'i4', ('32', 'F'): 'f4', ('64', 'F'): 'f8',
}
_MAX_CHANNELS = 512  # OpenCV's CV_CN_MAX


def supported_image_encodings() -> list[str]:
    """Return the named encodings plus a description of the generic OpenCV-style names."""
    return sorted(_NAMED_ENCODINGS) + [
        '<8U|8S|16U|16S|32S|32F|64F>C<n> such as 8UC1, 8UC3, 16UC1, 16SC1, 32FC1, 64FC1']


def image_encoding_layout(encoding: str) -> tuple[np.dtype, int]:
    """Return the little-endian element dtype and the channel count of an image encoding."""
    if not isinstance(encoding, str):
        raise TypeError(f'encoding must be a str, got {type(encoding).__name__}')
    if encoding in _NAMED_ENCODINGS:
        base, channels = _NAMED_ENCODINGS[encoding]
        return np.dtype('<' + base), channels
    match = _GENERIC_ENCODING.match(encoding)
    if match is not None:
        bits, kind, channel_text = match.groups()
        base = _GENERIC_BASES.get((bits, kind))
        channels = int(channel_text)
        if base is not None and channels <= _MAX_CHANNELS:
            return np.dtype('<' + base), channels
    raise ValueError(
        f'unsupported image encoding {quoted(encoding)}; supported: '
        f'{", ".join(supported_image_encodings())}')


# ------------------------------------------------------------------------------------------
# Image -> NumPy
# ------------------------------------------------------------------------------------------


def image_to_numpy(msg: Image, *, copy: bool = False) -> np.ndarray:
    """
    Return the pixels of a ``sensor_msgs/Image`` as an (H, W) or (H, W, C) array.

    The dtype follows the encoding (``uint8`` for rgb8/bgr8/mono8/8UC*, ``uint16`` for
    mono16/16UC1, ``float32`` for 32FC1 ...) in native byte order; channels stay in the
    encoding's order (bgr8 stays BGR, see :func:`image_to_rgb`). Rows padded beyond
    ``width * bytes_per_pixel`` (``step``) are skipped by striding, big-endian data is
    byte-swapped. Without ``copy`` the result is a view of ``msg.data`` whenever no byte swap
    is needed (read-only when ``data`` is ``bytes``; not necessarily C-contiguous); with
    ``copy`` it is a new C-contiguous array.
    """
    require_fields(msg, ('height', 'width', 'encoding', 'is_bigendian', 'step', 'data'),
                   'sensor_msgs/Image')
    element, channels = image_encoding_layout(msg.encoding)
    height = checked_dimension(msg.height, 'height', 'Image')
    width = checked_dimension(msg.width, 'width', 'Image')
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(
            f'Image of {width}x{height} = {width * height} px exceeds the '
            f'{MAX_IMAGE_PIXELS} px accepted; the message is probably corrupt')
    step = int(msg.step)
    row_bytes = width * channels * element.itemsize
    if step < row_bytes:
        raise ValueError(
            f'Image.step is {step} bytes but a row of {width} px in {msg.encoding} needs at '
            f'least {row_bytes} bytes ({channels} channel(s) x {element.itemsize} byte(s))')
    expected = height * step
    if expected > MAX_IMAGE_BYTES:
        raise ValueError(
            f'Image of {height} rows x {step} bytes = {expected} bytes exceeds the '
            f'{MAX_IMAGE_BYTES} bytes accepted; the message is probably corrupt')
    buffer = uint8_buffer(msg.data, 'Image.data')
    if buffer.size < expected:
        raise ValueError(
            f'Image.data is too short: expected height * step = {height} * {step} = '
            f'{expected} bytes, got {buffer.size} bytes')
    element = element.newbyteorder('>' if msg.is_bigendian else '<')
    rows = buffer[:expected].reshape(height, step)[:, :row_bytes]  # (H, W * C * itemsize)
    pixels = rows.view(element).reshape((height, width, channels) if channels > 1
                                        else (height, width))
    if not element.isnative:
        return pixels.astype(element.newbyteorder('='))  # a C-contiguous copy
    return np.array(pixels, order='C') if copy else pixels


def _to_eight_bit(pixels: np.ndarray, white_level: int) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return cv2.convertScaleAbs(np.ascontiguousarray(pixels), alpha=255.0 / white_level)


_BAYER_TO_RGB = {  # ROS names the top-left 2x2 block, OpenCV one shifted by a pixel (tested)
    'bayer_rggb': cv2.COLOR_BayerBG2RGB,
    'bayer_bggr': cv2.COLOR_BayerRG2RGB,
    'bayer_gbrg': cv2.COLOR_BayerGR2RGB,
    'bayer_grbg': cv2.COLOR_BayerGB2RGB,
}
_RGB_ENCODINGS = frozenset({'rgb8', 'rgb16'})
_BGR_ENCODINGS = frozenset({'bgr8', 'bgr16', '8UC3'})
_RGBA_ENCODINGS = frozenset({'rgba8', 'rgba16'})
_BGRA_ENCODINGS = frozenset({'bgra8', 'bgra16', '8UC4'})
_MONO_ENCODINGS = frozenset({'mono8', 'mono16', '8UC1', '16UC1'})
_UYVY_ENCODINGS = frozenset({'yuv422', 'uyvy'})
_YUYV_ENCODINGS = frozenset({'yuv422_yuy2', 'yuyv'})


def image_to_rgb(msg: Image, *, white_level: int = 65535, copy: bool = False) -> np.ndarray:
    """
    Return a colour or mono ``sensor_msgs/Image`` as a C-contiguous (H, W, 3) uint8 RGB array.

    This is the network's input path: bgr is reordered to rgb, alpha is dropped, mono is
    replicated into three channels, Bayer mosaics are demosaiced and packed YUV 4:2:2 is
    converted. ``8UC3`` and ``8UC4`` are taken as OpenCV's BGR and BGRA.

    16-bit images (mono16, 16UC1, rgb16, bayer_*16 ...) are scaled linearly with
    ``round(value * 255 / white_level)``, saturated at 255. The default 65535 maps the full
    16-bit range (the top byte, like a display would); pass 4095 for a 12-bit sensor
    that stores its values in 16 bits, or 1023 for a 10-bit one. A fixed scale keeps the
    brightness stable from frame to frame, unlike per-frame min/max stretching.

    Depth and other non-image encodings (32FC1, 16SC1 ...) raise ``ValueError``; read them
    with :func:`image_to_numpy` or :func:`depth_image_to_metres`. Without ``copy`` an rgb8
    image without row padding is returned as a view of ``msg.data``.
    """
    if not isinstance(white_level, (int, np.integer)) or not 0 < white_level <= 65535:
        raise ValueError(f'white_level must be an integer in [1, 65535], got {white_level!r}')
    pixels = image_to_numpy(msg)
    encoding = msg.encoding
    bayer_pattern = encoding[:10]
    if encoding in _RGB_ENCODINGS:
        rgb = _to_eight_bit(pixels, white_level)
    elif encoding in _BGR_ENCODINGS:
        rgb = cv2.cvtColor(_to_eight_bit(pixels, white_level), cv2.COLOR_BGR2RGB)
    elif encoding in _RGBA_ENCODINGS:
        rgb = cv2.cvtColor(_to_eight_bit(pixels, white_level), cv2.COLOR_RGBA2RGB)
    elif encoding in _BGRA_ENCODINGS:
        rgb = cv2.cvtColor(_to_eight_bit(pixels, white_level), cv2.COLOR_BGRA2RGB)
    elif encoding in _MONO_ENCODINGS:
        rgb = cv2.cvtColor(_to_eight_bit(pixels, white_level), cv2.COLOR_GRAY2RGB)
    elif bayer_pattern in _BAYER_TO_RGB:
        mosaic = np.ascontiguousarray(_to_eight_bit(pixels, white_level))
        rgb = cv2.cvtColor(mosaic, _BAYER_TO_RGB[bayer_pattern])
    elif encoding in _UYVY_ENCODINGS or encoding in _YUYV_ENCODINGS:
        if pixels.shape[1] % 2:
            raise ValueError(
                f'{encoding} packs two pixels in four bytes, so its width must be even, '
                f'got {pixels.shape[1]}')
        code = (cv2.COLOR_YUV2RGB_UYVY if encoding in _UYVY_ENCODINGS
                else cv2.COLOR_YUV2RGB_YUY2)
        rgb = cv2.cvtColor(np.ascontiguousarray(pixels), code)
    else:
        raise ValueError(
            f'image_to_rgb cannot turn a {encoding} image into RGB: it is not a colour or '
            'mono encoding; use image_to_numpy (or depth_image_to_metres for depth)')
    if copy and rgb is pixels:  # only rgb8 comes back untouched, as a view of msg.data
        return np.array(rgb, order='C')
    return np.ascontiguousarray(rgb)


def depth_image_to_metres(msg: Image) -> np.ndarray:
    """
    Return a depth image (REP 118) as (H, W) float32 metres with NaN where depth is invalid.

    ``16UC1`` (and ``mono16``) holds millimetres with 0 for no reading; ``32FC1`` holds metres
    with NaN (or 0, or +-inf) for no reading. Infinite values are turned into NaN too.
    """
    encoding = getattr(msg, 'encoding', None)
    if encoding in ('16UC1', 'mono16'):
        millimetres = image_to_numpy(msg)
        depth_m = millimetres.astype(np.float32) * np.float32(0.001)
        depth_m[millimetres == 0] = np.nan
        return depth_m
    if encoding == '32FC1':
        depth_m = image_to_numpy(msg, copy=True)
        depth_m[~np.isfinite(depth_m) | (depth_m <= 0)] = np.nan
        return depth_m
    if encoding is None:
        require_fields(msg, ('encoding',), 'sensor_msgs/Image')
    raise ValueError(
        'a depth image must be 16UC1 (millimetres) or 32FC1 (metres), got '
        f'{quoted(encoding)}')


# ------------------------------------------------------------------------------------------
# NumPy -> Image
# ------------------------------------------------------------------------------------------


def numpy_to_image(array_: np.ndarray, encoding: str, header: Any | None = None) -> Image:
    """
    Return a ``sensor_msgs/Image`` holding an (H, W) or (H, W, C) array.

    The array's dtype must match the encoding exactly (``uint8`` for mono8/rgb8/bgr8,
    ``uint16`` for mono16/16UC1, ``float32`` for 32FC1 ...): no silent casts, convert with
    ``array_.astype(...)`` first. The header is copied (stamp and frame id), never restamped;
    without one the message gets an empty header. Rows are unpadded (``step = W * C *
    itemsize``) and the data is in this machine's byte order, which ``is_bigendian`` records.
    The message checks its fields (see ``new_message``): assign ``data`` an
    ``array.array('B')``, not ``bytes``, if you replace it later.
    """
    if not isinstance(array_, np.ndarray):
        raise TypeError(f'numpy_to_image needs a numpy.ndarray, got {type(array_).__name__}')
    element, channels = image_encoding_layout(encoding)
    if array_.ndim == 3 and array_.shape[2] == channels:
        height, width = array_.shape[:2]
    elif array_.ndim == 2 and channels == 1:
        height, width = array_.shape
    else:
        expected_shape = '(H, W)' if channels == 1 else f'(H, W, {channels})'
        raise ValueError(
            f'encoding {encoding} needs an array of shape {expected_shape}, '
            f'got shape {array_.shape}')
    if array_.dtype.newbyteorder('=') != element.newbyteorder('='):
        raise ValueError(
            f'encoding {encoding} needs dtype {element.newbyteorder("=").name}, got '
            f'{array_.dtype}; convert with array.astype(np.{element.newbyteorder("=").name})')
    checked_dimension(height, 'height', 'array')
    checked_dimension(width, 'width', 'array')
    step = width * channels * element.itemsize
    if height * step > MAX_IMAGE_BYTES:
        raise ValueError(
            f'image of {height * step} bytes exceeds the {MAX_IMAGE_BYTES} bytes accepted')
    if not array_.dtype.isnative:
        array_ = array_.astype(array_.dtype.newbyteorder('='))
    return new_message(
        Image,
        header=header_or_default(header),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(NATIVE_BIG_ENDIAN),
        step=step,
        data=bytes_of(array_),
    )
