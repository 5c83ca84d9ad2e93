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
The data side of a run: the two data sets and deterministic, resumable batches of indices.

Kept apart from the loop so that evaluation (``mtl_evaluate``, the study) loads data the way
training does.
"""

from __future__ import annotations

from pathlib import Path

from mtl_perception.core.data import build_dataset
from mtl_perception.core.training.config import build_model_config, TrainConfig
import torch
from torch.utils.data import DataLoader, Dataset


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
    """Return the number of full optimizer steps in one epoch over ``world`` processes."""
    return size // (batch_size * world)


def build_data(config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    """
    Training set with joint augmentation, validation set resized to the training size.

    Images are normalised with the statistics the encoder expects (``ModelConfig
    .normalisation``); the checkpoint records the same values, so the node does what training
    did.
    """
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
    """Return a loader over the given batches of indices (no sampler of its own)."""
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers,
                      pin_memory=torch.cuda.is_available(), persistent_workers=False)
