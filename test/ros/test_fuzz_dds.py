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
Seeded fuzzing of the node over real DDS: Image, CompressedImage and CameraInfo.

Every mutation of mtl_perception.ros.fuzz at least once per topic, then random ones, against
two node processes (raw and compressed input). Checks: no crash or traceback, every valid
frame answered, every diagnostics counter equal to what was sent. Bounded: the seeds and
counts are fixed and the whole module takes well under a minute (``mtl_stress fuzz`` runs the
1,000-per-topic version).
"""

import time
import uuid

import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
from mtl_perception.core.checkpoint import save_checkpoint  # noqa: E402
from mtl_perception.ros import fuzz  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from ros_harness import start_node, stop_node  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image  # noqa: E402
from toy_models import tiny_checkpoint_object  # noqa: E402

COUNTS = {'image': 120, 'compressed': 90, 'camera_info': 90}
DEEP = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                  history=HistoryPolicy.KEEP_LAST)


@pytest.fixture(scope='module')
def nodes(ros_env, tmp_path_factory):
    """Two node processes on a tiny model, started together: raw input and compressed."""
    model = save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')
    started = {}
    for kind in ('raw', 'compressed'):
        namespace = f'/f{uuid.uuid4().hex[:8]}'
        started[kind] = (namespace, start_node(
            namespace, {'model_path': model, 'qos_depth': 100, 'diagnostics_period_s': 0.1,
                        'use_compressed': kind == 'compressed'}, ros_env))
    yield started
    for _namespace, process in started.values():
        output = stop_node(process)
        assert 'Traceback' not in output, output[-3000:]


def _runner(node, namespace):
    answers, diagnostics = [], []
    node.create_subscription(Image, f'{namespace}/semantic/labels', answers.append, DEEP)
    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 100)
    image_pub = node.create_publisher(Image, f'{namespace}/image', DEEP)
    compressed_pub = node.create_publisher(CompressedImage, f'{namespace}/image/compressed',
                                           DEEP)
    info_pub = node.create_publisher(CameraInfo, f'{namespace}/camera_info', DEEP)
    runner = fuzz.FuzzRunner(node, namespace, lambda t: rclpy.spin_once(node, timeout_sec=t),
                             image_pub, compressed_pub, info_pub, answers, diagnostics)
    return runner


@pytest.mark.parametrize(('kind', 'topics'), [('raw', ('image', 'camera_info')),
                                              ('compressed', ('compressed',))])
def test_fuzzed_input_is_answered_or_counted_exactly(nodes, kind, topics):
    namespace, process = nodes[kind]
    node = rclpy.create_node(f'fuzzer_{kind}')
    try:
        runner = _runner(node, namespace)
        publisher = runner.publishers['compressed' if kind == 'compressed' else 'image']
        assert runner.spin_until(lambda: publisher.get_subscription_count() > 0, 90.0), (
            'the node never subscribed')
        oracle = fuzz.Oracle()
        cases = []
        for seed, topic in enumerate(topics):
            cases += list(fuzz.generate(topic, COUNTS[topic], seed=seed, oracle=oracle))
        # Mix the topics as a broken driver would; the oracle saw them in this order too.
        if len(topics) > 1:
            cases = [c for pair in zip(cases[:COUNTS[topics[0]]], cases[COUNTS[topics[0]]:])
                     for c in pair]
        start = time.monotonic()
        report = runner.run(cases)
        assert process.poll() is None, 'the node died'
        for topic in topics:  # every mutation at least once
            sent = {category for (kind_, category) in report.sent if kind_ == topic}
            assert sent == set(fuzz.MUTATIONS[topic]), set(fuzz.MUTATIONS[topic]) - sent
        assert report.valid_sent > 10
        assert not report.unanswered, report.unanswered
        assert report.mismatches() == {}, (report.mismatches(), dict(report.expected))
        assert time.monotonic() - start < 40.0
    finally:
        node.destroy_node()
