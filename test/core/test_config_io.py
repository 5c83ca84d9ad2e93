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

"""Configuration: defaults -> YAML -> command line, with errors that name the key."""

from pathlib import Path

from mtl_perception.core.config_io import apply_overrides, ConfigError, load_yaml_overrides
from mtl_perception.core.training import TrainConfig
from mtl_perception.tools.train import parse_config
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_shipped_yaml_is_valid():
    config = load_yaml_overrides(TrainConfig(), REPO / 'config' / 'train_default.yaml')
    config.validate()
    assert config.tasks == ('semantic', 'instance', 'depth')


def test_command_line_beats_yaml(tmp_path):
    path = tmp_path / 'run.yaml'
    path.write_text('epochs: 3\nlr: 0.01\ntasks: [semantic, depth]\n')
    config = parse_config(['--config', str(path), '--lr', '0.5', '--fixed-weights',
                           'semantic=0.9,depth=0.1', '--flip', 'false'])
    assert config.epochs == 3 and config.lr == 0.5 and config.flip is False
    assert config.tasks == ('semantic', 'depth')
    assert config.fixed_weights == {'semantic': 0.9, 'depth': 0.1}


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('epochs: 3\nlearning_rate: 0.1\n')
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key\(s\) \['learning_rate'\]"):
        load_yaml_overrides(TrainConfig(), path)


def test_wrong_type_names_key(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text('epochs: many\n')
    with pytest.raises(ConfigError, match='bad.yaml: epochs must be an integer'):
        load_yaml_overrides(TrainConfig(), path)
    with pytest.raises(ConfigError, match='flip must be true or false'):
        apply_overrides(TrainConfig(), {'flip': 'maybe'}, 'command line')


def test_invalid_combinations_stop_the_command(capsys):
    with pytest.raises(SystemExit):
        parse_config(['--weighting', 'fixed'])
    assert 'fixed_weights' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(['--width', '321'])
