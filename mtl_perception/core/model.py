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
The multi-task network: one shared encoder, one light decoder per task.

``forward_features`` returns the shared features (a dict keyed by stride, see
``encoders.py``); each head maps them to a named output, and ``forward`` returns a dict keyed
by output name (see ``config.TASK_OUTPUTS``), so single-task baselines are the same code with
one head. ``forward(image, tasks=...)`` runs only the heads asked for: the node computes
nothing that no subscriber needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from mtl_perception.core.config import ModelConfig, TASK_OUTPUTS
from mtl_perception.core.encoders import (
    conv_bn_relu,
    LITE_VARIANTS,
    LiteEncoder,
    ResidualEncoder,
)
import torch
from torch import nn
import torch.nn.functional as F

TASK_CHANNELS_FIXED = {'instance': 2, 'depth': 1}


def _separable(in_ch: int, out_ch: int) -> nn.Sequential:
    """Depthwise 3x3 + pointwise 1x1, each with BN and ReLU: a cheap 3x3 for the decoders."""
    return nn.Sequential(
        nn.Conv2d(in_ch, in_ch, 3, 1, 1, groups=in_ch, bias=False), nn.BatchNorm2d(in_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_ch, out_ch, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True))


def _upsample_to(x: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=reference.shape[2:], mode='bilinear', align_corners=False)


class DeepLabHead(nn.Module):
    """
    DeepLab v3+ style decoder: context upsampled to stride 4, fused with stride-4 features.

    The decoder of the scratch presets (``decoder: deeplab``); its parameter names are those of
    the first checkpoints, which keep loading.
    """

    def __init__(self, config: ModelConfig, channels: dict[str, int], out_channels: int) -> None:
        super().__init__()
        reduced = max(8, config.decoder_channels // 2)
        self.reduce = conv_bn_relu(channels['stride4'], reduced, kernel=1)
        self.fuse = nn.Sequential(
            conv_bn_relu(channels['context'] + reduced, config.decoder_channels),
            conv_bn_relu(config.decoder_channels, config.decoder_channels))
        self.predict = nn.Conv2d(config.decoder_channels, out_channels, 1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        low_level = features['stride4']
        context = _upsample_to(features['context'], low_level)
        return self.predict(self.fuse(torch.cat([context, self.reduce(low_level)], dim=1)))


class PyramidHead(nn.Module):
    """
    Light top-down decoder over the taps at strides 16, 8 and 4 (``decoder: pyramid``).

    The context (deepest level, after ASPP) is upsampled one level at a time and fused with a
    1x1 projection of that level's encoder features by a separable 3x3: multi-scale detail for
    boundaries and thin structures at a fraction of a full 3x3 decoder's cost.
    """

    def __init__(self, config: ModelConfig, channels: dict[str, int], out_channels: int) -> None:
        super().__init__()
        width = config.decoder_channels
        levels = ('stride16', 'stride8', 'stride4')
        self.lateral = nn.ModuleDict({
            level: conv_bn_relu(channels[level], width // 2, kernel=1) for level in levels})
        self.fuse = nn.ModuleDict({
            'stride16': _separable(channels['context'] + width // 2, width),
            'stride8': _separable(width + width // 2, width),
            'stride4': _separable(width + width // 2, width)})
        self.predict = nn.Conv2d(width, out_channels, 1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        x = features['context']
        for level in ('stride16', 'stride8', 'stride4'):
            tap = features[level]
            x = self.fuse[level](torch.cat([_upsample_to(x, tap), self.lateral[level](tap)], 1))
        return self.predict(x)


DECODERS = {'deeplab': DeepLabHead, 'pyramid': PyramidHead}


def build_encoder(config: ModelConfig) -> nn.Module:
    """Build the shared encoder named by ``config.encoder`` (pretrained weights if asked)."""
    if config.encoder == 'resnet':
        return ResidualEncoder(config.stem_channels, config.stage_channels, config.stage_blocks,
                               config.output_stride, config.aspp_channels, config.aspp_rates)
    if config.encoder in LITE_VARIANTS:
        return LiteEncoder(config.encoder, config.output_stride, config.aspp_channels,
                           config.aspp_rates, config.pretrained)
    raise ValueError(f'unknown encoder {config.encoder!r}')


class MultiTaskNet(nn.Module):
    """
    Shared encoder with one head per task; returns a dict of full-resolution outputs.

    Outputs: ``semantic_logits`` (B, C, H, W); ``instance_offsets`` (B, 2, H, W) in input
    pixels, x then y, pointing from each pixel to its instance centre; ``inverse_depth``
    (B, 1, H, W) in 1/m for the canonical camera, non-negative (softplus).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        out_channels = {'semantic': config.num_classes, **TASK_CHANNELS_FIXED}
        head_class = DECODERS[config.decoder]
        self.heads = nn.ModuleDict({
            task: head_class(config, self.encoder.channels, out_channels[task])
            for task in config.tasks})
        self._init_weights()

    def _init_weights(self) -> None:
        pretrained = self.encoder if self.config.pretrained else None
        skip = set(pretrained.backbone.modules()) if pretrained is not None else set()
        for module in self.modules():
            if module in skip:
                continue
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for head in self.heads.values():
            nn.init.normal_(head.predict.weight, std=0.01)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """Parameters of the shared encoder's pretrained part (an own learning rate pays)."""
        backbone = getattr(self.encoder, 'backbone', None)
        return list(backbone.parameters()) if backbone is not None else []

    def freeze_encoder_batch_norm(self) -> None:
        """Keep the pretrained encoder's BN statistics (call after ``train()``)."""
        for module in self.encoder_modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()

    def freeze_encoder_blocks(self, count: int) -> None:
        """
        Freeze the pretrained stem and the first ``count`` encoder blocks (weights and BN).

        The high-resolution blocks hold generic ImageNet edge and colour filters and cost the
        most in the backward pass (depthwise convolutions at strides 2 and 4 on a CPU);
        freezing them trades little accuracy for a much cheaper step.
        """
        backbone = getattr(self.encoder, 'backbone', None)
        if backbone is None or count <= 0:
            return
        frozen: list[nn.Module] = [backbone._conv_stem, backbone._bn0]
        frozen += list(backbone._blocks[:count])
        for module in frozen:
            for parameter in module.parameters():
                parameter.requires_grad_(False)
            for sub in module.modules():
                if isinstance(sub, nn.BatchNorm2d):
                    sub.eval()

    def encoder_modules(self) -> list[nn.Module]:
        backbone = getattr(self.encoder, 'backbone', None)
        return list(backbone.modules()) if backbone is not None else []

    def forward_features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.encoder(image)

    def forward_head(self, task: str, features: dict[str, torch.Tensor],
                     size: tuple[int, int]) -> torch.Tensor:
        """Run one head and bring its output to ``size`` (H, W) with the task's units."""
        raw = self.heads[task](features)  # (B, K, H/4, W/4)
        stride = size[1] / raw.shape[3]
        out = F.interpolate(raw, size=size, mode='bilinear', align_corners=False)
        if task == 'instance':
            # Predict offsets in stride-4 pixels (well-scaled numbers), return input pixels.
            return out * stride
        if task == 'depth':
            return F.softplus(out)
        return out

    def forward(self, image: torch.Tensor,
                tasks: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Return the outputs of the heads in ``tasks`` (default: every head of the network)."""
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f'expected an image batch (B, 3, H, W), got {tuple(image.shape)}')
        if tasks is None:
            tasks = self.config.tasks
        else:
            missing = [t for t in tasks if t not in self.heads]
            if missing:
                raise ValueError(f'the network has no head for {missing}; its heads: '
                                 f'{list(self.config.tasks)}')
        size = (image.shape[2], image.shape[3])
        features = self.forward_features(image)
        return {TASK_OUTPUTS[task]: self.forward_head(task, features, size)
                for task in self.config.tasks if task in tasks}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
