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


"""The image subscription's reliability and the reason no camera reaches it, decided purely."""

from types import SimpleNamespace

import pytest

pytest.importorskip('rclpy')

from mtl_perception.ros.qos_matching import image_reliability, incompatibility  # noqa: E402, I100
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

RELIABLE, BEST_EFFORT = ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT


def _publisher(reliability: ReliabilityPolicy, name: str = 'driver') -> SimpleNamespace:
    return SimpleNamespace(qos_profile=QoSProfile(depth=10, reliability=reliability),
                           node_namespace='/camera', node_name=name)


def test_auto_matches_the_publishers_and_keeps_its_choice_without_them():
    assert image_reliability('auto', [_publisher(RELIABLE)], None) == RELIABLE
    assert image_reliability('auto', [_publisher(RELIABLE), _publisher(BEST_EFFORT)],
                             RELIABLE) == BEST_EFFORT
    assert image_reliability('auto', [], BEST_EFFORT) == BEST_EFFORT
    assert image_reliability('auto', [], None) is None


def test_a_fixed_setting_ignores_the_publishers():
    assert image_reliability('reliable', [_publisher(BEST_EFFORT)], None) == RELIABLE
    assert image_reliability('best_effort', [], None) == BEST_EFFORT


def test_incompatibility_names_the_publishers_only_when_none_can_reach():
    subscription = QoSProfile(depth=1, reliability=RELIABLE)
    assert incompatibility([], subscription, '/cam/image') == ''
    assert incompatibility([_publisher(RELIABLE)], subscription, '/cam/image') == ''
    both = [_publisher(BEST_EFFORT, 'a'), _publisher(RELIABLE, 'b')]
    assert incompatibility(both, subscription, '/cam/image') == ''
    problem = incompatibility([_publisher(BEST_EFFORT, 'a')], subscription, '/cam/image')
    assert problem == ('no compatible publisher on /cam/image: /camera/a publishes '
                       'best_effort, the subscription is reliable')
