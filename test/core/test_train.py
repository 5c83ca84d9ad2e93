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

"""mtl_train end to end on rendered frames: outputs, exact resume after a kill, bad input."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from mtl_perception.core.checkpoint import load_checkpoint, safe_torch_load
from mtl_perception.core.config_io import ConfigError
from mtl_perception.core.predictor import Predictor
from mtl_perception.core.training import run, TrainConfig
import pytest
import torch


def _config(data: Path, out: Path, **changes) -> TrainConfig:
    base = {'data_root': str(data), 'preset': 'tiny', 'width': 64, 'height': 48,
            'batch_size': 4, 'epochs': 100, 'max_steps': 8, 'warmup_steps': 2, 'workers': 0,
            'out': str(out), 'checkpoint_every_steps': 2, 'log_every_steps': 1, 'threads': 1}
    base.update(changes)
    return TrainConfig(**base)


def test_training_writes_a_deployable_run(tiny_data, tmp_path):
    model_path = run(_config(tiny_data, tmp_path / 'run'))
    for name in ('model.pt', 'train_state.pt', 'config.yaml', 'log.csv', 'eval.csv',
                 'curves.png'):
        assert (tmp_path / 'run' / name).exists(), name
    checkpoint = load_checkpoint(model_path)
    assert set(checkpoint.log_variances) == {'semantic', 'instance', 'depth'}
    assert checkpoint.metrics['validation']['semantic_miou'] >= 0
    header = (tmp_path / 'run' / 'log.csv').read_text().splitlines()[0]
    assert 'sigma_depth' in header and 'loss_instance' in header and 'total' in header
    predictor = Predictor(model_path, device='cpu')
    prediction = predictor.predict(torch.zeros(48, 64, 3, dtype=torch.uint8).numpy())
    assert prediction.semantic.shape == (48, 64)


def test_fixed_weighting_and_a_single_task(tiny_data, tmp_path):
    run(_config(tiny_data, tmp_path / 'fixed', tasks=('semantic', 'depth'),
                weighting='fixed', fixed_weights={'semantic': 0.85, 'depth': 0.15},
                max_steps=2))
    checkpoint = load_checkpoint(tmp_path / 'fixed' / 'model.pt')
    assert checkpoint.model_config.tasks == ('semantic', 'depth')
    assert checkpoint.log_variances == {}
    run(_config(tiny_data, tmp_path / 'single', tasks=('instance',), weighting='equal',
                max_steps=2))
    assert load_checkpoint(tmp_path / 'single' / 'model.pt').model_config.tasks == (
        'instance',)


def test_a_killed_run_resumes_exactly(tiny_data, tmp_path):
    steps = 40
    reference = run(_config(tiny_data, tmp_path / 'whole', max_steps=steps,
                            checkpoint_every_steps=5))
    out = tmp_path / 'killed'
    args = [sys.executable, '-m', 'mtl_perception.tools.train', '--data-root', str(tiny_data),
            '--preset', 'tiny', '--width', '64', '--height', '48', '--batch-size', '4',
            '--epochs', '100', '--max-steps', str(steps), '--warmup-steps', '2',
            '--workers', '0', '--out', str(out), '--checkpoint-every-steps', '5',
            '--log-every-steps', '1', '--threads', '1']
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = out / 'train_state.pt'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if state.exists() and safe_torch_load(state)['progress']['step'] >= 10:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = safe_torch_load(state)['progress']['step']
    assert killed_at < steps, 'the run finished before it could be killed'
    resumed = run(_config(tiny_data, out, max_steps=steps, checkpoint_every_steps=5))
    whole = load_checkpoint(reference).state_dict
    again = load_checkpoint(resumed).state_dict
    for key, value in whole.items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0, msg=key)
    rows = (out / 'log.csv').read_text().splitlines()[1:]
    assert [int(r.split(',')[0]) for r in rows] == list(range(1, steps + 1))


def test_bad_data_folder_names_the_path(tmp_path):
    with pytest.raises((ConfigError, ValueError), match='nowhere'):
        run(_config(tmp_path / 'nowhere', tmp_path / 'run'))
