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

"""Checkpoints are atomic, self-describing and loaded without executing code."""

import os
import pickle

from mtl_perception.core.checkpoint import (
    CheckpointError,
    load_checkpoint,
    safe_torch_load,
    save_checkpoint,
)
import pytest
import torch


def test_round_trip_keeps_everything(tmp_path, tiny_checkpoint):
    path = save_checkpoint(tiny_checkpoint, tmp_path / 'model.pt')
    loaded = load_checkpoint(path)
    assert loaded.model_config == tiny_checkpoint.model_config
    assert loaded.class_set == tiny_checkpoint.class_set
    assert loaded.preprocessing == tiny_checkpoint.preprocessing
    assert loaded.log_variances == tiny_checkpoint.log_variances
    assert loaded.sigmas['depth'] == pytest.approx(torch.exp(torch.tensor(-1.0)).item())
    model = loaded.build_model().eval()
    reference = tiny_checkpoint.build_model().eval()
    image = torch.randn(1, 3, 48, 64)
    with torch.no_grad():
        for key, value in model(image).items():
            torch.testing.assert_close(value, reference(image)[key])


def test_no_temporary_files_are_left(tmp_path, tiny_checkpoint):
    save_checkpoint(tiny_checkpoint, tmp_path / 'model.pt')
    save_checkpoint(tiny_checkpoint, tmp_path / 'model.pt')  # overwrite in place
    assert sorted(os.listdir(tmp_path)) == ['model.pt']


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'nothing.pt')


def test_corrupt_and_truncated_files(tmp_path, tiny_checkpoint):
    path = save_checkpoint(tiny_checkpoint, tmp_path / 'model.pt')
    truncated = tmp_path / 'truncated.pt'
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match='truncated.pt cannot be read safely'):
        load_checkpoint(truncated)
    garbage = tmp_path / 'garbage.pt'
    garbage.write_bytes(b'not a checkpoint at all')
    with pytest.raises(CheckpointError, match='garbage.pt'):
        load_checkpoint(garbage)


class _Exploit:
    """Pickles to a shell command: what weights_only loading must refuse."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / 'evil.pt'
    with open(path, 'wb') as handle:
        torch.save({'format': 'x', 'payload': _Exploit()}, handle, pickle_protocol=2)
    with pytest.raises(CheckpointError, match='cannot be read safely'):
        safe_torch_load(path)
    plain = tmp_path / 'plain.pkl'
    plain.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(CheckpointError):
        load_checkpoint(plain)


def test_foreign_checkpoint(tmp_path):
    path = tmp_path / 'foreign.pt'
    torch.save({'model': {'weight': torch.zeros(3)}}, path)
    with pytest.raises(CheckpointError, match='not a mtl_perception checkpoint'):
        load_checkpoint(path)


def test_weights_that_do_not_fit(tmp_path, tiny_checkpoint):
    tiny_checkpoint.state_dict = {k: v for k, v in tiny_checkpoint.state_dict.items()
                                  if 'heads.depth' not in k}
    path = save_checkpoint(tiny_checkpoint, tmp_path / 'partial.pt')
    with pytest.raises(CheckpointError, match='weights do not fit'):
        load_checkpoint(path).build_model()
