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
The node's /diagnostics: frame counters, latency percentiles, and the status they add up to.

The node counts into a :class:`FrameStats` (from its callbacks and its worker) and publishes
:func:`diagnostic_array` on a timer; what a level and message mean lives here, in one place.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
import time
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from mtl_perception.core.metrics import percentile
from mtl_perception.ros import conversions


@dataclass
class FrameStats:
    """Counters and latency samples for /diagnostics (written by two threads, read by one)."""

    received: int = 0
    processed: int = 0
    dropped: int = 0
    rejected: Counter = field(default_factory=Counter)
    degraded: Counter = field(default_factory=Counter)  # processed, but with a fallback
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=500))
    forward_ms: deque = field(default_factory=lambda: deque(maxlen=500))
    window_start: float = field(default_factory=time.monotonic)
    window_received: int = 0
    window_processed: int = 0
    window_rejected: int = 0
    dropped_in_dds: int = 0  # sequence-number gaps: lost in transit or in the reader queue
    dds_messages_lost: int = 0  # the subscription's message_lost QoS event
    clock_jumps: int = 0
    window_clock_jumps: int = 0
    camera_info_received: int = 0

    def reject(self, reason: str) -> None:
        """Count a message rejected for ``reason``."""
        self.rejected[reason] += 1
        self.window_rejected += 1

    def take_values(self, now: float) -> dict[str, Any]:
        """Return the counters and rates since the last call, and start a new rate window."""
        window = max(1e-6, now - self.window_start)
        values: dict[str, Any] = {
            'frames_received': self.received,
            'frames_processed': self.processed,
            'frames_dropped': self.dropped,
            'frames_rejected': sum(self.rejected.values()),
            'frames_dropped_dds': self.dropped_in_dds,
            'dds_messages_lost': self.dds_messages_lost,
            'clock_jump': self.clock_jumps,
            'camera_info_received': self.camera_info_received,
            'input_rate_hz': self.window_received / window,
            'processed_rate_hz': self.window_processed / window,
            'latency_p50_ms': percentile(self.latency_ms, 50),
            'latency_p90_ms': percentile(self.latency_ms, 90),
            'latency_p99_ms': percentile(self.latency_ms, 99),
            'forward_p50_ms': percentile(self.forward_ms, 50),
        }
        values.update({f'rejected_{k}': v for k, v in sorted(self.rejected.items())})
        values.update({f'degraded_{k}': v for k, v in sorted(self.degraded.items())})
        values['rejected_last_period'] = self.window_rejected
        values['clock_jump_last_period'] = self.window_clock_jumps
        self.window_start, self.window_received, self.window_processed = now, 0, 0
        self.window_rejected = 0
        self.window_clock_jumps = 0
        return values


def status(values: dict[str, Any], loaded: bool, load_error: str, qos_problem: str
           ) -> tuple[int, str]:
    """Return the (level, message) of the node's status: 0 OK, 1 WARN, 2 ERROR."""
    if not loaded and load_error:
        return 2, f'no model loaded: {load_error}'
    if not loaded:
        return 0, 'inactive'
    if qos_problem:
        return 1, qos_problem
    if values['rejected_last_period']:
        return 1, f'rejected {values["rejected_last_period"]} messages recently'
    if values['clock_jump_last_period']:
        return 1, 'the image stamps jumped (clock reset); processing goes on'
    if values['input_rate_hz'] == 0.0:
        return 0, 'waiting for images'
    return 0, 'running'


def diagnostic_array(name: str, values: dict[str, Any], level: int, message: str,
                     stamp: Time) -> DiagnosticArray:
    """Return a DiagnosticArray holding the one status ``name`` (hardware id: the device)."""
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [conversions.diagnostic_status(
        name, values, level=level, message=message, hardware_id=values['device'])]
    return array
