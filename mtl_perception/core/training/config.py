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
Every knob of a training run, as one dataclass, and the network it describes.

Configuration flows dataclass defaults -> YAML (``--config``) -> command line
(:func:`mtl_perception.core.config_io.resolve_config`); :meth:`TrainConfig.validate` rejects
what would fail later, with a message that names the option.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mtl_perception.core.classes import get_class_set
from mtl_perception.core.config import ModelConfig, preset_config, TASKS
from mtl_perception.core.config_io import ConfigError
from mtl_perception.core.losses import WEIGHTING_MODES


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
        """Raise :class:`ConfigError` naming the first option that cannot work."""
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


def build_model_config(config: TrainConfig) -> ModelConfig:
    """Return the network of a run: the preset with the class set's classes and tasks."""
    class_set = get_class_set(config.class_set)
    return preset_config(config.preset, class_set.num_classes, tuple(config.tasks))
