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
One run of the study in a worker process: train, evaluate on validation and test, record.

The record holds the metrics, the learned log-variances, the trajectory of every task's loss,
log-variance and weight, and the equilibrium check of uncertainty runs.
"""

from __future__ import annotations

import csv
import datetime
import math
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.config import CLASSIFICATION_TASKS
from mtl_perception.core.data import build_dataset
from mtl_perception.core.study.stats import (
    equilibrium,
    METRICS,
    trailing_mean,
)
from mtl_perception.core.training import evaluate, run, TrainConfig
import torch


def read_log(path: Path) -> list[dict[str, float]]:
    with path.open(newline='') as handle:
        return [{k: float(v) for k, v in row.items() if v not in ('', None)}
                for row in csv.DictReader(handle)]


def trajectory(rows: list[dict[str, float]], tasks: list[str]) -> dict[str, list[float]]:
    """Per logged step: log-variance, batch loss and effective weight of every task."""
    result: dict[str, list[float]] = {'step': [r['step'] for r in rows]}
    for task in tasks:
        result[f'loss_{task}'] = [r[f'loss_{task}'] for r in rows]
        if f'sigma_{task}' in rows[0]:
            result[f'log_variance_{task}'] = [2.0 * math.log(r[f'sigma_{task}']) for r in rows]
        if f'weight_{task}' in rows[0]:
            result[f'weight_{task}'] = [r[f'weight_{task}'] for r in rows]
    return result


def train_and_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one run, evaluate it on validation and test, and return its record."""
    torch.set_num_threads(int(spec['train']['threads']))
    config = TrainConfig(**{**spec['train'], 'tasks': tuple(spec['train']['tasks'])})
    start = time.perf_counter()
    model_path = run(config)
    train_s = time.perf_counter() - start
    checkpoint = load_checkpoint(model_path)
    model = checkpoint.build_model().eval()
    prep = checkpoint.preprocessing
    scale = float(spec['depth_target_scale'])
    record = {k: v for k, v in spec.items() if k not in ('train', 'evaluation')}
    for split in ('val', 'test'):
        dataset = build_dataset(config.data_root, split, checkpoint.class_set.name,
                                size=(prep.input_width, prep.input_height), augment=False,
                                f_canon=prep.f_canon, mean=prep.mean, std=prep.std,
                                depth_target_scale=scale)
        metrics = evaluate(model, dataset, checkpoint.class_set.names, torch.device('cpu'),
                           batch_size=16, max_frames=spec['evaluation'][f'{split}_frames'])
        values = {k: float(v) for k, v in metrics.items() if k in METRICS}
        if 'inverse_depth_mean_error' in values:  # back to unscaled units (stress test)
            values['inverse_depth_mean_error'] /= scale
        record[split] = values
    rows = read_log(Path(config.out) / 'log.csv')
    tasks = list(spec['tasks'])
    path = trajectory(rows, tasks)
    record['log_variances'] = dict(checkpoint.log_variances)
    record['sigmas'] = checkpoint.sigmas
    record['final_losses'] = {t: float(trailing_mean(path[f'loss_{t}'], 10)[-1]) for t in tasks}
    record['final_weights'] = {t: path[f'weight_{t}'][-1] for t in tasks
                               if f'weight_{t}' in path}
    if spec['weighting'] == 'uncertainty':
        record['equilibrium'] = {
            t: equilibrium(path['step'], path[f'log_variance_{t}'], path[f'loss_{t}'],
                           t in CLASSIFICATION_TASKS).to_dict() for t in tasks}
    record['trajectory'] = path
    record['steps'] = int(config.max_steps)
    record['train_s'] = train_s
    record['wall_s'] = time.perf_counter() - start
    record['finished_at'] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds')
    return record
