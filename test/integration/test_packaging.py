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
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
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


# The rosdep key each imported third-party module needs (None: optional, not declared).
ROSDEP_KEYS = {
    'ament_index_python': 'ament_index_python', 'builtin_interfaces': 'builtin_interfaces',
    'diagnostic_msgs': 'diagnostic_msgs', 'geometry_msgs': 'geometry_msgs',
    'launch': 'launch', 'launch_ros': 'launch_ros', 'lifecycle_msgs': 'lifecycle_msgs',
    'rcl_interfaces': 'rcl_interfaces', 'rclpy': 'rclpy', 'sensor_msgs': 'sensor_msgs',
    'std_msgs': 'std_msgs', 'visualization_msgs': 'visualization_msgs',
    'cv2': 'python3-opencv', 'matplotlib': 'python3-matplotlib', 'numpy': 'python3-numpy',
    'sklearn': 'python3-sklearn', 'torch': 'python3-torch', 'tqdm': 'python3-tqdm',
    'yaml': 'python3-yaml', 'scipy': 'python3-scipy', 'skimage': 'python3-skimage',
    'pybullet': 'python3-pybullet-pip',
    'pybullet_data': 'python3-pybullet-pip', 'rosbags': 'python3-rosbags-pip',
    'mcap': 'mcap-ros2-support', 'cityscapesscripts': None,
    # Optional (mtl_export and .onnx models; pip extra 'onnx'; TensorRT comes with JetPack).
    'onnx': None, 'onnxruntime': None, 'tensorrt': None,
    'pytest': 'python3-pytest', 'psutil': 'python3-psutil',
    'ament_copyright': 'ament_copyright', 'ament_flake8': 'ament_flake8',
    'ament_pep257': 'ament_pep257', 'ament_xmllint': 'ament_xmllint',
}
# Declared although no module imports them, and why.
NOT_IMPORTED = {
    'exec_depend': {'rviz2': 'use_rviz:=true starts it',
                    'ros2launch': "the README's ros2 launch command",
                    'lifecycle_msgs': 'rclpy.lifecycle (the node is a lifecycle node)'},
    'test_depend': {'ros2run': 'test_launch.py runs ros2 run like the README'},
}
LOCAL_TEST_MODULES = {path.stem for path in (REPO / 'test').glob('*.py')}


def _imported_keys(folders: list[str]) -> dict[str, set[str]]:
    """Return, per rosdep key, the files whose imports need it (KeyError: module unknown)."""
    needed: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((REPO / folder).rglob('*.py')):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module]
                elif (isinstance(node, ast.Call) and getattr(node.func, 'attr', '') ==
                      'importorskip' and isinstance(node.args[0], ast.Constant)):
                    modules = [node.args[0].value]
                else:
                    continue
                for module in modules:
                    top = module.split('.')[0]
                    if (top in sys.stdlib_module_names or top in LOCAL_TEST_MODULES
                            or top in ('mtl_perception', '__future__')):
                        continue
                    assert top in ROSDEP_KEYS, (
                        f'{path.relative_to(REPO)} imports {top!r}: declare its rosdep key in '
                        'package.xml and add it to ROSDEP_KEYS')
                    if ROSDEP_KEYS[top]:
                        needed.setdefault(ROSDEP_KEYS[top], set()).add(str(path.relative_to(REPO)))
    return needed


def test_package_manifest_declares_exactly_what_the_code_imports():
    root = ET.parse(REPO / 'package.xml').getroot()
    assert root.get('format') == '3'
    assert root.findtext('name') == 'mtl_perception'
    assert root.find('export/build_type').text == 'ament_python'
    assert (REPO / 'resource' / 'mtl_perception').exists()
    # ament_python is a build type, not a rosdep key: rosdep install stops on it.
    assert not root.findall('buildtool_depend'), 'ament_python needs no buildtool_depend'
    declared = {tag: {e.text for e in root.findall(tag)} for tag in ('exec_depend', 'test_depend')}
    run_time = _imported_keys(['mtl_perception', 'launch'])
    test_time = _imported_keys(['test'])
    missing = set(run_time) - declared['exec_depend']
    assert not missing, {key: sorted(run_time[key]) for key in missing}
    missing_test = set(test_time) - declared['exec_depend'] - declared['test_depend']
    assert not missing_test, {key: sorted(test_time[key]) for key in missing_test}
    unused = declared['exec_depend'] - set(run_time) - set(NOT_IMPORTED['exec_depend'])
    assert not unused, f'declared but never imported: {sorted(unused)}'
    unused_test = (declared['test_depend'] - set(test_time) - set(run_time)
                   - set(NOT_IMPORTED['test_depend']))
    assert not unused_test, f'test_depend never imported by test/: {sorted(unused_test)}'
