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
What makes a run resumable and reproducible: process setup, seeds, the training state, logs.

``train_state.pt`` holds everything needed to resume exactly (module, optimizer, AMP scaler,
progress counters, torch RNG, the config) and is written atomically, so a killed run loses at
most one checkpoint interval; on resume the log rows written after that state are dropped.
``model.pt`` is the deployable :class:`~mtl_perception.core.checkpoint.Checkpoint`.
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
import random
import shlex
import sys
from typing import Any

from mtl_perception.core.checkpoint import (
    atomic_torch_save,
    Checkpoint,
    Preprocessing,
    safe_torch_load,
    save_checkpoint,
)
from mtl_perception.core.classes import ClassSet
from mtl_perception.core.config_io import config_to_dict, ConfigError
from mtl_perception.core.training.config import TrainConfig
from mtl_perception.core.training.module import MultiTaskTrainModule
import numpy as np
import torch
import torch.distributed as dist

LOGGER = logging.getLogger('mtl_train')
STATE_FILE = 'train_state.pt'
MODEL_FILE = 'model.pt'


def setup_distributed(config: TrainConfig) -> tuple[torch.device, int, int]:
    """Return (device, rank, world size); initialise the process group under torchrun."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    rank = int(os.environ.get('RANK', '0'))
    if config.device == 'auto':
        device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
    else:
        device_type = config.device
    if device_type == 'cuda' and not torch.cuda.is_available():
        raise ConfigError('device cuda was asked for but CUDA is not available')
    device = torch.device(device_type)
    if world > 1:
        local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        if device_type == 'cuda':
            torch.cuda.set_device(local_rank)
            device = torch.device('cuda', local_rank)
        dist.init_process_group('nccl' if device_type == 'cuda' else 'gloo')
    return device, rank, world


def is_main(rank: int) -> bool:
    """Return True for the process that writes files and logs (rank 0)."""
    return rank == 0


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def save_train_state(path: Path, module: MultiTaskTrainModule,
                     optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
                     progress: dict[str, int], config: TrainConfig) -> None:
    """Write everything needed to resume exactly, atomically."""
    atomic_torch_save({
        'module': module.state_dict(), 'optimizer': optimizer.state_dict(),
        'scaler': scaler.state_dict() if scaler is not None else {},
        'progress': dict(progress), 'torch_rng': torch.get_rng_state(),
        'config': config_to_dict(config)}, path)


def load_train_state(path: Path, module: MultiTaskTrainModule,
                     optimizer: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler | None) -> dict[str, int]:
    """Restore module, optimizer, scaler and torch RNG from ``path``; return the progress."""
    saved = safe_torch_load(path)
    module.load_state_dict(saved['module'])
    optimizer.load_state_dict(saved['optimizer'])
    if scaler is not None and saved.get('scaler'):
        scaler.load_state_dict(saved['scaler'])
    progress = {k: int(v) for k, v in saved['progress'].items()}
    torch.set_rng_state(saved['torch_rng'])
    LOGGER.info('resuming %s at step %d (epoch %d, batch %d)', path, progress['step'],
                progress['epoch'], progress['batch_in_epoch'])
    return progress


def truncate_logs(out: Path, step: int) -> None:
    """After a resume, drop log rows written after the state we resume from."""
    for name in ('log.csv', 'eval.csv'):
        path = out / name
        if not path.exists():
            continue
        with path.open(newline='') as handle:
            rows = list(csv.DictReader(handle))
        kept = [r for r in rows if int(float(r['step'])) <= step]
        if not kept:
            path.unlink()
            continue
        with path.open('w', newline='') as handle:
            writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
            writer.writeheader()
            writer.writerows(kept)


def save_deployable(path: Path, module: MultiTaskTrainModule, config: TrainConfig,
                    class_set: ClassSet, metrics: dict[str, Any], steps: int,
                    wall_s: float) -> None:
    """Write the checkpoint the node and the tools load: model, classes, preprocessing."""
    model_config = module.model.config
    checkpoint = Checkpoint(
        model_config=model_config, class_set=class_set,
        preprocessing=Preprocessing(input_width=config.width, input_height=config.height,
                                    mean=model_config.normalisation[0],
                                    std=model_config.normalisation[1],
                                    f_canon=config.f_canon),
        state_dict=module.model.state_dict(),
        log_variances={t: float(v.detach()) for t, v in module.weighting.log_variance.items()},
        metrics={'validation': metrics},
        extra={'train_config': config_to_dict(config), 'steps': steps,
               'wall_s_last_session': wall_s,
               'command': 'mtl_train ' + shlex.join(sys.argv[1:])})
    save_checkpoint(checkpoint, path)
