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
ament_flake8 over the package, as every ROS 2 Python package runs it (colcon test, buildfarm).

ruff (`make lint`) is configured to agree with it where ruff can (ruff.toml); this test is the
authority for what ruff cannot check (E12x continuation lines, flake8-builtins, class newline).
"""

import pytest
from ros_tools import package_paths


@pytest.mark.flake8
@pytest.mark.linter
def test_flake8():
    main = pytest.importorskip(
        'ament_flake8.main', reason='ament_flake8 not installed (a ROS 2 install or '
        '../shared/ros-tools provides it; make test installs it from there)').main_with_errors
    rc, errors = main(argv=package_paths())
    assert rc == 0, f'Found {len(errors)} code style errors / warnings:\n' + '\n'.join(errors)
