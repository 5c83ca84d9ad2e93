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
ament_copyright: every source file carries the Apache-2.0 header that package.xml declares.

At a repository root it also wants LICENSE and CONTRIBUTING.md with the licence's text.
"""

import pytest
from ros_tools import package_paths, REPO


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    main = pytest.importorskip(
        'ament_copyright.main', reason='ament_copyright not installed (a ROS 2 install or '
        '../shared/ros-tools provides it; make test installs it from there)').main
    rc = main(argv=package_paths(python_only=False))  # LICENSE, CONTRIBUTING.md at a git root
    assert rc == 0, 'Found errors'


def test_license_file_is_the_declared_license():
    text = (REPO / 'LICENSE').read_text()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert '<license>Apache-2.0</license>' in (REPO / 'package.xml').read_text()
