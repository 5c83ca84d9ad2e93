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
Fixtures of the tests that talk to the node over real Fast DDS.

Every test module here gets the same private ROS graph: its own domain id and discovery on this
host only, so parallel runs and other graphs on the machine never hear each other.
"""

import pytest

pytest.importorskip('rclpy')

from ros_harness import joined_private_graph  # noqa: E402, I100


@pytest.fixture(scope='module')
def ros_env():
    """Join a private ROS graph for one module; yield the environment to start nodes with."""
    with joined_private_graph() as env:
        yield env
