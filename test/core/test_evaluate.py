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

"""mtl_evaluate: metrics files, mosaics, and agreement with the training-time evaluation."""

import json

from mtl_perception.core.checkpoint import save_checkpoint
from mtl_perception.core.eval import evaluate_checkpoint
from mtl_perception.tools.evaluate import main
import pytest
import torch


def test_writes_metrics_and_mosaics(tiny_data, tiny_checkpoint, tmp_path):
    model = save_checkpoint(tiny_checkpoint, tmp_path / 'tiny.pt')
    result = evaluate_checkpoint(model, tiny_data, 'val', out=tmp_path / 'eval', device='cpu',
                                 mosaics=2)
    assert result['frames'] == 4
    for key in ('semantic_miou', 'instance_mean_error_px', 'inverse_depth_mean_error',
                'depth_abs_rel', 'depth_rmse_m', 'instance_pq'):
        assert key in result, key
    saved = json.loads((tmp_path / 'eval' / 'metrics.json').read_text())
    assert saved['metrics']['semantic_miou'] == pytest.approx(result['semantic_miou'])
    assert len(saved['frames']) == 4
    assert sorted(p.name for p in (tmp_path / 'eval').glob('mosaic_*.png')) == [
        'mosaic_0000.png', 'mosaic_0001.png']
    assert '| semantic mIoU (%) |' in (tmp_path / 'eval' / 'metrics.md').read_text()


def test_agrees_with_the_training_evaluation(tiny_data, tiny_checkpoint, tmp_path):
    from mtl_perception.core.data import build_dataset
    from mtl_perception.core.training import evaluate

    model = save_checkpoint(tiny_checkpoint, tmp_path / 'tiny.pt')
    result = evaluate_checkpoint(model, tiny_data, 'val', device='cpu', mosaics=0)
    dataset = build_dataset(tiny_data, 'val', 'synth', size=(64, 48))
    direct = evaluate(tiny_checkpoint.build_model(), dataset, tiny_checkpoint.class_set.names,
                      torch.device('cpu'))
    for key in ('semantic_miou', 'instance_mean_error_px', 'inverse_depth_mean_error'):
        assert result[key] == pytest.approx(direct[key], rel=1e-6)


def test_missing_checkpoint_is_a_clear_error(tiny_data, tmp_path, caplog):
    assert main([str(tmp_path / 'none.pt'), '--data-root', str(tiny_data)]) == 2
    assert 'none.pt does not exist' in caplog.text
