"""The multi-task network: one shared dilated residual encoder, one light decoder per task.

``forward_features`` returns the shared features; each head maps them to a named output, and
``forward`` returns a dict keyed by output name (see ``config.TASK_OUTPUTS``), so single-task
baselines are the same code with one head.
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from mtl_perception.core.config import TASK_OUTPUTS, ModelConfig


def _conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1,
                  dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block with optional stride or dilation."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): parallel dilated convs + image pooling."""

    def __init__(self, in_ch: int, out_ch: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [_conv_bn_relu(in_ch, out_ch, kernel=1)]
            + [_conv_bn_relu(in_ch, out_ch, dilation=r) for r in rates])
        # No BatchNorm after global pooling: a 1x1 map with batch size 1 breaks BN statistics.
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True))
        self.project = _conv_bn_relu(out_ch * (len(rates) + 2), out_ch, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


class Encoder(nn.Module):
    """Dilated residual encoder; returns stride-4 features and the ASPP context."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            _conv_bn_relu(3, config.stem_channels, stride=2),
            _conv_bn_relu(config.stem_channels, config.stem_channels))
        stages = []
        in_ch, stride_now, dilation = config.stem_channels, 2, 1
        for index, (channels, blocks) in enumerate(
                zip(config.stage_channels, config.stage_blocks)):
            stride = 2
            if stride_now >= config.output_stride:
                # Past the output stride: keep the resolution, grow the receptive field.
                stride, dilation = 1, dilation * 2
            layers = [BasicBlock(in_ch, channels, stride=stride,
                                 dilation=max(1, dilation // 2) if stride == 1 else 1)]
            layers += [BasicBlock(channels, channels, dilation=dilation)
                       for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            stride_now *= stride
            in_ch = channels
            if index == 0:
                self.low_level_channels = channels
        self.stages = nn.ModuleList(stages)
        self.context = ASPP(in_ch, config.aspp_channels, config.aspp_rates)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(image)
        low_level = None
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index == 0:
                low_level = x  # stride 4
        return {'low_level': low_level, 'context': self.context(x)}


class TaskHead(nn.Module):
    """Light decoder: context upsampled to stride 4, fused with low-level features, predicted."""

    def __init__(self, config: ModelConfig, low_level_channels: int, out_channels: int) -> None:
        super().__init__()
        reduced = max(8, config.decoder_channels // 2)
        self.reduce = _conv_bn_relu(low_level_channels, reduced, kernel=1)
        self.fuse = nn.Sequential(
            _conv_bn_relu(config.aspp_channels + reduced, config.decoder_channels),
            _conv_bn_relu(config.decoder_channels, config.decoder_channels))
        self.predict = nn.Conv2d(config.decoder_channels, out_channels, 1)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        low_level = features['low_level']
        context = F.interpolate(features['context'], size=low_level.shape[2:], mode='bilinear',
                                align_corners=False)
        return self.predict(self.fuse(torch.cat([context, self.reduce(low_level)], dim=1)))


class MultiTaskNet(nn.Module):
    """Shared encoder with one head per task; returns a dict of full-resolution outputs.

    Outputs: ``semantic_logits`` (B, C, H, W); ``instance_offsets`` (B, 2, H, W) in input
    pixels, x then y, pointing from each pixel to its instance centre; ``inverse_depth``
    (B, 1, H, W) in 1/m for the canonical camera, non-negative (softplus).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        out_channels = {'semantic': config.num_classes, 'instance': 2, 'depth': 1}
        self.heads = nn.ModuleDict({
            task: TaskHead(config, self.encoder.low_level_channels, out_channels[task])
            for task in config.tasks})
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for head in self.heads.values():
            nn.init.normal_(head.predict.weight, std=0.01)

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

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f'expected an image batch (B, 3, H, W), got {tuple(image.shape)}')
        size = (image.shape[2], image.shape[3])
        features = self.forward_features(image)
        return {TASK_OUTPUTS[task]: self.forward_head(task, features, size)
                for task in self.config.tasks}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
