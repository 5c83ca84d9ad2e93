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
A ``diagnostic_msgs/DiagnosticStatus`` from a name, a level and a mapping of values.

Values are written the same way wherever the node reports (6 significant digits for floats,
true/false for booleans), so diagnostics readers and the stress tools parse one format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
import numpy as np

_DIAGNOSTIC_LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}


def _diagnostic_value(value: Any) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (float, np.floating)):
        return f'{float(value):.6g}'
    return str(value)


def diagnostic_status(name: str, values: Mapping[str, Any], *, level: int | bytes = 0,
                      message: str = '', hardware_id: str = '') -> DiagnosticStatus:
    """
    Return a ``diagnostic_msgs/DiagnosticStatus`` with one KeyValue per item of ``values``.

    ``level`` is 0 OK, 1 WARN, 2 ERROR or 3 STALE (an int or the message's byte constants).
    Floats are written with 6 significant digits, booleans as true/false.
    """
    if isinstance(level, (bytes, bytearray)):
        if len(level) != 1:
            raise ValueError(f'level must be a single byte, got {level!r}')
        level = level[0]
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise TypeError(f'level must be an int (0 OK ... 3 STALE), got {type(level).__name__}')
    if int(level) not in _DIAGNOSTIC_LEVELS:
        raise ValueError(f'level must be one of {_DIAGNOSTIC_LEVELS}, got {level}')
    if not isinstance(values, Mapping):
        raise TypeError(f'values must be a mapping of key to value, got {type(values).__name__}')
    return DiagnosticStatus(
        level=bytes([int(level)]),
        name=str(name),
        message=str(message),
        hardware_id=str(hardware_id),
        values=[KeyValue(key=str(key), value=_diagnostic_value(value))
                for key, value in values.items()],
    )
