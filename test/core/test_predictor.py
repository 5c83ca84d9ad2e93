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

"""The Predictor: preprocessing, output sizes and units, bad input."""

from mtl_perception.core.checkpoint import CheckpointError, save_checkpoint
from mtl_perception.core.predictor import Predictor, resolve_device
import numpy as np
import pytest


def test_outputs_at_input_resolution(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    prediction = predictor.predict(image, confidence=True)
    assert prediction.network_size == (64, 48)
    assert prediction.semantic.shape == (120, 160) and prediction.semantic.dtype == np.uint8
    assert prediction.semantic.max() < tiny_checkpoint.class_set.num_classes
    assert prediction.instance_offsets.shape == (2, 120, 160)
    assert prediction.inverse_depth.shape == (120, 160)
    assert (prediction.inverse_depth >= 0).all()
    assert ((prediction.semantic_confidence > 0) & (prediction.semantic_confidence <= 1)).all()
    assert set(prediction.timings_ms) == {'preprocess', 'forward', 'postprocess'}


def test_offsets_are_scaled_to_output_pixels(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    image = np.full((48, 64, 3), 100, np.uint8)
    native = predictor.predict(image)
    doubled = predictor.predict(image, output_size=(128, 96))
    # Constant image: offsets are smooth, so a 2x upsample doubles them (within interpolation).
    np.testing.assert_allclose(doubled.instance_offsets[:, ::2, ::2].mean(axis=(1, 2)),
                               2 * native.instance_offsets.mean(axis=(1, 2)), rtol=0.05,
                               atol=1e-3)


def test_only_requested_outputs_are_computed(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    prediction = predictor.predict(np.zeros((48, 64, 3), np.uint8), outputs={'depth'})
    assert prediction.semantic is None and prediction.instance_offsets is None
    assert prediction.inverse_depth is not None


def test_bad_images(tiny_checkpoint):
    predictor = Predictor(tiny_checkpoint, device='cpu')
    with pytest.raises(ValueError, match=r'shape \(H, W, 3\)'):
        predictor.predict(np.zeros((48, 64), np.uint8))
    nan_image = np.zeros((48, 64, 3), np.float32)
    nan_image[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match='NaN'):
        predictor.predict(nan_image)
    with pytest.raises(TypeError, match='NumPy image'):
        predictor.predict([[0, 0, 0]])


def test_bad_settings(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match='does not exist'):
        Predictor(tmp_path / 'missing.pt')
    with pytest.raises(ValueError, match="unknown precision 'int4'"):
        Predictor(tiny_checkpoint, precision='int4')
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device('tpu')
    path = save_checkpoint(tiny_checkpoint, tmp_path / 'tiny.pt')
    predictor = Predictor(path, device='cpu', precision='fp16')  # falls back on the CPU
    assert predictor.precision == 'fp32'
    assert predictor.path == str(path)
