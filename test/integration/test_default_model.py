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

"""The shipped default model: present, small, self-describing, and good on rendered scenes."""

from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.pipeline import ScenePipeline
from mtl_perception.core.predictor import default_model_path, Predictor
import numpy as np
import pytest


def test_default_model_is_shipped_and_self_describing():
    path = default_model_path()
    assert path.exists(), f'{path} is missing: the node and make demo load it by default'
    assert path.stat().st_size <= 30 * 1024 * 1024
    checkpoint = load_checkpoint(path)
    assert checkpoint.class_set == SYNTH_CLASSES
    assert checkpoint.model_config.tasks == ('semantic', 'instance', 'depth')
    assert set(checkpoint.sigmas) == {'semantic', 'instance', 'depth'}
    assert 'semantic_miou' in checkpoint.metrics['test']
    assert 'mtl_train' in checkpoint.extra['command']
    # The pretrained encoder (issue 9); inference needs no pretrained-weights wheel.
    assert checkpoint.model_config.encoder == 'efficientnet_lite0'
    assert 'middlebury2014_motorcycle' in checkpoint.metrics['real_stereo']


@pytest.fixture(scope='module')
def rendered_frames():
    from mtl_perception.synth import render_frame

    # Seeds far from the training range: scenes the model has not seen.
    return [render_frame(90_000 + seed, 320, 240) for seed in range(4)]


def test_default_model_sees_the_rendered_scenes(rendered_frames):
    pipeline = ScenePipeline(Predictor(default_model_path(), device='cpu'))
    correct = total = 0
    relative_errors = []
    for frame in rendered_frames:
        result = pipeline.process(frame.rgb, frame.K, {'semantic', 'depth', 'instances'})
        correct += int((result.prediction.semantic == frame.semantic).sum())
        total += frame.semantic.size
        valid = np.isfinite(frame.depth_m) & np.isfinite(result.depth_m)
        relative_errors.append(np.abs(result.depth_m[valid] - frame.depth_m[valid])
                               / frame.depth_m[valid])
    errors = np.concatenate(relative_errors)
    assert correct / total > 0.75, f'pixel accuracy {correct / total:.3f}'
    assert np.median(errors) < 0.25, f'median depth error {np.median(errors):.3f}'
