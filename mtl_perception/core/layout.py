"""The Cityscapes directory layout's one extra file: ``manifest.json`` of generated data.

Its presence tells the loader that a folder holds generated frames (class ids written
directly) rather than real Cityscapes (label ids to be mapped); ``mtl_synth`` writes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MANIFEST_NAME = 'manifest.json'


def read_manifest(root: str | Path) -> dict[str, Any] | None:
    """Return the manifest at ``root``, or None when there is none."""
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding='utf-8'))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f'cannot read {path}: {error}') from error
