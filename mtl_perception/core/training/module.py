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
What is trained: the network with its losses and weighting as one module, and its optimizer.

The network, the task losses and the loss weighting live in one ``nn.Module`` so that
DistributedDataParallel all-reduces the gradients of the log-variances with the weights.
The log-variances get their own optimizer group (own learning rate, no weight decay): weight
decay would pull every ``log sigma^2`` towards 0, i.e. towards equal weights, and a too-small
learning rate leaves them at their initial value; code bases differ 250x here.
"""

from __future__ import annotations

from collections.abc import Mapping

from mtl_perception.core.config import ModelConfig
from mtl_perception.core.losses import LossWeighting, TaskLosses
from mtl_perception.core.model import MultiTaskNet
from mtl_perception.core.training.config import build_model_config, TrainConfig
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel


class MultiTaskTrainModule(nn.Module):
    """Model + task losses + weighting; ``forward(batch)`` returns total, terms and raw losses."""

    def __init__(self, config: ModelConfig, weighting: LossWeighting) -> None:
        super().__init__()
        self.model = MultiTaskNet(config)
        self.task_losses = TaskLosses(config.tasks)
        self.weighting = weighting

    def forward(self, batch: Mapping[str, torch.Tensor]) -> tuple[
            torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor],
            dict[str, torch.Tensor]]:
        outputs = self.model(batch['image'])
        losses = self.task_losses(outputs, batch)
        total, terms = self.weighting(losses)
        return total, terms, losses, outputs


def build_optimizer(module: MultiTaskTrainModule, lr: float, weight_decay: float,
                    log_variance_lr: float | None, log_variance_weight_decay: float = 0.0,
                    encoder_lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """Build AdamW: weights (decayed), norms/biases (not), encoder, log-variances (own lr)."""
    pretrained = {id(p) for p in module.model.encoder_parameters()}
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {
        (False, True): [], (False, False): [], (True, True): [], (True, False): []}
    for name, parameter in module.model.named_parameters():
        if not parameter.requires_grad:
            continue
        decayed = not (parameter.ndim <= 1 or name.endswith('.bias'))
        buckets[(id(parameter) in pretrained, decayed)].append(parameter)
    groups = [
        {'params': buckets[(False, True)], 'lr': lr, 'weight_decay': weight_decay,
         'name': 'weights'},
        {'params': buckets[(False, False)], 'lr': lr, 'weight_decay': 0.0,
         'name': 'norms_biases'},
    ]
    if pretrained:
        # ImageNet features are a good start that a full learning rate would partly wash out
        # while the new heads are still random: the encoder gets lr * encoder_lr_scale.
        encoder_lr = lr * encoder_lr_scale
        groups += [
            {'params': buckets[(True, True)], 'lr': encoder_lr, 'weight_decay': weight_decay,
             'name': 'encoder_weights'},
            {'params': buckets[(True, False)], 'lr': encoder_lr, 'weight_decay': 0.0,
             'name': 'encoder_norms_biases'}]
    log_variances = list(module.weighting.parameters())
    if log_variances:
        groups.append({'params': log_variances, 'lr': log_variance_lr or lr,
                       'weight_decay': log_variance_weight_decay, 'name': 'log_variances'})
    return torch.optim.AdamW(groups, lr=lr)


def build_run(config: TrainConfig, device: torch.device, world: int) -> tuple[
        MultiTaskTrainModule, nn.Module, torch.optim.Optimizer]:
    """Return the train module, the module to call (DDP-wrapped when ``world`` > 1), AdamW."""
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


def move_batch(batch: Mapping[str, object], device: torch.device) -> dict[str, object]:
    """Return the batch with its tensors on ``device`` (other values as they are)."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def check_finite(total: torch.Tensor, losses: Mapping[str, torch.Tensor],
                 step: int) -> None:
    """Stop training with a clear message when a loss turns NaN or infinite."""
    if not torch.isfinite(total):
        detail = {t: float(v.detach()) for t, v in losses.items()}
        raise FloatingPointError(
            f'loss is not finite at step {step}: task losses {detail}; lower the learning '
            'rate, check the inputs for NaN, or disable AMP')
