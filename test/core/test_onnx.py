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

"""ONNX export: every preset exports, folds its BatchNorms and matches torch on the CPU."""

from dataclasses import replace

from mtl_perception.core.checkpoint import Checkpoint, CheckpointError, Preprocessing
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.config import preset_config, PRESETS
from mtl_perception.core.model import MultiTaskNet
from mtl_perception.core.pipeline import ScenePipeline
from mtl_perception.core.predictor import Predictor
import numpy as np
import pytest
import torch

onnx = pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from mtl_perception.core.onnx_backend import load_onnx_metadata  # noqa: E402, I100
from mtl_perception.core.onnx_export import compare_with_checkpoint, export_onnx  # noqa: E402


def _checkpoint(preset: str, width: int, height: int) -> Checkpoint:
    torch.manual_seed(0)
    config = replace(preset_config(preset, SYNTH_CLASSES.num_classes), pretrained=False)
    model = MultiTaskNet(config)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding is really tested
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.8, 1.2)
                module.bias.uniform_(-0.1, 0.1)
    return Checkpoint(model_config=config, class_set=SYNTH_CLASSES,
                      preprocessing=Preprocessing(input_width=width, input_height=height),
                      state_dict=model.state_dict(),
                      log_variances={'semantic': 0.1, 'instance': 1.0, 'depth': -2.0},
                      extra={'command': 'test'})


@pytest.mark.parametrize('preset', sorted(PRESETS))
def test_every_preset_exports_folded_and_matches_torch(preset, tmp_path):
    checkpoint = _checkpoint(preset, 128, 96)
    summary = export_onnx(checkpoint, tmp_path / 'model.onnx')
    assert summary['batch_norm_nodes'] == 0 and summary['opset'] >= 17
    graph = onnx.load(str(tmp_path / 'model.onnx'))
    assert not any(node.op_type == 'BatchNormalization' for node in graph.graph.node)
    assert graph.opset_import[0].version >= 17
    gaps = compare_with_checkpoint(checkpoint, tmp_path / 'model.onnx')
    for output in ('semantic_logits', 'instance_offsets', 'inverse_depth'):
        assert gaps[f'max_abs_{output}'] <= 1e-4, (preset, gaps)
    assert gaps['equal_labels'] >= 0.999, gaps


def test_an_onnx_file_runs_like_its_checkpoint(tiny_checkpoint, tmp_path):
    path = tmp_path / 'tiny.onnx'
    export_onnx(tiny_checkpoint, path)
    described = load_onnx_metadata(path)
    assert described.class_set == tiny_checkpoint.class_set
    assert described.preprocessing == tiny_checkpoint.preprocessing
    assert described.model_config == tiny_checkpoint.model_config
    assert described.sigmas == pytest.approx(tiny_checkpoint.sigmas)
    torch_pipeline = ScenePipeline(Predictor(tiny_checkpoint, device='cpu'))
    onnx_pipeline = ScenePipeline(Predictor(str(path), device='cpu'))
    assert onnx_pipeline.predictor.backend.name == 'onnxruntime'
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    expected = torch_pipeline.process(image)
    found = onnx_pipeline.process(image)
    assert (found.prediction.semantic == expected.prediction.semantic).mean() >= 0.999
    np.testing.assert_allclose(found.depth_m, expected.depth_m, rtol=1e-4, equal_nan=True)
    prediction = onnx_pipeline.predictor.predict(image, outputs={'depth'})
    assert prediction.semantic is None and prediction.inverse_depth.shape == (120, 160)


def test_dynamic_export_runs_at_other_sizes_and_fixed_refuses_them(tiny_checkpoint, tmp_path):
    export_onnx(tiny_checkpoint, tmp_path / 'dynamic.onnx', dynamic=True)
    predictor = Predictor(tmp_path / 'dynamic.onnx', device='cpu', input_size=(96, 64))
    assert predictor.infer(np.zeros((64, 96, 3), np.uint8)).network_size == (96, 64)
    gaps = compare_with_checkpoint(tiny_checkpoint, tmp_path / 'dynamic.onnx', (96, 64))
    assert gaps['max_abs_semantic_logits'] <= 1e-4
    export_onnx(tiny_checkpoint, tmp_path / 'fixed.onnx')
    with pytest.raises(ValueError, match='exported for a 64x48 input'):
        Predictor(tmp_path / 'fixed.onnx', device='cpu', input_size=(96, 64))


def test_bad_onnx_files_are_clear_errors(tiny_checkpoint, tmp_path):
    with pytest.raises(CheckpointError, match='does not exist'):
        Predictor(tmp_path / 'missing.onnx', device='cpu')
    garbage = tmp_path / 'garbage.onnx'
    garbage.write_bytes(b'\x00\x01 not a protobuf' * 10)
    with pytest.raises(CheckpointError, match='garbage.onnx'):
        Predictor(garbage, device='cpu')
    foreign = tmp_path / 'foreign.onnx'
    export_onnx(tiny_checkpoint, foreign)
    model = onnx.load(str(foreign))
    del model.metadata_props[:]
    onnx.save(model, str(foreign))
    with pytest.raises(CheckpointError, match='not written by mtl_export'):
        Predictor(foreign, device='cpu')
    with pytest.raises(ValueError, match='ONNX file'):
        Predictor(tiny_checkpoint, device='cpu', backend='onnxruntime')


def test_tensorrt_backend_says_what_it_needs(tiny_checkpoint, tmp_path):
    export_onnx(tiny_checkpoint, tmp_path / 'tiny.onnx')
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match='tensorrt Python package'):
            Predictor(tmp_path / 'tiny.onnx', device='cpu', backend='tensorrt')
    else:
        with pytest.raises(ValueError, match='CUDA'):
            Predictor(tmp_path / 'tiny.onnx', device='cpu', backend='tensorrt')


def test_mtl_export_command_line(tiny_checkpoint, tmp_path):
    from mtl_perception.core.checkpoint import save_checkpoint
    from mtl_perception.tools.export import main

    model = save_checkpoint(tiny_checkpoint, tmp_path / 'tiny.pt')
    assert main([str(model), '--out', str(tmp_path / 'tiny.onnx')]) == 0
    assert load_onnx_metadata(tmp_path / 'tiny.onnx').class_set == SYNTH_CLASSES
    assert main([str(model), '--out', str(tmp_path / 'bad.onnx'), '--width', '50',
                 '--height', '48']) == 2
    assert main([str(tmp_path / 'missing.pt'), '--out', str(tmp_path / 'x.onnx')]) == 2
