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

"""Launch file, parameter file, RViz config and package manifest agree with the code."""

import ast
from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LAUNCH = REPO / 'launch' / 'camera.launch.py'


def test_parameter_file_keys_are_exactly_the_declared_parameters():
    pytest.importorskip('rcl_interfaces')
    from mtl_perception.ros.parameters import PARAMETERS

    data = yaml.safe_load((REPO / 'config' / 'camera.yaml').read_text())
    assert list(data) == ['/**'], 'use the /** wildcard so any node name matches'
    values = data['/**']['ros__parameters']
    assert set(values) == {spec.name for spec in PARAMETERS}
    for spec in PARAMETERS:
        assert type(values[spec.name]) is type(spec.default), spec.name
        assert values[spec.name] == spec.default, f'{spec.name}: file and code disagree'


def test_launch_file_names_the_installed_executable_and_remaps():
    source = LAUNCH.read_text()
    tree = ast.parse(source)
    strings = {node.value for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert 'mtl_perception_node' in strings
    assert {'image', 'camera_info', 'camera.yaml', 'mtl_perception.rviz'} <= strings
    setup = (REPO / 'setup.py').read_text()
    assert "'mtl_perception_node = mtl_perception.ros.node:main'" in setup
    arguments = {node.args[0].value for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, 'id', '') ==
                 'DeclareLaunchArgument'}
    assert {'image', 'camera_info', 'namespace', 'model_path', 'device', 'params_file',
            'use_rviz'} <= arguments


def test_launch_description_builds_when_launch_ros_is_installed():
    pytest.importorskip('launch_ros')
    import importlib.util

    spec = importlib.util.spec_from_file_location('camera_launch', LAUNCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert len(description.entities) >= 5


def test_rviz_config_shows_the_node_outputs():
    config = yaml.safe_load((REPO / 'rviz' / 'mtl_perception.rviz').read_text())
    topics = {display.get('Topic', {}).get('Value')
              for display in config['Visualization Manager']['Displays']}
    assert {'/mtl/semantic/color', '/mtl/depth', '/mtl/instances/points',
            '/mtl/instances/markers'} <= topics


def test_package_manifest():
    root = ET.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'mtl_perception'
    depends = {e.text for e in root.findall('exec_depend')}
    assert {'rclpy', 'sensor_msgs', 'std_msgs', 'visualization_msgs', 'diagnostic_msgs',
            'cv_bridge', 'launch_ros', 'python3-numpy', 'python3-opencv',
            'python3-sklearn'} <= depends
    assert root.find('export/build_type').text == 'ament_python'
    assert (REPO / 'resource' / 'mtl_perception').exists()
