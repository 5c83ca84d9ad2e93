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

"""Tiny generated batches and checkpoints, built in memory: imported by tests and conftest."""

from __future__ import annotations

from mtl_perception.core.checkpoint import Checkpoint, Preprocessing
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.config import preset_config
from mtl_perception.core.model import MultiTaskNet
import numpy as np
import torch


def make_toy_batch(batch_size: int = 2, height: int = 64, width: int = 64,
                   seed: int = 0) -> dict[str, torch.Tensor]:
    """Coloured rectangles on a ground/sky background with exact targets for all three tasks."""
    rng = np.random.default_rng(seed)
    images = np.zeros((batch_size, 3, height, width), np.float32)
    semantic = np.zeros((batch_size, height, width), np.int64)
    offsets = np.zeros((batch_size, 2, height, width), np.float32)
    instance_mask = np.zeros((batch_size, height, width), bool)
    inverse_depth = np.zeros((batch_size, 1, height, width), np.float32)
    instance_ids = np.zeros((batch_size, height, width), np.int64)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for b in range(batch_size):
        horizon = height // 3
        semantic[b, horizon:] = 1  # ground
        images[b, :, horizon:] = np.array([0.5, 0.25, 0.5])[:, None, None]
        images[b, :, :horizon] = np.array([0.3, 0.5, 0.7])[:, None, None]
        inverse_depth[b, 0, horizon:] = (ys[horizon:] - horizon + 1) / height
        for index in range(3):
            cls = int(rng.integers(3, 8))
            h, w = rng.integers(height // 6, height // 3, size=2)
            top, left = rng.integers(0, height - h), rng.integers(0, width - w)
            region = (slice(top, top + h), slice(left, left + w))
            semantic[b][region] = cls
            images[b, :, region[0], region[1]] = (
                np.array(SYNTH_CLASSES.palette[cls], np.float32)[:, None, None] / 255.0)
            instance_ids[b][region] = cls * 1000 + index
            inverse_depth[b, 0][region] = 0.2 + 0.1 * index
        for instance in np.unique(instance_ids[b][instance_ids[b] > 0]):
            mask = instance_ids[b] == instance
            offsets[b, 0][mask] = xs[mask].mean() - xs[mask]
            offsets[b, 1][mask] = ys[mask].mean() - ys[mask]
            instance_mask[b][mask] = True
    return {
        'image': torch.from_numpy((images - 0.45) / 0.25),
        'semantic': torch.from_numpy(semantic),
        'instance_offsets': torch.from_numpy(offsets),
        'instance_mask': torch.from_numpy(instance_mask),
        'inverse_depth': torch.from_numpy(inverse_depth),
        'depth_valid': torch.ones(batch_size, height, width, dtype=torch.bool),
        'instance_ids': torch.from_numpy(instance_ids),
    }


def tiny_checkpoint_object() -> Checkpoint:
    """Return a tiny random-weight model with known sigmas, for plumbing tests."""
    torch.manual_seed(0)
    config = preset_config('tiny', SYNTH_CLASSES.num_classes)
    model = MultiTaskNet(config)
    return Checkpoint(model_config=config, class_set=SYNTH_CLASSES,
                      preprocessing=Preprocessing(input_width=64, input_height=48),
                      state_dict=model.state_dict(),
                      log_variances={'semantic': 0.1, 'instance': 1.0, 'depth': -2.0})
