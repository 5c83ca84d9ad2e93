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
Message text made safe to quote in logs and error messages.

Message fields (an encoding, a format, a frame id) come from whoever publishes on the topic,
so every conversion and the node quote them through :func:`printable`, never verbatim.
"""

from __future__ import annotations

import re
from typing import Any

MAX_LOG_TEXT_CHARS = 200
"""Longest piece of message text (encoding, format, frame id) quoted in an error message."""

_CONTROL_CHARACTERS = re.compile(r'[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e]')


def printable(text: Any, limit: int = MAX_LOG_TEXT_CHARS) -> str:
    """
    Return ``text`` safe to log: control characters escaped, at most ``limit`` characters.

    Message fields (an encoding, a format, a frame id) come from whoever publishes on the
    topic: quoted verbatim, a 72 kB encoding string floods the log and a newline or an ANSI
    escape forges log lines. Control and bidirectional characters become hex escapes;
    longer text is cut and says how long it was.
    """
    text = str(text)
    total = len(text)
    if total > limit:
        text = text[:limit]
    text = _CONTROL_CHARACTERS.sub(
        lambda match: (f'\\x{ord(match.group()):02x}' if ord(match.group()) < 0x100
                       else f'\\u{ord(match.group()):04x}'), text)
    if len(text) > limit:  # escapes lengthen the text
        text = text[:limit]
    if total > limit:
        text += f'... ({total} characters)'
    return text


def quoted(text: Any) -> str:
    """Quote message text like ``repr`` for an error message, bounded and sanitised."""
    return "'" + printable(text).replace("'", "\\'") + "'"
