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
``sensor_msgs/CompressedImage`` (JPEG, PNG) to RGB, with the size read from the header first.

A few kilobytes of JPEG can claim 8000x8000 pixels, so the frame size is sniffed from the JPEG
frame header or the PNG IHDR chunk and checked against the limits before anything is decoded.
"""

from __future__ import annotations

import cv2
from mtl_perception.ros.conversions._common import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE_PX,
    require_fields,
    uint8_buffer,
)
from mtl_perception.ros.conversions.text import quoted
import numpy as np
from sensor_msgs.msg import CompressedImage

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic ...), which hold the
# frame size; 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) share the range but are not frames.
_JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI


def _jpeg_size(data: memoryview) -> tuple[int, int]:
    """Return (width, height) from the first start-of-frame segment of a JPEG stream."""
    index, size = 2, len(data)
    while index + 1 < size:
        if data[index] != 0xFF:
            raise ValueError(f'corrupt JPEG: expected a marker at byte {index}, found '
                             f'0x{data[index]:02x}')
        marker = data[index + 1]
        index += 2
        if marker == 0xFF:  # fill byte before a marker
            index -= 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            break
        if index + 2 > size:
            break
        length = (data[index] << 8) | data[index + 1]
        if length < 2:
            raise ValueError(f'corrupt JPEG: segment 0xFF{marker:02X} has length {length}')
        if marker in _JPEG_SOF_MARKERS:
            if index + 7 > size:
                break
            height = (data[index + 3] << 8) | data[index + 4]
            width = (data[index + 5] << 8) | data[index + 6]
            return width, height
        index += length
    raise ValueError('corrupt JPEG: no frame header (SOF segment) before the image data')


def _png_size(data: memoryview) -> tuple[int, int]:
    """Return (width, height) from the IHDR chunk, which PNG requires to come first."""
    if len(data) < 24 or bytes(data[12:16]) != b'IHDR':
        raise ValueError('corrupt PNG: the IHDR chunk does not follow the signature')
    width = int.from_bytes(data[16:20], 'big')
    height = int.from_bytes(data[20:24], 'big')
    return width, height


def compressed_image_size(msg: CompressedImage, *, max_pixels: int = MAX_IMAGE_PIXELS
                          ) -> tuple[int, int]:
    """
    Return the (width, height) a ``CompressedImage`` decodes to, read from its header only.

    A few kilobytes of JPEG can claim 8000x8000 pixels, and decoding it first would allocate
    the whole frame; the size is therefore read from the JPEG frame header (SOF segment) or
    the PNG IHDR chunk without decoding, and checked against ``MAX_IMAGE_SIDE_PX``,
    ``max_pixels`` and ``MAX_IMAGE_BYTES``. Raises ``ValueError`` for a size over the limits,
    empty or corrupt headers, ``compressedDepth`` data and codecs other than JPEG and PNG
    (the two that image_transport's compressed transport writes).
    """
    require_fields(msg, ('format', 'data'), 'sensor_msgs/CompressedImage')
    image_format = str(msg.format)
    if 'compresseddepth' in image_format.lower().replace(' ', ''):
        raise ValueError(
            f'CompressedImage format {quoted(image_format)} is the compressedDepth '
            'transport, which holds depth, not an RGB image; subscribe to the raw depth topic '
            'instead')
    buffer = uint8_buffer(msg.data, 'CompressedImage.data')
    if buffer.size == 0:
        raise ValueError(f'CompressedImage.data is empty (format {quoted(image_format)})')
    data = memoryview(np.ascontiguousarray(buffer))
    if bytes(data[:3]) == b'\xff\xd8\xff':
        codec, (width, height) = 'JPEG', _jpeg_size(data)
    elif bytes(data[:8]) == _PNG_SIGNATURE:
        codec, (width, height) = 'PNG', _png_size(data)
    else:
        raise ValueError(
            f'could not decode CompressedImage of {buffer.size} bytes with format '
            f'{quoted(image_format)}: the data is neither JPEG nor PNG (corrupt, or a codec '
            'this node does not read)')
    for value, name in ((width, 'width'), (height, 'height')):
        if value <= 0:
            raise ValueError(f'{codec} header gives a {name} of {value} px')
        if value > MAX_IMAGE_SIDE_PX:
            raise ValueError(
                f'{codec} header claims a {name} of {value} px, more than the '
                f'{MAX_IMAGE_SIDE_PX} px accepted; not decoded')
    if width * height > max_pixels or width * height * 3 > MAX_IMAGE_BYTES:
        raise ValueError(
            f'{codec} header claims {width}x{height} = {width * height} px, more than the '
            f'{max_pixels} px accepted; not decoded ({buffer.size} bytes of data)')
    return width, height


def compressed_image_to_numpy(msg: CompressedImage, *, max_pixels: int = MAX_IMAGE_PIXELS
                              ) -> np.ndarray:
    """
    Decode a ``sensor_msgs/CompressedImage`` (JPEG or PNG) into (H, W, 3) uint8 RGB.

    ``format`` may be plain (``'jpeg'``, ``'png'``) or image_transport's
    ``'<encoding>; <codec> compressed <encoding>'``; the codec is detected from the data
    itself, and image_transport always compresses colour as BGR, so the decoded image is simply
    reordered to RGB. Mono images are replicated into three channels, alpha is dropped and
    16-bit PNGs are reduced to 8 bits. The size is checked from the header before anything is
    decoded (:func:`compressed_image_size`). ``compressedDepth`` (the depth transport) is not
    an RGB image and raises ``ValueError``, as do empty, oversized or undecodable data.
    """
    width, height = compressed_image_size(msg, max_pixels=max_pixels)
    buffer = np.ascontiguousarray(uint8_buffer(msg.data, 'CompressedImage.data'))
    # Ignoring EXIF orientation keeps the decoded size the one the header promised.
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if bgr is None:
        raise ValueError(
            f'could not decode CompressedImage of {buffer.size} bytes with format '
            f'{quoted(msg.format)}: the data is corrupt')
    if bgr.shape[:2] != (height, width):
        raise ValueError(f'CompressedImage decoded to {bgr.shape[1]}x{bgr.shape[0]} but its '
                         f'header says {width}x{height}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
