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
``mtl_train``: train the multi-task network on Cityscapes-layout data.

Configuration flows dataclass defaults -> YAML (``--config``) -> command line; the resolved
config is written to ``<out>/config.yaml``. The run folder holds ``train_state.pt`` (everything
needed to resume exactly, written atomically every ``checkpoint_every_steps``), ``model.pt``
(the deployable checkpoint), ``log.csv`` / ``eval.csv`` (every task loss, weighted term,
learned sigma and metric) and ``curves.png``. Start it again with the same ``--out`` and it
resumes from the last state, losing at most one checkpoint interval.

Multi-GPU: ``torchrun --nproc-per-node N -m mtl_perception.tools.train ...`` runs
DistributedDataParallel (NCCL on CUDA, Gloo on the CPU).
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, field
import logging
import math
import os
from pathlib import Path
import random
import shlex
import sys
import time
from typing import Any

from mtl_perception.core.checkpoint import (
    atomic_torch_save,
    Checkpoint,
    Preprocessing,
    safe_torch_load,
    save_checkpoint,
)
from mtl_perception.core.classes import get_class_set
from mtl_perception.core.config import ModelConfig, preset_config, TASKS
from mtl_perception.core.config_io import (
    add_dataclass_arguments,
    config_to_dict,
    ConfigError,
    resolve_config,
    write_yaml,
)
from mtl_perception.core.losses import LossWeighting, WEIGHTING_MODES
from mtl_perception.core.metrics import MultiTaskMetrics
from mtl_perception.core.training import (
    build_optimizer,
    check_finite,
    move_batch,
    MultiTaskTrainModule,
)
import numpy as np
import torch
from torch import nn
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

LOGGER = logging.getLogger('mtl_train')


@dataclass
class TrainConfig:
    """Every knob of a training run (see config/train_default.yaml for commented values)."""

    data_root: str = 'data/synth'
    train_split: str = 'train'
    val_split: str = 'val'
    class_set: str = 'synth'
    tasks: tuple[str, ...] = TASKS
    weighting: str = 'uncertainty'
    fixed_weights: dict[str, float] = field(default_factory=dict)
    init_log_variance: float = 0.0
    classification_form: bool = True
    preset: str = 'small'
    width: int = 320
    height: int = 240
    epochs: int = 20
    max_steps: int = 0
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    log_variance_lr: float = 1e-2
    log_variance_weight_decay: float = 0.0
    log_variance_schedule: str = 'constant'
    encoder_lr_scale: float = 1.0
    freeze_encoder_bn: bool = False
    frozen_encoder_blocks: int = 0
    camera_effects: float = 0.0
    scale_min: float = 0.8
    scale_max: float = 1.25
    flip: bool = True
    depth_target_scale: float = 1.0
    f_canon: float = 1.0
    workers: int = 2
    seed: int = 0
    device: str = 'auto'
    amp: str = 'auto'
    out: str = 'runs/default'
    checkpoint_every_steps: int = 200
    eval_every_epochs: int = 1
    log_every_steps: int = 10
    max_val_frames: int = 0
    tensorboard: bool = False
    threads: int = 0

    def validate(self) -> None:
        if self.weighting not in WEIGHTING_MODES:
            raise ConfigError(f'weighting must be one of {WEIGHTING_MODES}, '
                              f'got {self.weighting!r}')
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ConfigError(f'tasks must be a non-empty subset of {TASKS}, got {self.tasks}')
        if self.weighting == 'fixed' and set(self.fixed_weights) != set(self.tasks):
            raise ConfigError(f'weighting fixed needs fixed_weights for exactly {self.tasks}, '
                              f'got {self.fixed_weights}')
        if self.width % 8 or self.height % 8:
            raise ConfigError(f'width and height must be multiples of 8, got '
                              f'{self.width}x{self.height}')
        if self.log_variance_schedule not in ('constant', 'cosine'):
            raise ConfigError('log_variance_schedule must be constant or cosine, got '
                              f'{self.log_variance_schedule!r}')
        if not 0.0 <= self.camera_effects <= 1.0:
            raise ConfigError(f'camera_effects must be in [0, 1], got {self.camera_effects}')
        if self.encoder_lr_scale <= 0.0:
            raise ConfigError(f'encoder_lr_scale must be > 0, got {self.encoder_lr_scale}')
        if self.amp not in ('auto', 'off', 'bf16', 'fp16'):
            raise ConfigError(f'amp must be auto, off, bf16 or fp16, got {self.amp!r}')
        for name in ('epochs', 'batch_size', 'checkpoint_every_steps', 'log_every_steps'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)}')


# --- distributed helpers --------------------------------------------------------------------

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
    return rank == 0


# --- data -----------------------------------------------------------------------------------

class EpochBatches:
    """
    Deterministic batches of indices for one epoch, sharded by rank, resumable mid-epoch.

    The order depends only on (seed, epoch), so a resumed run sees exactly the batches the
    interrupted run would have seen.
    """

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, rank: int = 0,
                 world: int = 1, start_batch: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed * 100003 + epoch)
        order = torch.randperm(size, generator=generator).tolist()
        per_step = batch_size * world
        steps = size // per_step
        self.batches = [order[s * per_step + rank * batch_size:
                              s * per_step + (rank + 1) * batch_size] for s in range(steps)]
        self.batches = self.batches[start_batch:]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def steps_per_epoch(size: int, batch_size: int, world: int) -> int:
    return size // (batch_size * world)


def build_model_config(config: TrainConfig) -> ModelConfig:
    """Return the network of a run: the preset with the class set's classes and tasks."""
    class_set = get_class_set(config.class_set)
    return preset_config(config.preset, class_set.num_classes, tuple(config.tasks))


def build_data(config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    """
    Training set with joint augmentation, validation set resized to the training size.

    Images are normalised with the statistics the encoder expects (``ModelConfig
    .normalisation``); the checkpoint records the same values, so the node does what training
    did.
    """
    from mtl_perception.core.data import build_dataset

    mean, std = build_model_config(config).normalisation
    train = build_dataset(config.data_root, config.train_split, config.class_set,
                          size=(config.width, config.height), augment=True,
                          scale_range=(config.scale_min, config.scale_max), flip=config.flip,
                          seed=config.seed, f_canon=config.f_canon,
                          depth_target_scale=config.depth_target_scale, mean=mean, std=std,
                          camera_effects=config.camera_effects)
    val_dir = Path(config.data_root) / 'leftImg8bit' / config.val_split
    val = None
    if config.val_split and val_dir.is_dir():
        val = build_dataset(config.data_root, config.val_split, config.class_set,
                            size=(config.width, config.height), augment=False,
                            f_canon=config.f_canon,
                            depth_target_scale=config.depth_target_scale, mean=mean, std=std)
    return train, val


def make_loader(dataset: Dataset, batches: EpochBatches | list[list[int]],
                workers: int) -> DataLoader:
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                      pin_memory=torch.cuda.is_available(), persistent_workers=False)


# --- training -------------------------------------------------------------------------------

def build_run(config: TrainConfig, device: torch.device, world: int) -> tuple[
        MultiTaskTrainModule, nn.Module, torch.optim.Optimizer]:
    model_config = build_model_config(config)
    weighting = LossWeighting(config.tasks, mode=config.weighting,
                              weights=config.fixed_weights or None,
                              init_log_variance=config.init_log_variance,
                              classification_form=config.classification_form)
    module = MultiTaskTrainModule(model_config, weighting).to(device)
    module.model.freeze_encoder_blocks(config.frozen_encoder_blocks)  # before the optimizer
    if device.type == 'cuda':
        module = module.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(module, config.lr, config.weight_decay, config.log_variance_lr,
                                config.log_variance_weight_decay, config.encoder_lr_scale)
    wrapped: nn.Module = module
    if world > 1:
        if device.type == 'cuda':
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        wrapped = DistributedDataParallel(
            module, device_ids=[device.index] if device.type == 'cuda' else None)
    return module, wrapped, optimizer


def learning_rate_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def autocast_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if device.type != 'cuda' or config.amp == 'off':
        return None
    if config.amp == 'fp16':
        return torch.float16
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class RunLog:
    """CSV (and optionally TensorBoard) logs of losses, sigmas and metrics."""

    def __init__(self, out: Path, tensorboard: bool) -> None:
        self.out = out
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out / 'tensorboard'))
            except ImportError:
                LOGGER.warning('tensorboard is not installed; logging to CSV only')

    def append(self, name: str, row: dict[str, Any]) -> None:
        path = self.out / name
        new = not path.exists()
        with path.open('a', newline='') as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self.writer is not None:
            step = int(row.get('step', 0))
            for key, value in row.items():
                if key not in ('step', 'epoch') and isinstance(value, (int, float)):
                    self.writer.add_scalar(f'{name.split(".")[0]}/{key}', value, step)


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


def train_one_epoch(config: TrainConfig, module: MultiTaskTrainModule, wrapped: nn.Module,
                    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None,
                    loader: DataLoader, state: dict[str, int], total_steps: int,
                    device: torch.device, rank: int, log: RunLog | None,
                    save_state) -> None:
    wrapped.train()
    if config.freeze_encoder_bn:
        module.model.freeze_encoder_batch_norm()
    module.model.freeze_encoder_blocks(config.frozen_encoder_blocks)
    amp_dtype = autocast_dtype(config, device)
    progress = None
    if is_main(rank):
        from tqdm import tqdm

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


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}


def plot_curves(out: Path) -> Path | None:
    """Loss curves and learned sigmas over training, as one PNG."""
    path = out / 'log.csv'
    if not path.exists():
        return None
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    with path.open(newline='') as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    steps = [float(r['step']) for r in rows]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for key in rows[0]:
        values = [float(r[key]) for r in rows]
        if key.startswith('loss_'):
            axes[0].plot(steps, values, label=key[5:])
        elif key == 'total':
            axes[1].plot(steps, values, label='total (may go negative)')
        elif key.startswith('sigma_'):
            axes[2].plot(steps, values, label=key[6:])
    axes[0].set(title='task losses', xlabel='step', yscale='log')
    axes[1].set(title='weighted total', xlabel='step')
    axes[2].set(title='learned sigma', xlabel='step', yscale='log')
    for axis in axes:
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
        axis.grid(alpha=0.3)
    figure.tight_layout()
    target = out / 'curves.png'
    figure.savefig(target, dpi=90)
    plt.close(figure)
    return target


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


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
    state_path = out / 'train_state.pt'
    log = None
    if is_main(rank):
        out.mkdir(parents=True, exist_ok=True)
        write_yaml(config, out / 'config.yaml')
    if state_path.exists():
        saved = safe_torch_load(state_path)
        module.load_state_dict(saved['module'])
        optimizer.load_state_dict(saved['optimizer'])
        if scaler is not None and saved.get('scaler'):
            scaler.load_state_dict(saved['scaler'])
        state = {k: int(v) for k, v in saved['progress'].items()}
        torch.set_rng_state(saved['torch_rng'])
        LOGGER.info('resuming %s at step %d (epoch %d, batch %d)', state_path, state['step'],
                    state['epoch'], state['batch_in_epoch'])
        if is_main(rank):
            truncate_logs(out, state['step'])
    if is_main(rank):
        log = RunLog(out, config.tensorboard)

    def save_state() -> None:
        if is_main(rank):
            atomic_torch_save({
                'module': module.state_dict(), 'optimizer': optimizer.state_dict(),
                'scaler': scaler.state_dict() if scaler is not None else {},
                'progress': dict(state), 'torch_rng': torch.get_rng_state(),
                'config': config_to_dict(config)}, state_path)

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
    model_path = out / 'model.pt'
    if is_main(rank):
        weighting = module.weighting
        checkpoint = Checkpoint(
            model_config=module.model.config, class_set=class_set,
            preprocessing=Preprocessing(input_width=config.width, input_height=config.height,
                                        mean=module.model.config.normalisation[0],
                                        std=module.model.config.normalisation[1],
                                        f_canon=config.f_canon),
            state_dict=module.model.state_dict(),
            log_variances={t: float(v.detach()) for t, v in weighting.log_variance.items()},
            metrics={'validation': metrics},
            extra={'train_config': config_to_dict(config), 'steps': state['step'],
                   'wall_s_last_session': wall_s,
                   'command': 'mtl_train ' + shlex.join(sys.argv[1:])})
        save_checkpoint(checkpoint, model_path)
        plot_curves(out)
        LOGGER.info('wrote %s after %d steps (%.0f s this session)', model_path,
                    state['step'], wall_s)
    if world > 1:
        dist.destroy_process_group()
    return model_path


def parse_config(argv: list[str] | None = None) -> TrainConfig:
    parser = argparse.ArgumentParser(
        prog='mtl_train', description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', help='YAML file with any of the options below')
    add_dataclass_arguments(parser, TrainConfig)
    args = parser.parse_args(argv)
    try:
        config = resolve_config(TrainConfig(), args, args.config)
        config.validate()
    except ConfigError as error:
        parser.error(str(error))
    return config


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    config = parse_config(argv)
    try:
        run(config)
    except (ConfigError, FileNotFoundError, ValueError) as error:
        LOGGER.error('%s', error)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
