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
What every conversion shares: size limits, header copies, and bytes in and out of messages.

Readers take ``data`` as rclpy gives it (``array.array``, ``bytes``) or as the ``rosbags``
library does (a NumPy ``uint8`` array); writers fill it with an ``array.array('B')`` built in
one copy, the fast path of message classes that check their fields (Humble, Jazzy).
"""

from __future__ import annotations

import array
from collections.abc import Sequence
import sys
from typing import Any

from builtin_interfaces.msg import Time
from mtl_perception.ros.conversions.text import quoted
import numpy as np
from std_msgs.msg import Header

MAX_IMAGE_SIDE_PX = 16384
"""Largest width or height accepted for an image; larger values are treated as corrupt."""

MAX_IMAGE_BYTES = 256 * 1024 * 1024
"""Largest image buffer (height * step) accepted, in bytes."""

MAX_IMAGE_PIXELS = 7680 * 4320
"""Largest width * height accepted (8K UHD): a larger frame is corrupt or hostile, and the
pipeline's copies of it (resize, colour, outputs) would take gigabytes."""

NATIVE_BIG_ENDIAN = sys.byteorder == 'big'


def copy_header(header: Any) -> Header:
    """
    Return a new ``std_msgs/Header`` with the same stamp and frame id (never restamped).

    Outputs derived from an input message carry the input's header, so downstream nodes can
    match them by time stamp and transform them with tf at the time of capture.
    """
    stamp = getattr(header, 'stamp', None)
    if stamp is None or not hasattr(header, 'frame_id'):
        raise TypeError(
            f'expected a std_msgs/Header (with stamp and frame_id), got {type(header).__name__}')
    try:
        seconds = int(stamp.sec)
        nanoseconds = int(stamp.nanosec)
    except AttributeError as error:
        raise TypeError(
            f'header.stamp must be a builtin_interfaces/Time (sec, nanosec), '
            f'got {type(stamp).__name__}') from error
    return Header(stamp=Time(sec=seconds, nanosec=nanoseconds), frame_id=str(header.frame_id))


def header_or_default(header: Any | None) -> Header:
    return Header() if header is None else copy_header(header)


def require_fields(msg: Any, names: Sequence[str], kind: str) -> None:
    missing = [name for name in names if not hasattr(msg, name)]
    if missing:
        raise TypeError(
            f'expected a {kind} message, got {type(msg).__name__} '
            f'(missing field(s): {", ".join(missing)})')


def checked_dimension(value: Any, name: str, kind: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f'{kind}.{name} must be an integer, got {quoted(value)}') from error
    if number <= 0:
        raise ValueError(f'{kind}.{name} is {number}: an image needs a positive {name}')
    if number > MAX_IMAGE_SIDE_PX:
        raise ValueError(
            f'{kind}.{name} is {number} px, more than the {MAX_IMAGE_SIDE_PX} px accepted; '
            'the message is probably corrupt')
    return number


def uint8_buffer(data: Any, what: str) -> np.ndarray:
    """Return a 1-D uint8 view of a message's ``data`` (array.array, bytes, ndarray or list)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise TypeError(f'{what} must hold uint8 bytes, got an array of {data.dtype}')
        return data.reshape(-1)
    if isinstance(data, (bytes, bytearray, memoryview, array.array)):
        return np.frombuffer(data, dtype=np.uint8)
    if isinstance(data, (list, tuple)):
        try:
            return np.asarray(data, dtype=np.uint8)
        except (OverflowError, ValueError, TypeError) as error:
            raise ValueError(f'{what} must hold integers in [0, 255]: {error}') from error
    raise TypeError(
        f'{what} must be bytes, array.array or a uint8 ndarray, got {type(data).__name__}')


def new_message(message_type: type, **fields: Any) -> Any:
    """
    Construct a message whose ``data`` setter keeps our ``array.array('B')`` as it is.

    Kilted's generated classes only take the no-copy path for an ``array.array`` when they
    check their fields, so ask for that where the class knows the switch (its ``__slots__``
    name ``_check_fields``); older classes (Humble, Jazzy) always take it. Measured on a
    640x480 frame: rgb8 0.16 -> 0.09 ms, 32FC1 0.25 -> 0.15 ms per message.
    """
    if '_check_fields' in getattr(message_type, '__slots__', ()):
        fields['check_fields'] = True
    return message_type(**fields)


def bytes_of(values: np.ndarray) -> array.array:
    """
    Copy an array's memory into an ``array.array('B')`` with exactly one copy.

    Measured on a 640x480 rgb8 frame: 0.08 ms this way; ``array.array('B', a.tobytes())``
    0.12 ms; assigning ``bytes`` to a message that checks its fields (Humble, Jazzy, or
    ``ROS_PYTHON_CHECK_FIELDS=1``) 45 ms, because the setter checks every byte in Python.
    """
    contiguous = np.ascontiguousarray(values)
    data = array.array('B')
    data.frombytes(contiguous.reshape(-1).view(np.uint8))
    return data
