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
Which reliability the node's image subscription takes, and why no camera can reach it.

Pure decisions on the publishers' QoS (as ``get_publishers_info_by_topic`` returns them), so
the node's timer only applies them; ``ros/qos.py`` (the Fast DDS profile) stays free of rclpy
for the tools that run without ROS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rclpy.qos import qos_check_compatible, QoSProfile, ReliabilityPolicy


def image_reliability(setting: str, publishers: Sequence[Any],
                      current: ReliabilityPolicy | None) -> ReliabilityPolicy | None:
    """
    Return the reliability the image subscription should have (None: not known yet).

    ``setting`` is the ``qos_reliability`` parameter; ``auto`` matches the publishers (reliable
    only when all are) and keeps ``current`` while there is no publisher.
    """
    if setting == 'auto':
        if not publishers:
            return current
        reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                       for p in publishers)
        return ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT
    return ReliabilityPolicy.RELIABLE if setting == 'reliable' else ReliabilityPolicy.BEST_EFFORT


def incompatibility(publishers: Sequence[Any], subscription_qos: QoSProfile,
                    topic: str) -> str:
    """Return why no publisher of ``topic`` can reach the subscription, or '' when one can."""
    problems = []
    for publisher in publishers:
        compatibility, _ = qos_check_compatible(publisher.qos_profile, subscription_qos)
        if compatibility.name != 'ERROR':
            return ''
        problems.append(f'{publisher.node_namespace.rstrip("/")}/{publisher.node_name} '
                        f'publishes {publisher.qos_profile.reliability.name.lower()}')
    if not problems:
        return ''
    return (f'no compatible publisher on {topic}: {"; ".join(problems)}, the subscription is '
            f'{subscription_qos.reliability.name.lower()}')
