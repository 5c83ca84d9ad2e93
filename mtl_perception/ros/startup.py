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
What ``mtl_perception_node`` checks before the node exists: params files, rcl's arguments.

rcl reports these problems as C errors with source locations and extra log lines; each
function here turns one into a single line that says what to fix, for ``node.main``.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

from mtl_perception.ros import conversions
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
import yaml


def parameter_problem(name: str, error: ParameterException) -> str:
    """Say in a few words what rclpy refused (its own text repeats itself and the name)."""
    text = str(error.args[0] if error.args else error)
    value = re.search(r'Invalid parameter value \((.*)\) for parameter', text, re.S)
    if value:
        return f'{name} = {conversions.printable(value.group(1), 80)} is out of range'
    kind = re.search(r"to '(.*)' of type '(\w+)', expecting type '(\w+)'", text, re.S)
    if kind:
        return (f'{name} = {conversions.printable(kind.group(1), 80)} is of type '
                f'{kind.group(2).lower()}, not {kind.group(3).lower()}')
    return f'{name}: {conversions.printable(text)}'


def check_params_files(args: list[str]) -> str:
    """
    Return what is wrong with the ``--params-file`` arguments, or '' when they read.

    rcl reports an unreadable file as a C error with its source locations and an extra log
    line; reading the YAML first gives one line with the real problem and its position.
    """
    files = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == '--params-file']
    for path in files:
        try:
            with open(path, encoding='utf-8') as handle:
                content = yaml.safe_load(handle)
        except OSError as error:
            return f'cannot read params file {path}: {error.strerror or error}'
        except yaml.YAMLError as error:
            mark = getattr(error, 'problem_mark', None)
            where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
            problem = getattr(error, 'problem', None) or str(error)
            return f'params file {path} is not valid YAML{where}: {problem}'
        if content is not None and not isinstance(content, dict):
            return (f'params file {path} must map node names to ros__parameters, got a '
                    f'{type(content).__name__}')
    return ''


def init_quietly(args: list[str] | None) -> None:
    """
    ``rclpy.init``, holding back what rcl prints to stderr unless the call succeeds.

    On bad arguments rcl logs its own "[ERROR] [rcl]: Failed to parse global arguments" line
    before raising; main() replaces both with one line that says what to fix.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            rclpy.init(args=args)
        except _rclpy.RCLError:
            raise
        else:
            captured.seek(0)
            held_back = captured.read()
            if held_back:
                os.write(saved, held_back)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
