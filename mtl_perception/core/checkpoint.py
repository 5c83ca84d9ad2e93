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
Checkpoints: everything needed to rebuild and run a model, written atomically, loaded safely.

A checkpoint is a ``torch.save`` file of plain containers and tensors, loaded with
``torch.load(weights_only=True)`` so that opening a file never executes code from it. It holds
the model config, the class set (names, palette, thing ids), the preprocessing (mean, std,
input size, canonical focal length), the weights, the learned task sigmas and any metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math
import os
from pathlib import Path
import pickle
import tempfile
from typing import Any
import zipfile

from mtl_perception.core.classes import ClassSet
from mtl_perception.core.config import IMAGENET_MEAN, IMAGENET_STD, ModelConfig
from mtl_perception.core.model import MultiTaskNet
import torch

FORMAT = 'mtl_perception.checkpoint/1'


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, corrupt or not one of ours."""


@dataclass
class Preprocessing:
    """How images must be prepared for the network; stored so a checkpoint is self-contained."""

    input_width: int = 320
    input_height: int = 240
    mean: tuple[float, float, float] = IMAGENET_MEAN  # what the first checkpoints used
    std: tuple[float, float, float] = IMAGENET_STD
    f_canon: float = 1.0  # canonical normalised focal length fx/width, see docs/conventions.md

    def to_dict(self) -> dict[str, Any]:
        return {'input_width': self.input_width, 'input_height': self.input_height,
                'mean': list(self.mean), 'std': list(self.std), 'f_canon': self.f_canon}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(input_width=int(data['input_width']), input_height=int(data['input_height']),
                   mean=tuple(float(v) for v in data['mean']),
                   std=tuple(float(v) for v in data['std']), f_canon=float(data['f_canon']))


@dataclass
class Checkpoint:
    """A model with its metadata, as stored on disk."""

    model_config: ModelConfig
    class_set: ClassSet
    preprocessing: Preprocessing
    state_dict: dict[str, torch.Tensor]
    log_variances: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sigmas(self) -> dict[str, float]:
        return {task: math.exp(0.5 * s) for task, s in self.log_variances.items()}

    def build_model(self) -> MultiTaskNet:
        """Rebuild the network; weights that do not fit the config are a CheckpointError."""
        # The weights come from the checkpoint: never read the ImageNet file again here.
        model = MultiTaskNet(replace(self.model_config, pretrained=False))
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as error:
            raise CheckpointError(
                f'checkpoint {self.extra.get("path", "")}: weights do not fit the stored model '
                f'config: {str(error).strip().splitlines()[0]}') from None
        return model

    def to_dict(self) -> dict[str, Any]:
        return {
            'format': FORMAT,
            'model_config': self.model_config.to_dict(),
            'class_set': self.class_set.to_dict(),
            'preprocessing': self.preprocessing.to_dict(),
            'state_dict': self.state_dict,
            'log_variances': dict(self.log_variances),
            'metrics': self.metrics,
            'extra': self.extra,
        }


def atomic_torch_save(payload: Any, path: str | os.PathLike) -> Path:
    """
    Write with ``torch.save`` to a temporary file in the same folder, then rename.

    A crash at any moment leaves either the old file or the new one, never a torn file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp creates 0600; readable like any file
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
    return path


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    state = {k: v.detach().cpu() for k, v in checkpoint.state_dict.items()}
    payload = checkpoint.to_dict()
    payload['state_dict'] = state
    return atomic_torch_save(payload, path)


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` with errors that name the file and what to do."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f'checkpoint {path} does not exist; pass the path of a .pt file '
                              'written by mtl_train (or leave the default model)')
    if not path.is_file():
        raise CheckpointError(f'checkpoint {path} is not a file')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, TypeError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ''
        raise CheckpointError(
            f'checkpoint {path} cannot be read safely ({type(error).__name__}: {first_line}); '
            'it is corrupt, truncated or not a mtl_perception checkpoint') from None


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load and validate a checkpoint; every failure is a :class:`CheckpointError`."""
    payload = safe_torch_load(path)
    if not isinstance(payload, dict) or payload.get('format') != FORMAT:
        found = payload.get('format') if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f'{path} is not a mtl_perception checkpoint (format {found!r}, expected {FORMAT!r})')
    try:
        checkpoint = Checkpoint(
            model_config=ModelConfig.from_dict(payload['model_config']),
            class_set=ClassSet.from_dict(payload['class_set']),
            preprocessing=Preprocessing.from_dict(payload['preprocessing']),
            state_dict=payload['state_dict'],
            log_variances={k: float(v) for k, v in payload.get('log_variances', {}).items()},
            metrics=payload.get('metrics', {}),
            extra=payload.get('extra', {}),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(
            f'checkpoint {path} is incomplete or inconsistent: {error}') from None
    if checkpoint.model_config.num_classes != checkpoint.class_set.num_classes:
        raise CheckpointError(
            f'checkpoint {path}: the model predicts {checkpoint.model_config.num_classes} '
            f'classes but its class set names {checkpoint.class_set.num_classes}')
    checkpoint.extra['path'] = str(path)  # where it was read, not where it was saved
    return checkpoint
