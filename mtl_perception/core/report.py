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
What every written report states, in one place: the hardware line, the date, marked sections.

Benchmarks (``mtl_benchmark``, ``mtl_benchmark_instances``) and the paper study each own one
marked section of a markdown file (``docs/benchmarks.md``, ``docs/results.md``), so re-running
one rewrites its own numbers and keeps the rest of the file byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
import datetime
import os
from pathlib import Path
import platform
import subprocess


def cpu_model() -> str:
    """Return the CPU model name from ``lscpu`` (or ``platform``), plus the core count."""
    name = platform.processor() or platform.machine()
    try:
        output = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10,
                                check=False).stdout
        for line in output.splitlines():
            if line.lower().startswith('model name'):
                name = line.split(':', 1)[1].strip()
                break
    except (OSError, subprocess.SubprocessError):
        pass
    return f'{name}, {os.cpu_count()} logical CPUs'


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Return the lines of a markdown table: header, separator, one line per row."""
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
    return lines + ['| ' + ' | '.join(row) + ' |' for row in rows]


def metric_table(metrics: Mapping[str, float],
                 rows: Iterable[tuple[str, str, float]]) -> list[str]:
    """Return a ``| metric | value |`` table of the (title, key, scale) rows in ``metrics``."""
    return markdown_table(('metric', 'value'), [(title, f'{metrics[key] * scale:.4g}')
                                                for title, key, scale in rows if key in metrics])


def now_iso() -> str:
    """Return the local time with its UTC offset, to the second."""
    return datetime.datetime.now().astimezone().isoformat(timespec='seconds')


def write_marked_section(path: Path, name: str, section: str,
                         heading: str = '# Benchmarks') -> None:
    """
    Replace (or append) the section between ``<!-- name:begin -->`` and ``:end`` markers.

    Everything outside the markers is kept as it is; a file that does not exist yet starts
    with ``heading``. Markers that are missing (or out of order) are appended at the end.
    """
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    block = f'{begin}\n{section.rstrip(chr(10))}\n{end}'
    text = path.read_text() if path.exists() else f'{heading}\n'
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip('\n') + '\n\n' + block + '\n'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
