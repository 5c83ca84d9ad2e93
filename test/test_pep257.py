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

"""ament_pep257 (pydocstyle with ament's convention: summary on the second line, D213)."""

import pytest
from ros_tools import package_paths


@pytest.mark.pep257
@pytest.mark.linter
def test_pep257():
    main = pytest.importorskip(
        'ament_pep257.main', reason='ament_pep257 not installed (a ROS 2 install or '
        '../shared/ros-tools provides it; make test installs it from there)').main
    rc = main(argv=package_paths())
    assert rc == 0, 'Found code style errors / warnings'
