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
``colcon build`` and ``colcon test`` of the package in a fresh workspace, as a ROS user runs them.

colcon runs pytest only for a package that names it as a test dependency (the ``test`` extra of
setup.py); otherwise it falls back to unittest, which finds none of these tests and passes.
"""

from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
from ros_tools import colcon_env, colcon_workspace, executable, require, run

# A fast subset that still goes through pytest's collection of the whole test folder.
SUBSET = ('test_copyright or test_license_file or test_xmllint or test_package_manifest'
          ' or test_launch_file_names')


@pytest.fixture(scope='module')
def workspace(tmp_path_factory) -> Path:
    """Return a workspace root with the package built by colcon."""
    return colcon_workspace(tmp_path_factory.mktemp('ws'))


def test_colcon_build_installs_the_ros_layout(workspace):
    prefix = workspace / 'install' / 'mtl_perception'
    share = prefix / 'share' / 'mtl_perception'
    for relative in ('package.xml', 'launch/camera.launch.py', 'config/camera.yaml',
                     'rviz/mtl_perception.rviz', 'models/default.pt'):
        assert (share / relative).is_file(), relative
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' /
            'mtl_perception').is_file()
    for name in ('mtl_perception_node', 'mtl_sim_camera'):
        program = prefix / 'lib' / 'mtl_perception' / name  # where ros2 run / launch look
        assert program.is_file() and program.stat().st_mode & 0o111, name


def test_colcon_test_collects_and_runs_the_pytest_tests(workspace):
    require(modules=('ament_copyright',))
    results = workspace / 'test_results'
    run([executable('colcon'), '--log-base', str(workspace / 'log'), 'test',
         '--base-paths', str(workspace / 'src'), '--build-base', str(workspace / 'build'),
         '--install-base', str(workspace / 'install'), '--test-result-base', str(results),
         '--event-handlers', 'console_direct-', '--pytest-args', ' -k', SUBSET],
        timeout_s=300, cwd=workspace, env=colcon_env(workspace))
    report = results / 'mtl_perception' / 'pytest.xml'
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    cases = {case.get('name'): case for case in suite.iter('testcase')}
    ran = {name for name, case in cases.items()
           if case.find('skipped') is None and case.find('error') is None}
    assert {'test_copyright', 'test_xmllint', 'test_license_file_is_the_declared_license',
            'test_package_manifest_declares_exactly_what_the_code_imports'} <= ran, cases
    assert int(suite.get('failures')) == 0 and int(suite.get('errors')) == 0
    summary = run([executable('colcon'), 'test-result', '--test-result-base', str(results),
                   '--verbose'], timeout_s=60, cwd=workspace, env=colcon_env(workspace))
    assert '0 errors, 0 failures' in summary.stdout, summary.stdout
