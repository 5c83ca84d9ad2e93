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
Helpers for the tests that use ROS 2 tools PyPI lacks: launch, ros2cli, colcon, rosdep.

Those come from a ROS 2 installation or, here and in CI, from ../shared/ros-tools (make test
installs its wheels into .venv). A test that needs a missing tool skips and says which.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = Path(__file__).resolve().parents[1]
ROS_TOOLS = Path(os.environ.get('MTL_ROS_TOOLS', REPO.parent / 'shared' / 'ros-tools'))
BIN = Path(sys.executable).parent
WHERE = ('a ROS 2 installation provides it; here ../shared/ros-tools does, and make test '
         'installs it into .venv when that folder exists')
# What a copy of the package leaves out: the environments and outputs of this checkout (at its
# top level only: mtl_perception/core/data is code) and caches anywhere.
NOT_PACKAGE = {'.git', '.venv', 'build', 'install', 'log', 'demo_output', 'data', 'runs', 'out'}
CACHES = ('__pycache__', '*.egg-info', '.pytest_cache', '.ruff_cache')


def package_paths(python_only: bool = True) -> list[str]:
    """
    Return the top-level folders and Python files of the package source, for the ament linters.

    A ROS package runs them on ``.``; this checkout also holds .venv, build/ and install/ (the
    pip world of make), which are not the package's code. flake8 checks every file it is
    named as Python, so only folders and ``*.py`` unless ``python_only`` is false (for
    ament_copyright, which also wants LICENSE and CONTRIBUTING.md).
    """
    return [str(path) for path in sorted(REPO.iterdir())
            if path.name not in NOT_PACKAGE and path.name[0] not in '._'
            and not path.name.endswith('.egg-info')
            and (not python_only or path.is_dir() or path.suffix == '.py')]


def executable(name: str) -> str | None:
    """Return the path of a console script of this Python environment, else from PATH."""
    candidate = BIN / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def require(modules: tuple[str, ...] = (), executables: tuple[str, ...] = ()) -> None:
    """Skip the calling test, naming what is missing, unless every tool is installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    missing += [e for e in executables if executable(e) is None]
    if missing:
        pytest.skip(f'not installed: {", ".join(missing)} ({WHERE})')


def copy_package(destination: Path) -> Path:
    """Copy the package source (what a git clone holds) to ``destination``."""
    caches = shutil.ignore_patterns(*CACHES)

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = NOT_PACKAGE & set(names) if Path(folder) == REPO else set()
        return top | caches(folder, names)

    shutil.copytree(REPO, destination, ignore=ignore)
    return destination


def purelib(prefix: Path) -> Path:
    """Return the site-packages folder of an install prefix for this Python."""
    return Path(sysconfig.get_path('purelib', vars={'base': str(prefix),
                                                    'platbase': str(prefix)}))


def ros_world_env(env: dict[str, str], prefixes: list[Path | str]) -> dict[str, str]:
    """
    Return ``env`` with install prefixes on AMENT_PREFIX_PATH and PYTHONPATH.

    What ``source install/setup.bash`` does for a colcon workspace, and ``env.sh`` of
    ``make ros-install`` for a pip world. This environment's own prefix stays last: the
    ROS wheels from PyPI keep their ament index there.
    """
    env = dict(env)
    env['AMENT_PREFIX_PATH'] = os.pathsep.join([*map(str, prefixes), sys.prefix])
    python_paths = [str(purelib(Path(p).resolve())) for p in prefixes]
    if env.get('PYTHONPATH'):
        python_paths.append(env['PYTHONPATH'])
    env['PYTHONPATH'] = os.pathsep.join(python_paths)
    env['PATH'] = os.pathsep.join([str(BIN), env.get('PATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def run(command: list[str], timeout_s: float, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it fails or hangs."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                                **kwargs)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f'{command[:3]} did not finish in {timeout_s} s:\n{error.stdout}\n'
                    f'{error.stderr}')
    if result.returncode != 0:
        pytest.fail(f'{" ".join(command)} failed ({result.returncode}):\n{result.stdout}\n'
                    f'{result.stderr}')
    return result


def pip_world_install(prefix: Path, build: Path) -> Path:
    """Install the package into ``prefix`` with ``make ros-install`` (no colcon)."""
    if shutil.which('make') is None:
        pytest.skip('make is not installed')
    run(['make', '-s', '-C', str(REPO), 'ros-install', f'PY={sys.executable}',
         f'ROS_PREFIX={prefix}', f'ROS_BUILD={build}'], timeout_s=120)
    return prefix


def colcon_workspace(root: Path) -> Path:
    """Build the package with colcon in a fresh workspace under ``root``; return the root."""
    require(modules=('colcon_core', 'colcon_ros'), executables=('colcon',))
    copy_package(root / 'src' / 'mtl_perception')
    run([executable('colcon'), '--log-base', str(root / 'log'), 'build',
         '--base-paths', str(root / 'src'), '--build-base', str(root / 'build'),
         '--install-base', str(root / 'install'), '--event-handlers', 'console_direct-',
         '--packages-select', 'mtl_perception'],
        timeout_s=300, cwd=root, env=colcon_env(root))
    return root


def colcon_env(root: Path) -> dict[str, str]:
    """Return an environment for colcon that ignores the user's colcon defaults."""
    env = dict(os.environ)
    env['COLCON_HOME'] = str(root / 'colcon_home')
    env['PATH'] = os.pathsep.join([str(BIN), env.get('PATH', '')])
    env['MTL_ROS_TOOLS'] = str(ROS_TOOLS)
    env.pop('AMENT_PREFIX_PATH', None)
    return env
