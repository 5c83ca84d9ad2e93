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
``rosdep`` resolves every key of package.xml for Humble, Jazzy and Kilted, offline.

The rules and distribution files come from ../shared/ros-tools/rosdistro (ros/rosdistro); the
README's ``rosdep install --from-paths src --ignore-src -y`` runs here simulated (``-s``).
"""

from pathlib import Path
import shutil
import xml.etree.ElementTree as ET

import pytest
from ros_tools import executable, REPO, require, ROS_TOOLS, run

DISTROS = [('humble', 'ubuntu:jammy'), ('jazzy', 'ubuntu:noble'), ('kilted', 'ubuntu:noble')]


@pytest.fixture
def offline_rosdep(tmp_path) -> dict:
    """Return an environment whose rosdep reads only the local rules and distribution files."""
    require(executables=('rosdep',))
    data = ROS_TOOLS / 'rosdistro'
    if not (data / 'index-v4.yaml').exists():
        pytest.skip(f'no offline rosdep data: {data} is missing (../shared/ros-tools)')
    sources = tmp_path / 'sources.list.d'
    sources.mkdir()
    (sources / '20-default.list').write_text(
        f'yaml {(data / "rosdep" / "base.yaml").as_uri()}\n'
        f'yaml {(data / "rosdep" / "python.yaml").as_uri()}\n')
    index = tmp_path / 'rosdistro'
    shutil.copytree(data, index, ignore=shutil.ignore_patterns('rosdep'))
    # Without the remote caches named in the index, rosdep reads the distribution files.
    text = (index / 'index-v4.yaml').read_text()
    (index / 'index-v4.yaml').write_text(
        ''.join(line for line in text.splitlines(keepends=True)
                if 'distribution_cache:' not in line))
    source = tmp_path / 'src' / 'mtl_perception'
    source.mkdir(parents=True)
    shutil.copy(REPO / 'package.xml', source)
    return {'ROSDEP_SOURCE_PATH': str(sources), 'ROS_HOME': str(tmp_path / 'ros_home'),
            'ROSDISTRO_INDEX_URL': (index / 'index-v4.yaml').as_uri(),
            'PATH': f'{Path(executable("rosdep")).parent}:/usr/bin:/bin', 'src': str(source)}


def _declared_keys() -> list[str]:
    root = ET.parse(REPO / 'package.xml').getroot()
    return sorted({e.text for e in root if e.tag.endswith('depend')})


@pytest.mark.parametrize('distro, os_name', DISTROS)
def test_rosdep_resolves_every_key_of_package_xml(offline_rosdep, distro, os_name):
    env = {k: v for k, v in offline_rosdep.items() if k != 'src'}
    rosdep = executable('rosdep')
    run([rosdep, 'update', '--rosdistro', distro], timeout_s=120, env=env)
    keys = _declared_keys()
    assert {'rclpy', 'sensor_msgs', 'python3-torch', 'python3-pybullet-pip'} <= set(keys)
    resolved = run([rosdep, 'resolve', f'--os={os_name}', '--rosdistro', distro, *keys],
                   timeout_s=60, env=env).stdout
    assert f'ros-{distro}-rclpy' in resolved and f'ros-{distro}-rviz2' in resolved
    assert 'python3-torch' in resolved and 'pybullet' in resolved


def test_readme_rosdep_install_command(offline_rosdep):
    """The README's command, simulated (-s); it stopped on "ament_python" before."""
    env = {k: v for k, v in offline_rosdep.items() if k != 'src'}
    rosdep = executable('rosdep')
    run([rosdep, 'update', '--rosdistro', 'kilted'], timeout_s=120, env=env)
    install = run([rosdep, 'install', '-s', '--from-paths', offline_rosdep['src'],
                   '--ignore-src', '--os=ubuntu:noble', '--rosdistro', 'kilted', '-y'],
                  timeout_s=120, env=env)
    assert 'Cannot locate rosdep definition' not in install.stdout + install.stderr
