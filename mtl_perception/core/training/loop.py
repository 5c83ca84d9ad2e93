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
The training loop as stage functions: one epoch, one evaluation, and :func:`run` over them.

``run`` trains (or resumes) one run in its ``out`` folder: the resolved config goes to
``config.yaml``, the state to ``train_state.pt`` every ``checkpoint_every_steps``, the logs to
``log.csv`` / ``eval.csv`` and the deployable checkpoint to ``model.pt``. Learning rate:
linear warm-up then cosine decay; the log-variances keep theirs constant unless
``log_variance_schedule`` is ``cosine``.
"""

from __future__ import annotations

from collections.abc import Callable
import logging
import math
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.classes import get_class_set
from mtl_perception.core.config_io import ConfigError, write_yaml
from mtl_perception.core.metrics import MultiTaskMetrics
from mtl_perception.core.training.config import TrainConfig
from mtl_perception.core.training.data import (
    build_data,
    EpochBatches,
    make_loader,
    steps_per_epoch,
)
from mtl_perception.core.training.module import (
    build_run,
    check_finite,
    move_batch,
    MultiTaskTrainModule,
)
from mtl_perception.core.training.run_log import flat_metrics, plot_curves, RunLog
from mtl_perception.core.training.state import (
    is_main,
    load_train_state,
    MODEL_FILE,
    save_deployable,
    save_train_state,
    seed_everything,
    setup_distributed,
    STATE_FILE,
    truncate_logs,
)
import torch
from torch import nn
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

LOGGER = logging.getLogger('mtl_train')


def learning_rate_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    """Return the mixed-precision type of the run (None: full precision)."""
    if device.type != 'cuda' or config.amp == 'off':
        return None
    if config.amp == 'fp16':
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def train_one_epoch(config: TrainConfig, module: MultiTaskTrainModule, wrapped: nn.Module,
                    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
                    loader: DataLoader, state: dict[str, int], total_steps: int,
                    device: torch.device, rank: int, log: RunLog | None,
                    save_state: Callable[[], None]) -> None:
    """Train over ``loader``, updating ``state``; log and save the state on their steps."""
    wrapped.train()
    if config.freeze_encoder_bn:
        module.model.freeze_encoder_batch_norm()
    module.model.freeze_encoder_blocks(config.frozen_encoder_blocks)
    amp_dtype = autocast_dtype(config, device)
    progress = None
    if is_main(rank):
        progress = tqdm(total=len(loader.batch_sampler), desc=f'epoch {state["epoch"]}',
                        leave=False, disable=None)
    for batch in loader:
        batch = move_batch(batch, device)
        factor = learning_rate_factor(state['step'], total_steps, config.warmup_steps)
        for group in optimizer.param_groups:
            constant = (group.get('name') == 'log_variances'
                        and config.log_variance_schedule == 'constant')
            group['lr'] = group['initial_lr'] * (1.0 if constant else factor)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            total, terms, losses, _ = wrapped(batch)
        check_finite(total, losses, state['step'])
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            total.backward()
            optimizer.step()
        state['step'] += 1
        state['batch_in_epoch'] += 1
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f'{total.item():.3f}')
        if log is not None and state['step'] % config.log_every_steps == 0:
            row: dict[str, Any] = {'step': state['step'], 'epoch': state['epoch'],
                                   'lr': optimizer.param_groups[0]['lr'],
                                   'total': float(total.detach())}
            row.update({f'loss_{t}': float(v.detach()) for t, v in losses.items()})
            row.update({f'term_{t}': float(v.detach()) for t, v in terms.items()})
            row.update({f'sigma_{t}': v for t, v in module.weighting.sigmas().items()})
            row.update({f'weight_{t}': v for t, v in
                        module.weighting.effective_weights().items()})
            log.append('log.csv', row)
        if state['step'] % config.checkpoint_every_steps == 0:
            save_state()
        if config.max_steps and state['step'] >= config.max_steps:
            break
    if progress is not None:
        progress.close()


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, class_names: tuple[str, ...],
             device: torch.device, batch_size: int = 8, max_frames: int = 0,
             workers: int = 0) -> dict[str, Any]:
    """Metrics of the paper's table on a data set (no augmentation)."""
    model.eval()
    count = len(dataset) if not max_frames else min(max_frames, len(dataset))
    indices = list(range(count))
    batches = [indices[i:i + batch_size] for i in range(0, count, batch_size)]
    metrics = MultiTaskMetrics(len(class_names), class_names=class_names)
    for batch in make_loader(dataset, batches, workers):
        batch = move_batch(batch, device)
        metrics.update(model(batch['image']), batch)
    return metrics.compute()


def run(config: TrainConfig) -> Path:
    """Train (or resume) and return the path of the deployable checkpoint."""
    config.validate()
    device, rank, world = setup_distributed(config)
    if config.threads:
        torch.set_num_threads(config.threads)
    out = Path(config.out)
    seed_everything(config.seed + rank)
    train_set, val_set = build_data(config)
    module, wrapped, optimizer = build_run(config, device, world)
    for group in optimizer.param_groups:
        group.setdefault('initial_lr', group['lr'])
    amp_dtype = autocast_dtype(config, device)
    scaler = torch.amp.GradScaler('cuda') if amp_dtype == torch.float16 else None
    class_set = get_class_set(config.class_set)
    per_epoch = steps_per_epoch(len(train_set), config.batch_size, world)
    if per_epoch == 0:
        raise ConfigError(f'the training split has {len(train_set)} frames, fewer than one '
                          f'batch of {config.batch_size} x {world} processes')
    total_steps = config.max_steps or per_epoch * config.epochs
    state = {'step': 0, 'epoch': 0, 'batch_in_epoch': 0}
    state_path = out / STATE_FILE
    log = None
    if is_main(rank):
        out.mkdir(parents=True, exist_ok=True)
        write_yaml(config, out / 'config.yaml')
    if state_path.exists():
        state = load_train_state(state_path, module, optimizer, scaler)
        if is_main(rank):
            truncate_logs(out, state['step'])
    if is_main(rank):
        log = RunLog(out, config.tensorboard)

    def save_state() -> None:
        if is_main(rank):
            save_train_state(state_path, module, optimizer, scaler, state, config)

    start = time.perf_counter()
    metrics: dict[str, Any] = {}
    while state['epoch'] < config.epochs and not (config.max_steps
                                                  and state['step'] >= config.max_steps):
        train_set.set_epoch(state['epoch'])
        batches = EpochBatches(len(train_set), config.batch_size, config.seed, state['epoch'],
                               rank, world, start_batch=state['batch_in_epoch'])
        train_one_epoch(config, module, wrapped, optimizer, scaler,
                        make_loader(train_set, batches, config.workers), state, total_steps,
                        device, rank, log, save_state)
        if state['batch_in_epoch'] >= per_epoch:
            state['epoch'] += 1
            state['batch_in_epoch'] = 0
        last = state['epoch'] >= config.epochs or bool(
            config.max_steps and state['step'] >= config.max_steps)
        if val_set is not None and is_main(rank) and (
                last or state['epoch'] % config.eval_every_epochs == 0):
            metrics = evaluate(module.model, val_set, class_set.names, device,
                               config.batch_size, config.max_val_frames, config.workers)
            row = {'step': state['step'], 'epoch': state['epoch'], **flat_metrics(metrics)}
            log.append('eval.csv', row)
            LOGGER.info('epoch %d step %d: %s', state['epoch'], state['step'],
                        ', '.join(f'{k} {v:.4f}' for k, v in flat_metrics(metrics).items()))
        save_state()
    wall_s = time.perf_counter() - start
    model_path = out / MODEL_FILE
    if is_main(rank):
        save_deployable(model_path, module, config, class_set, metrics, state['step'], wall_s)
        plot_curves(out)
        LOGGER.info('wrote %s after %d steps (%.0f s this session)', model_path,
                    state['step'], wall_s)
    if world > 1:
        dist.destroy_process_group()
    return model_path
