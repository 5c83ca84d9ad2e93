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
What the node knows about its input stream: the order of stamps and the frames DDS lost.

Pure Python (no rclpy), so the rules are unit-tested without a ROS graph; the node feeds them
the header stamps and the ``MessageInfo`` of each image.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import enum
from typing import Any

NS_PER_S = 1_000_000_000


class StampVerdict(enum.Enum):
    """How a frame's stamp relates to the last accepted one."""

    FIRST = 'first'
    IN_ORDER = 'in_order'
    OUT_OF_ORDER = 'out_of_order'  # a little older than the last frame: reject it
    JUMP_BACK = 'jump_back'  # much older: the clock stepped back, start again from it
    JUMP_FORWARD = 'jump_forward'  # much newer: accepted, reported

    @property
    def accepted(self) -> bool:
        return self is not StampVerdict.OUT_OF_ORDER

    @property
    def is_jump(self) -> bool:
        return self in (StampVerdict.JUMP_BACK, StampVerdict.JUMP_FORWARD)


@dataclass
class StampClock:
    """
    Ordering of frame stamps that survives a clock that jumps.

    A frame a little older than the last accepted one (up to ``max_reorder_s``) is a frame
    out of order and is rejected. A frame older than that is a clock that stepped back
    (sim time restarted, a bag looped, an NTP step): rejecting it would reject every frame
    from then on, so the clock starts again from it. A far-future stamp followed by normal
    ones is the same case seen from the other side: the next normal frame is a big step back
    and is accepted. A step forward by more than ``max_gap_s`` is accepted and reported.
    """

    max_reorder_s: float = 1.0
    max_gap_s: float = 3600.0
    last_ns: int | None = None

    def check(self, stamp_ns: int) -> StampVerdict:
        """Classify ``stamp_ns`` against the last accepted stamp (does not accept it)."""
        if self.last_ns is None:
            return StampVerdict.FIRST
        step_ns = stamp_ns - self.last_ns
        if step_ns < -self.max_reorder_s * NS_PER_S:
            return StampVerdict.JUMP_BACK
        if step_ns < 0:
            return StampVerdict.OUT_OF_ORDER
        if step_ns > self.max_gap_s * NS_PER_S:
            return StampVerdict.JUMP_FORWARD
        return StampVerdict.IN_ORDER

    def accept(self, stamp_ns: int) -> None:
        """Record ``stamp_ns`` as the newest frame processed."""
        self.last_ns = stamp_ns

    def reset(self) -> None:
        """Forget the last stamp (on activate and cleanup: a new stream may start anywhere)."""
        self.last_ns = None


@dataclass
class DeliveryGaps:
    """
    Frames each publisher sent that never reached the subscription callback.

    DDS numbers the samples of each writer 1, 2, 3 ...; a gap between the numbers the
    callback sees is frames lost on the way or overwritten in the reader's KEEP_LAST queue
    (Fast DDS reports neither as a ``message_lost`` event). Counting starts at the first
    sample seen from each publisher, so frames sent before the match are not counted.
    """

    last_sequence: dict[str, int] = field(default_factory=dict)

    def observe(self, message_info: Mapping[str, Any] | None) -> int:
        """Return how many samples of this publisher were skipped before this one."""
        if not message_info:
            return 0
        sequence = message_info.get('publication_sequence_number')
        if not isinstance(sequence, int) or sequence <= 0:
            return 0
        publisher = _publisher_key(message_info.get('publisher_gid'))
        previous = self.last_sequence.get(publisher)
        self.last_sequence[publisher] = max(sequence, previous or 0)
        if previous is None or sequence <= previous:
            return 0
        return sequence - previous - 1

    def reset(self) -> None:
        self.last_sequence.clear()


def _publisher_key(gid: Any) -> str:
    if isinstance(gid, Mapping):
        data = gid.get('data')
        return bytes(data).hex() if data is not None else repr(sorted(gid.items()))
    return repr(gid)
