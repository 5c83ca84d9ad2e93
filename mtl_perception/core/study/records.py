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
The results file of a study: one JSON line per finished run, and what identifies a run.

Each finished run is one record appended as one line, so a study can stop at any time and
resume later: a rerun skips every (arm, seed, configuration hash) already in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
import hashlib
import json
from pathlib import Path
from typing import Any


def config_hash(config: Mapping[str, Any]) -> str:
    """
    Return a short, stable hash of a JSON-serialisable configuration.

    Keys are sorted, so two equal configurations hash equally whatever their order; a rerun
    whose configuration changed (other steps, other weights) does not reuse old records.
    """
    text = json.dumps(config, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# --- the results file ------------------------------------------------------------------------

def record_key(record: Mapping[str, Any]) -> tuple[str, int, str]:
    """Return what identifies a finished run: arm, seed and configuration hash."""
    return str(record['arm']), int(record['seed']), str(record['config_hash'])


class ResultsFile:
    """
    Append-only JSON-lines file of finished runs: one line per run, written in one call.

    A line cut short by a crash (the only way a partial line can appear) is skipped with a
    count in ``skipped_lines``, so the runs before it still count and the run is redone.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.skipped_lines = 0

    def load(self) -> list[dict[str, Any]]:
        """Return every complete record, in the order the runs finished."""
        self.skipped_lines = 0
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record_key(record)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                self.skipped_lines += 1
                continue
            records.append(record)
        return records

    def done(self) -> set[tuple[str, int, str]]:
        """Keys of the runs already finished."""
        return {record_key(r) for r in self.load()}

    def append(self, record: Mapping[str, Any]) -> None:
        """Add one finished run (validated, then written as one line)."""
        record_key(record)
        line = json.dumps(record, sort_keys=True, default=float, allow_nan=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open('a') as handle:
            handle.write(line + '\n')
