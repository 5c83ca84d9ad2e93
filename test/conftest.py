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

"""Shared fixtures: tiny generated batches and checkpoints, built in memory (no files shipped)."""

from __future__ import annotations

from pathlib import Path

from mtl_perception.core.checkpoint import Checkpoint
import pytest
import torch
from toy_models import make_toy_batch, tiny_checkpoint_object

TEST_ROOT = Path(__file__).resolve().parent
# Folder -> markers; a module can add its own (integration tests that start ROS add ``ros``).
FOLDER_MARKERS = {'core': (), 'synth': (), 'ros': ('ros',), 'integration': ('slow',)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by the folder it lives in, so ``-m 'not ros'`` needs no list of files."""
    for item in items:
        relative = Path(item.path).resolve().relative_to(TEST_ROOT)
        for marker in FOLDER_MARKERS.get(relative.parts[0], ()):
            item.add_marker(marker)


@pytest.fixture
def toy_batch() -> dict[str, torch.Tensor]:
    return make_toy_batch()


@pytest.fixture
def tiny_checkpoint() -> Checkpoint:
    return tiny_checkpoint_object()


@pytest.fixture(scope='session')
def tiny_data(tmp_path_factory):
    """Return a few rendered frames in the Cityscapes layout (real PyBullet renders, 64x48)."""
    from mtl_perception.tools.synth import main as synth_main

    root = tmp_path_factory.mktemp('synth')
    for split, frames in (('train', 16), ('val', 4)):
        assert synth_main(['--out', str(root), '--split', split, '--frames', str(frames),
                           '--width', '64', '--height', '48', '--seed', '3', '--scenes', '2',
                           '--no-progress', '--quiet']) == 0
    return root
