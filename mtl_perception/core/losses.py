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
Task losses and their weighting, as in Kendall, Gal and Cipolla (CVPR 2018).

Each task owns its loss (:class:`TaskLosses`); one module (:class:`LossWeighting`) turns the dict
of task losses into the total. With learned homoscedastic uncertainty the network learns
``s = log sigma^2`` per task and the total is::

    classification:  exp(-s) * L + 0.5 * s        (= L / sigma^2 + log sigma)
    regression:      0.5 * exp(-s) * L + 0.5 * s  (= L / (2 sigma^2) + log sigma)

The total may go negative once a task's sigma falls below 1: that is expected, not a bug.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math

from mtl_perception.core import IGNORE_INDEX
from mtl_perception.core.config import CLASSIFICATION_TASKS, TASK_OUTPUTS, TASKS
import torch
from torch import nn
import torch.nn.functional as F

WEIGHTING_MODES = ('uncertainty', 'fixed', 'equal')


def _check_shape(task: str, name: str, tensor: torch.Tensor, expected: Sequence[int]) -> None:
    if tuple(tensor.shape) != tuple(expected):
        raise ValueError(
            f'{task} loss: target {name!r} has shape {tuple(tensor.shape)}, '
            f'expected {tuple(expected)} to match the prediction')


def semantic_loss(logits: torch.Tensor, labels: torch.Tensor,
                  ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Cross-entropy over pixels whose label is not ``ignore_index``; 0 if there are none."""
    batch, _, height, width = logits.shape
    _check_shape('semantic', 'semantic', labels, (batch, height, width))
    if not (labels != ignore_index).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), labels.long(), ignore_index=ignore_index)


def instance_loss(offsets: torch.Tensor, target_offsets: torch.Tensor,
                  instance_mask: torch.Tensor) -> torch.Tensor:
    """L1 norm of the offset error (x and y summed), averaged over pixels of instances."""
    _check_shape('instance', 'instance_offsets', target_offsets, offsets.shape)
    _check_shape('instance', 'instance_mask', instance_mask,
                 (offsets.shape[0], offsets.shape[2], offsets.shape[3]))
    mask = instance_mask.unsqueeze(1).to(offsets.dtype)  # (B, 1, H, W)
    count = mask.sum()
    if count == 0:
        return offsets.sum() * 0.0
    error = (offsets.float() - target_offsets.float()).abs() * mask
    return error.sum() / count


def depth_loss(inverse_depth: torch.Tensor, target: torch.Tensor,
               valid: torch.Tensor) -> torch.Tensor:
    """L1 error of inverse depth, averaged over pixels with valid ground truth."""
    _check_shape('depth', 'inverse_depth', target, inverse_depth.shape)
    _check_shape('depth', 'depth_valid', valid,
                 (inverse_depth.shape[0], inverse_depth.shape[2], inverse_depth.shape[3]))
    mask = valid.unsqueeze(1).to(inverse_depth.dtype)
    count = mask.sum()
    if count == 0:
        return inverse_depth.sum() * 0.0
    # where() keeps NaN targets on invalid pixels from poisoning the sum.
    error = torch.where(mask > 0, (inverse_depth.float() - target.float()).abs(),
                        torch.zeros_like(inverse_depth, dtype=torch.float32))
    return error.sum() / count


class TaskLosses(nn.Module):
    """Computes the loss of every task present in the outputs; returns ``{task: loss}``."""

    def __init__(self, tasks: Sequence[str], ignore_index: int = IGNORE_INDEX) -> None:
        super().__init__()
        unknown = [t for t in tasks if t not in TASKS]
        if unknown:
            raise ValueError(f'unknown tasks {unknown}; known: {TASKS}')
        self.tasks = tuple(tasks)
        self.ignore_index = ignore_index

    def forward(self, outputs: Mapping[str, torch.Tensor],
                batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        losses = {}
        for task in self.tasks:
            prediction = outputs[TASK_OUTPUTS[task]]
            try:
                if task == 'semantic':
                    losses[task] = semantic_loss(prediction, batch['semantic'], self.ignore_index)
                elif task == 'instance':
                    losses[task] = instance_loss(prediction, batch['instance_offsets'],
                                                 batch['instance_mask'])
                else:
                    losses[task] = depth_loss(prediction, batch['inverse_depth'],
                                              batch['depth_valid'])
            except KeyError as missing:
                raise ValueError(f'{task} loss: the batch has no target {missing}') from None
        return losses


class LossWeighting(nn.Module):
    """
    Combines task losses into one scalar: learned uncertainty, fixed weights, or equal.

    ``uncertainty`` learns ``log_variance[task] = log sigma^2`` (initial value
    ``init_log_variance``). ``classification_form=False`` treats every task as regression, a
    common simplification that this project keeps as an option for comparison. ``fixed`` uses
    the given weights (e.g. the paper's 0.89 / 0.01 / 0.1); ``equal`` is the unweighted mean.
    """

    def __init__(self, tasks: Sequence[str], mode: str = 'uncertainty',
                 weights: Mapping[str, float] | None = None, init_log_variance: float = 0.0,
                 classification_form: bool = True) -> None:
        super().__init__()
        if mode not in WEIGHTING_MODES:
            raise ValueError(f'unknown weighting mode {mode!r}; choose one of {WEIGHTING_MODES}')
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, got {list(tasks)}')
        self.tasks = tuple(tasks)
        self.mode = mode
        self.classification_form = classification_form
        if mode == 'fixed':
            if weights is None or set(weights) != set(self.tasks):
                raise ValueError(
                    f'fixed weighting needs one weight per task {list(self.tasks)}, '
                    f'got {dict(weights or {})}')
            bad = {t: w for t, w in weights.items() if not (math.isfinite(w) and w >= 0)}
            if bad:
                raise ValueError(f'fixed weights must be finite and >= 0, got {bad}')
        self.fixed_weights = {t: float(weights[t]) for t in self.tasks} if weights else {}
        self.log_variance = nn.ParameterDict({
            task: nn.Parameter(torch.tensor(float(init_log_variance)))
            for task in self.tasks}) if mode == 'uncertainty' else nn.ParameterDict()

    def is_classification(self, task: str) -> bool:
        return self.classification_form and task in CLASSIFICATION_TASKS

    def forward(self, losses: Mapping[str, torch.Tensor]) -> tuple[
            torch.Tensor, dict[str, torch.Tensor]]:
        """Return the total loss and each task's weighted term (for logging)."""
        missing = [t for t in self.tasks if t not in losses]
        if missing:
            raise ValueError(f'missing task losses {missing}; got {sorted(losses)}')
        terms = {}
        for task in self.tasks:
            loss = losses[task]
            if self.mode == 'uncertainty':
                log_var = self.log_variance[task]
                factor = 1.0 if self.is_classification(task) else 0.5
                terms[task] = factor * torch.exp(-log_var) * loss + 0.5 * log_var
            elif self.mode == 'fixed':
                terms[task] = self.fixed_weights[task] * loss
            else:
                terms[task] = loss / len(self.tasks)
        total = torch.stack(list(terms.values())).sum()
        return total, terms

    def effective_weights(self) -> dict[str, float]:
        """Return the factor in front of each task loss (1/sigma^2 or 1/(2 sigma^2))."""
        if self.mode == 'fixed':
            return dict(self.fixed_weights)
        if self.mode == 'equal':
            return {t: 1.0 / len(self.tasks) for t in self.tasks}
        return {t: (1.0 if self.is_classification(t) else 0.5)
                * math.exp(-self.log_variance[t].item()) for t in self.tasks}

    def sigmas(self) -> dict[str, float]:
        """Return the learned sigma per task (empty unless the mode is ``uncertainty``)."""
        return {t: math.exp(0.5 * self.log_variance[t].item()) for t in self.log_variance}
