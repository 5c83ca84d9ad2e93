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
What the node must do with each hostile case: the node's own rules, applied in its order.

:class:`Oracle` applies the pure conversions and :class:`~mtl_perception.ros.stream.StampClock`
in the order the node does, so a run checks that the node, over DDS, does what its parts
promise; :func:`generate` yields judged cases, cycling through every mutation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from mtl_perception.ros.conversions import (
    camera_info_to_intrinsics,
    compressed_image_size,
    compressed_image_to_numpy,
    image_to_numpy,
    image_to_rgb,
    ImplausibleCameraInfo,
)
from mtl_perception.ros.fuzz.cases import (
    ANSWERED,
    as_received,
    CALLBACK,
    CAMERA_INFO_MUTATIONS,
    Case,
    COMPRESSED_MUTATIONS,
    IMAGE_MUTATIONS,
    INFO,
    stamp_ns_of,
    valid_camera_info,
    valid_compressed,
    valid_image,
    WORKER,
)
from mtl_perception.ros.node import MIN_IMAGE_SIDE_PX
from mtl_perception.ros.stream import NS_PER_S, StampClock, StampVerdict
import numpy as np

# ------------------------------------------------------------------------------------------
# The oracle: the node's rules, applied in the node's order
# ------------------------------------------------------------------------------------------


@dataclass
class Oracle:
    """What the node must report for each case, given everything sent before it."""

    clock: StampClock = field(default_factory=StampClock)

    def judge(self, case: Case) -> Case:
        message = case.message
        if case.topic == 'camera_info':
            case.stage = INFO
            try:
                camera_info_to_intrinsics(message)
                case.expected = 'accepted'
            except ImplausibleCameraInfo:
                case.expected = 'camera_info_implausible'
            except (ValueError, TypeError):
                case.expected = 'camera_info_invalid'
            return case
        compressed = case.topic == 'compressed'
        try:  # the callback's header checks
            if compressed:
                width, height = compressed_image_size(message)
            else:
                height, width = image_to_numpy(message).shape[:2]
            if min(width, height) < MIN_IMAGE_SIDE_PX:
                raise ValueError('smaller than the network takes')
        except (ValueError, TypeError):
            case.stage, case.expected = CALLBACK, 'bad_image'
            return case
        case.stage = WORKER
        stamp_ns = stamp_ns_of(message)
        verdict = self.clock.check(stamp_ns)
        if not verdict.accepted:
            case.expected = 'out_of_order'
            return case
        case.clock_jump = verdict in (StampVerdict.JUMP_BACK, StampVerdict.JUMP_FORWARD)
        try:
            if compressed:
                compressed_image_to_numpy(message)
            else:
                image_to_rgb(message)
        except (ValueError, TypeError):
            case.expected = 'bad_image'
            return case
        self.clock.accept(stamp_ns)
        case.expected = ANSWERED
        return case


def generate(topic: str, count: int, seed: int, start_stamp_s: float = 1000.0,
             oracle: Oracle | None = None) -> Iterator[Case]:
    """Yield ``count`` judged cases for ``topic``, cycling through every mutation."""
    rng = np.random.default_rng(seed)
    oracle = oracle or Oracle()
    make, mutations = {
        'image': (valid_image, IMAGE_MUTATIONS),
        'compressed': (valid_compressed, COMPRESSED_MUTATIONS),
        'camera_info': (valid_camera_info, CAMERA_INFO_MUTATIONS),
    }[topic]
    names = list(mutations)
    stamp_ns = int(start_stamp_s * NS_PER_S)
    for index in range(count):
        stamp_ns += 10_000_000  # 10 ms apart
        name = names[index % len(names)] if index < len(names) else str(rng.choice(names))
        message = make(rng, stamp_ns)
        mutations[name](message, rng)
        yield oracle.judge(Case(topic, name, as_received(message)))
