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
Running judged cases against a node over DDS, and the report of what it said about them.

Used by ``test/ros/test_fuzz_dds.py`` (a short run) and ``mtl_stress fuzz`` (the long one): no
crash, every valid frame answered, every diagnostics counter equal to what was sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
import time
from typing import Any

from mtl_perception.ros.fuzz.cases import ANSWERED, CALLBACK, Case, INFO, WORKER


def node_status(diagnostics: list, namespace: str) -> Any:
    """Return the newest DiagnosticStatus of the node in ``namespace`` (or None)."""
    for array in reversed(diagnostics):
        for status in array.status:
            if status.name.startswith(f'{namespace}/'):
                return status
    return None


def status_values(status: Any) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values} if status is not None else {}


@dataclass
class FuzzReport:
    """What was sent and what the node said about it."""

    sent: Counter = field(default_factory=Counter)  # (topic, category) -> messages
    expected: Counter = field(default_factory=Counter)  # outcome -> messages
    valid_sent: int = 0
    valid_answered: int = 0
    unanswered: list = field(default_factory=list)  # (topic, category) of missing answers
    latency_ms: list = field(default_factory=list)
    counters_before: dict = field(default_factory=dict)
    counters_after: dict = field(default_factory=dict)
    duration_s: float = 0.0

    def counter(self, key: str) -> int:
        return int(float(self.counters_after.get(key, 0))) - int(float(
            self.counters_before.get(key, 0)))

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """Return {diagnostics key: (expected, reported)} for every counter that differs."""
        wanted = {
            'frames_processed': self.expected[ANSWERED],
            'frames_dropped': 0,
            'rejected_bad_image': self.expected['bad_image'],
            'rejected_out_of_order': self.expected['out_of_order'],
            'rejected_camera_info_invalid': self.expected['camera_info_invalid'],
            'rejected_camera_info_implausible': self.expected['camera_info_implausible'],
            'rejected_processing_error': 0,
            'clock_jump': self.expected['clock_jump'],
            'camera_info_received': sum(n for (topic, _), n in self.sent.items()
                                        if topic == 'camera_info'),
            'frames_received': sum(n for (topic, _), n in self.sent.items()
                                   if topic != 'camera_info'),
        }
        return {key: (value, self.counter(key)) for key, value in wanted.items()
                if self.counter(key) != value}


class FuzzRunner:
    """
    Sends cases to a running node and waits, per case, for the node's answer or its count.

    A frame the node answers is awaited on ``semantic/labels`` by its stamp; a frame the
    worker rejects is awaited in /diagnostics, so the next frame cannot replace it in the
    node's one-slot mailbox (that would be a drop, and the counts would not be exact).
    Callback-stage rejections need no wait; the subscription queue is deep enough for them.
    """

    def __init__(self, node: Any, namespace: str, spin: Callable[[float], None],
                 image_pub: Any, compressed_pub: Any, info_pub: Any,
                 answers: list, diagnostics: list) -> None:
        self.node, self.namespace, self.spin = node, namespace, spin
        self.publishers = {'image': image_pub, 'compressed': compressed_pub,
                           'camera_info': info_pub}
        self.answers, self.diagnostics = answers, diagnostics

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            self.spin(0.01)
            if condition():
                return True
        return condition()

    def values(self) -> dict[str, str]:
        return status_values(node_status(self.diagnostics, self.namespace))

    def fresh_values(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Counters from a diagnostics message published after this call."""
        for _ in range(2):
            self.diagnostics.clear()
            self.spin_until(lambda: node_status(self.diagnostics, self.namespace) is not None,
                            timeout_s)
        return self.values()

    def _counted(self, key: str, target: int, timeout_s: float) -> bool:
        return self.spin_until(lambda: int(float(self.values().get(key, 0))) >= target,
                               timeout_s)

    def run(self, cases: list[Case], answer_timeout_s: float = 15.0,
            progress: Callable[[int], None] | None = None) -> FuzzReport:
        report = FuzzReport()
        start = time.monotonic()
        report.counters_before = self.fresh_values()
        base = {key: int(float(value)) for key, value in report.counters_before.items()
                if key.startswith(('rejected_', 'camera_info_received'))}
        outcome_counts: Counter = Counter()
        info_sent = 0
        for index, case in enumerate(cases):
            report.sent[(case.topic, case.category)] += 1
            report.expected[case.expected] += 1
            if case.clock_jump:
                report.expected['clock_jump'] += 1
            message = case.message
            sent_at = time.monotonic()
            self.publishers[case.topic].publish(message)
            if case.stage == INFO:
                info_sent += 1
                if info_sent % 4 == 0:  # the CameraInfo queue is 5 deep and best effort
                    self._counted('camera_info_received',
                                  base.get('camera_info_received', 0) + info_sent, 10.0)
            elif case.expected == ANSWERED:
                report.valid_sent += 1
                stamp = message.header.stamp
                if self.spin_until(lambda s=stamp: any(a.header.stamp == s
                                                       for a in self.answers),
                                   answer_timeout_s):
                    report.valid_answered += 1
                    report.latency_ms.append((time.monotonic() - sent_at) * 1e3)
                else:
                    report.unanswered.append((case.topic, case.category))
                self.answers.clear()
            elif case.stage == WORKER:
                outcome_counts[case.expected] += 1
                key = f'rejected_{case.expected}'
                target = base.get(key, 0) + outcome_counts[case.expected]
                # Callback rejections of the same reason count too: wait for all of them.
                target += sum(1 for c in cases[:index] if c.stage == CALLBACK
                              and c.expected == case.expected)
                self._counted(key, target, answer_timeout_s)
            if progress is not None:
                progress(index + 1)
        self.spin_until(lambda: int(float(self.values().get('camera_info_received', 0)))
                        >= base.get('camera_info_received', 0) + info_sent, 10.0)
        time.sleep(0.5)
        report.counters_after = self.fresh_values()
        report.duration_s = time.monotonic() - start
        return report
