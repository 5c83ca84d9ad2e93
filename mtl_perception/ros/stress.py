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
Long runs against the node over DDS: fuzz, overload and soak, with the node's memory and latency.

The library side of ``mtl_stress``: each run starts the node as a process (as ``ros2 run``
would), drives it from an in-process camera, samples the node's RSS from /proc and returns a
dictionary of figures that the tool writes into docs/reliability.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
import time
from typing import Any
import uuid

from diagnostic_msgs.msg import DiagnosticArray
from mtl_perception.core.metrics import percentile
from mtl_perception.ros import fuzz
from mtl_perception.ros.conversions import numpy_to_image
from mtl_perception.ros.processes import isolated_ros_env, start_node, stop_node, use_env
import numpy as np
import rclpy
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from visualization_msgs.msg import MarkerArray


def rss_kb(pid: int) -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of a process in kB: its resident memory now and at its peak."""
    values = {}
    with open(f'/proc/{pid}/status', encoding='ascii') as status:
        for line in status:
            key, _, rest = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                values[key] = int(rest.split()[0])
    return values.get('VmRSS', 0), values.get('VmHWM', 0)


@dataclass
class Bench:
    """A node process and an in-process camera with recorders, in a private ROS domain."""

    params: dict[str, Any]
    outputs: tuple[str, ...] = ('semantic/labels',)
    namespace: str = field(default_factory=lambda: f'/s{uuid.uuid4().hex[:8]}')

    def __enter__(self) -> Bench:
        env = isolated_ros_env()
        use_env(env)
        rclpy.init()
        self.process = start_node(self.namespace, self.params, env)
        self.node = rclpy.create_node('mtl_stress')
        deep = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                          history=HistoryPolicy.KEEP_LAST)
        kinds = {'semantic/labels': Image, 'depth': Image, 'instances/points': PointCloud2,
                 'instances/markers': MarkerArray}
        self.answers: list = []
        self.answer_times: dict[tuple[int, int], float] = {}

        def on_answer(message: Any) -> None:
            stamp = message.header.stamp
            self.answer_times.setdefault((stamp.sec, stamp.nanosec), time.monotonic())
            self.answers.append(message)

        self.node.create_subscription(Image, f'{self.namespace}/semantic/labels', on_answer,
                                      deep)
        for topic in self.outputs:
            if topic != 'semantic/labels':
                self.node.create_subscription(kinds[topic], f'{self.namespace}/{topic}',
                                              lambda m: None, 10)
        self.diagnostics: list = []
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self.diagnostics.append,
                                      100)
        self.image_pub = self.node.create_publisher(Image, f'{self.namespace}/image', deep)
        self.compressed_pub = self.node.create_publisher(
            CompressedImage, f'{self.namespace}/image/compressed', deep)
        self.info_pub = self.node.create_publisher(CameraInfo, f'{self.namespace}/camera_info',
                                                   deep)
        self.runner = fuzz.FuzzRunner(
            self.node, self.namespace, self.spin, self.image_pub, self.compressed_pub,
            self.info_pub, self.answers, self.diagnostics)
        publisher = self.compressed_pub if self.params.get('use_compressed') else self.image_pub
        if not self.runner.spin_until(lambda: publisher.get_subscription_count() > 0, 120.0):
            output = self.close()
            raise RuntimeError(f'the node never subscribed to its camera:\n{output[-2000:]}')
        return self

    def spin(self, timeout_s: float) -> None:
        rclpy.spin_once(self.node, timeout_sec=timeout_s)

    def rss(self) -> tuple[int, int]:
        return rss_kb(self.process.pid)

    def close(self) -> str:
        self.output = stop_node(self.process, timeout_s=30.0)
        self.node.destroy_node()
        rclpy.try_shutdown()
        return self.output

    def __exit__(self, *exc: object) -> None:
        if not hasattr(self, 'output'):
            self.close()

    def warm_up(self, frame: Any, count: int = 20) -> float:
        """Answer ``count`` frames one by one; return the node's rate in frames per second."""
        start = time.monotonic()
        answered = 0
        for index in range(count):
            message = fuzz.clone(frame)
            message.header.stamp.sec = 10 + index
            self.answers.clear()
            self.image_pub.publish(message)
            if self.runner.spin_until(lambda: bool(self.answers), 30.0):
                answered += 1
        return answered / max(1e-6, time.monotonic() - start)


def crash_report(bench: Bench) -> dict[str, Any]:
    output = bench.output if hasattr(bench, 'output') else ''
    return {'crashed': int(bench.process.poll() not in (None, 0, -2)),
            'tracebacks': output.count('Traceback')}


def test_frame(width: int = 320, height: int = 240, seed: int = 0) -> Any:
    rows, columns = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    pixels = np.stack([rows * 255 // height, columns * 255 // width,
                       rng.integers(0, 255, (height, width))], axis=2).astype(np.uint8)
    frame = numpy_to_image(pixels, 'rgb8')
    frame.header.frame_id = 'camera_optical_frame'
    return frame


def run_fuzz(model: str, per_topic: int, seed: int,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Send ``per_topic`` hostile messages per input topic; return the figures."""
    results: dict[str, Any] = {'per_topic': per_topic, 'seed': seed, 'runs': []}
    for kind, topics in (('raw', ('image', 'camera_info')), ('compressed', ('compressed',))):
        params = {'model_path': model, 'qos_depth': 100, 'diagnostics_period_s': 0.1,
                  'use_compressed': kind == 'compressed'}
        with Bench(params) as bench:
            bench.warm_up(test_frame(), 5)
            resting_kb, _ = bench.rss()
            oracle = fuzz.Oracle()
            cases = []
            for offset, topic in enumerate(topics):
                cases += list(fuzz.generate(topic, per_topic, seed + offset, 1000.0, oracle))
            if len(topics) > 1:
                cases = [c for pair in zip(cases[:per_topic], cases[per_topic:]) for c in pair]
            log(f'fuzz {kind}: {len(cases)} messages')
            report = bench.runner.run(cases, progress=lambda n: n % 500 or log(f'  {n} sent'))
            _, peak_kb = bench.rss()
            bench.close()
            results['runs'].append({
                'node': kind, 'topics': topics, 'sent': report.sent,
                'expected': report.expected, 'valid_sent': report.valid_sent,
                'valid_answered': report.valid_answered, 'mismatches': report.mismatches(),
                'counters': {k: report.counter(k) for k in report.counters_after
                             if k.startswith(('frames_', 'rejected_', 'clock_jump',
                                              'camera_info_received'))
                             and not k.endswith(('_hz', 'last_period'))},
                'resting_rss_mb': resting_kb / 1024, 'peak_rss_mb': peak_kb / 1024,
                'duration_s': report.duration_s, 'latency_p50_ms': percentile(
                    report.latency_ms, 50), **crash_report(bench)})
    return results


def _stream(bench: Bench, frame: Any, rate_hz: float, seconds: float, start_stamp_s: float,
            on_second: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Publish ``frame`` at ``rate_hz`` for ``seconds``; answers and RSS samples as they come."""
    period = 1.0 / rate_hz
    sent_at: dict[tuple[int, int], float] = {}
    rss_samples: list[tuple[float, int]] = []
    start = time.monotonic()
    next_send = start
    next_sample = start
    index = 0
    bench.answer_times.clear()
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        if now >= next_send:
            stamp_ns = int((start_stamp_s + index * period) * 1e9)
            message = frame  # one message object: only its stamp changes
            message.header.stamp.sec, message.header.stamp.nanosec = divmod(stamp_ns, 10**9)
            bench.image_pub.publish(message)
            sent_at[(message.header.stamp.sec, message.header.stamp.nanosec)] = time.monotonic()
            index += 1
            next_send += period
            if next_send < now - 1.0:  # fell behind by a second: do not burst to catch up
                next_send = now
        if now >= next_sample:
            rss_samples.append((now - start, bench.rss()[0]))
            next_sample += 5.0
            if on_second is not None:
                on_second(now - start)
        bench.spin(max(0.0, min(next_send - time.monotonic(), 0.005)))
    streamed_s = time.monotonic() - start
    end = time.monotonic() + 5.0  # the answers still in flight
    while time.monotonic() < end and len(bench.answer_times) < len(sent_at):
        bench.spin(0.01)
    latencies = [(sent_at[key] - start, (answered - sent_at[key]) * 1e3)
                 for key, answered in bench.answer_times.items() if key in sent_at]
    return {'sent': len(sent_at), 'answered': len(latencies), 'latencies': latencies,
            'rss_samples': rss_samples, 'seconds': streamed_s}


def _counters(values: dict[str, str]) -> dict[str, int]:
    return {key: int(float(value)) for key, value in values.items()
            if key.startswith(('frames_', 'rejected_', 'clock_jump', 'dds_'))
            and not key.endswith(('_hz', 'last_period'))}


def run_overload(model: str, seconds: float, factor: float,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure the node's rate, then send ``factor`` times that for ``seconds``."""
    with Bench({'model_path': model}, outputs=('semantic/labels', 'depth',
                                               'instances/points')) as bench:
        frame = test_frame()
        rate = bench.warm_up(frame, 20)
        resting_kb, _ = bench.rss()
        log(f'overload: the node answers {rate:.1f} frames/s one at a time; sending '
            f'{rate * factor:.1f}/s for {seconds:.0f} s')
        before = _counters(bench.runner.fresh_values())
        stream = _stream(bench, frame, rate * factor, seconds, 1000.0)
        time.sleep(1.0)
        after = _counters(bench.runner.fresh_values())
        _, peak_kb = bench.rss()
        bench.close()
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    return {'rate_hz': rate, 'factor': factor, 'seconds': stream['seconds'],
            'sent': stream['sent'], 'answered': stream['answered'], 'counters': delta,
            'latency_p50_ms': percentile([ms for _, ms in stream['latencies']], 50),
            'latency_p99_ms': percentile([ms for _, ms in stream['latencies']], 99),
            'resting_rss_mb': resting_kb / 1024, 'peak_rss_mb': peak_kb / 1024,
            **crash_report(bench)}


def run_soak(model: str, minutes: float, rate_hz: float,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Send frames at ``rate_hz`` for ``minutes``; RSS and latency per minute."""
    with Bench({'model_path': model}, outputs=('semantic/labels', 'depth',
                                               'instances/points', 'instances/markers')) as bench:
        frame = test_frame()
        bench.warm_up(frame, 20)
        resting_kb, _ = bench.rss()
        before = _counters(bench.runner.fresh_values())
        last_logged = [0]

        def progress(elapsed_s: float) -> None:
            if elapsed_s // 60 > last_logged[0]:
                last_logged[0] = int(elapsed_s // 60)
                log(f'soak: {last_logged[0]} min, RSS {bench.rss()[0] / 1024:.0f} MB')

        stream = _stream(bench, frame, rate_hz, minutes * 60.0, 1000.0, progress)
        time.sleep(1.0)
        after = _counters(bench.runner.fresh_values())
        _, peak_kb = bench.rss()
        bench.close()
    per_minute: dict[int, list[float]] = {}
    for sent_s, latency_ms in stream['latencies']:
        per_minute.setdefault(int(sent_s // 60), []).append(latency_ms)
    rss_per_minute: dict[int, list[int]] = {}
    for at_s, kb in stream['rss_samples']:
        rss_per_minute.setdefault(int(at_s // 60), []).append(kb)
    minutes_seen = sorted(per_minute)
    first_rss = np.mean(rss_per_minute[min(rss_per_minute)]) / 1024
    last_rss = np.mean(rss_per_minute[max(rss_per_minute)]) / 1024
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    return {
        'rate_hz': rate_hz, 'minutes': stream['seconds'] / 60.0, 'sent': stream['sent'],
        'answered': stream['answered'], 'counters': delta,
        'per_minute': [{'minute': m + 1, 'answered': len(per_minute[m]),
                        'p50_ms': percentile(per_minute[m], 50),
                        'p99_ms': percentile(per_minute[m], 99),
                        'rss_mb': float(np.mean(rss_per_minute.get(m, [0]))) / 1024}
                       for m in minutes_seen],
        'resting_rss_mb': resting_kb / 1024, 'peak_rss_mb': peak_kb / 1024,
        'rss_first_minute_mb': float(first_rss), 'rss_last_minute_mb': float(last_rss),
        'rss_growth_pct': float((last_rss - first_rss) / first_rss * 100.0),
        **crash_report(bench)}


def summarise_counts(sent: Counter) -> dict[str, int]:
    """Messages per topic from a (topic, category) counter."""
    totals: Counter = Counter()
    for (topic, _), count in sent.items():
        totals[topic] += count
    return dict(totals)
