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
The node under clock jumps, driver restarts, hostile text, bad parameters and overload.

Real node process, real Fast DDS: each test reproduces one defect of issue 12 as a user would
meet it, and reads the node's own account of it from /diagnostics.
"""

import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
from mtl_perception.core.checkpoint import save_checkpoint  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from ros_harness import camera_info, Probe, rgb_image, start_node, stop_node  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

WIDTH, HEIGHT = 64, 48  # the tiny model's input: cheap frames


@pytest.fixture(scope='module')
def model_path(tmp_path_factory):
    from toy_models import tiny_checkpoint_object

    return save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')


class Camera:
    """The node under test plus a camera-side probe that records labels and diagnostics."""

    def __init__(self, env, model_path, params=None, name='probe'):
        self.namespace = f'/h{uuid.uuid4().hex[:8]}'
        self.process = start_node(
            self.namespace, {'model_path': model_path, 'diagnostics_period_s': 0.2,
                             **(params or {})}, env,
            remaps={'image': f'{self.namespace}/cam/image',
                    'camera_info': f'{self.namespace}/cam/camera_info'})
        self.probe = Probe(f'{self.namespace}/cam', name=name)
        self.probe.record(f'{self.namespace}/semantic/labels', Image, key='labels')
        self.probe.record('/diagnostics', DiagnosticArray, key='diagnostics')

    def answered(self, stamp, timeout_s=20.0):
        def seen():
            return any(m.header.stamp == stamp for m in self.probe.received['labels'])
        return self.probe.spin_until(seen, timeout_s)

    def send(self, stamp_s, publisher=None):
        message = rgb_image(np.full((HEIGHT, WIDTH, 3), 90, np.uint8), stamp_s)
        (publisher or self.probe.image_pub).publish(message)
        return message.header.stamp

    def status(self):
        for array in reversed(self.probe.received['diagnostics']):
            for status in array.status:
                if status.name.startswith(self.namespace):
                    return status
        return None

    def values(self):
        status = self.status()
        return {kv.key: kv.value for kv in status.values} if status else {}

    def fresh_values(self, timeout_s=5.0):
        """Diagnostics published after this call (the counters include everything sent)."""
        self.probe.received['diagnostics'].clear()
        self.probe.spin_until(lambda: self.status() is not None, timeout_s)
        self.probe.received['diagnostics'].clear()
        self.probe.spin_until(lambda: self.status() is not None, timeout_s)
        return self.values()

    def settled_values(self, timeout_s=15.0):
        """Diagnostics once the frame counters stop moving (no frame is still in flight)."""
        end = time.monotonic() + timeout_s
        previous = None
        while True:
            values = self.fresh_values()
            counters = {k: v for k, v in values.items() if k.startswith('frames')}
            if counters == previous or time.monotonic() > end:
                return values
            previous = counters

    def close(self):
        self.probe.destroy()
        return stop_node(self.process)


@pytest.fixture(scope='module')
def camera(ros_env, model_path):
    camera = Camera(ros_env, model_path)
    if not camera.probe.wait_for_subscriber(90.0):
        pytest.fail(f'the node never subscribed:\n{camera.close()}')
    yield camera
    output = camera.close()
    assert 'Traceback' not in output, output[-3000:]


def test_a_clock_jump_back_or_ahead_loses_at_most_no_frame(camera):
    assert camera.answered(camera.send(50_000.0), 60.0)
    before = int(camera.fresh_values().get('clock_jump', 0))
    # -1 h (a looped bag, sim time restarted), then +1 day, then back to normal time.
    for stamp_s in (50_001.0, 50_001.0 - 3600.0, 50_002.0 - 3600.0, 50_002.0 + 86_400.0,
                    50_003.0 - 3600.0, 50_004.0 - 3600.0):
        assert camera.answered(camera.send(stamp_s)), f'frame at {stamp_s} s not answered'
    values = camera.fresh_values()
    assert int(values['clock_jump']) - before == 3, values


def test_frames_a_little_out_of_order_are_still_rejected(camera):
    assert camera.answered(camera.send(60_000.0), 60.0)
    before = int(camera.fresh_values().get('rejected_out_of_order', 0))
    late = camera.send(59_999.5)
    assert not camera.answered(late, 2.0)
    assert int(camera.fresh_values().get('rejected_out_of_order', 0)) == before + 1


def test_a_driver_restarted_with_other_reliability_is_matched_again(camera):
    """`qos_reliability: auto` follows the publishers, not only the first one it saw."""
    probe = camera.probe
    assert camera.answered(camera.send(70_000.0), 60.0)
    probe.node.destroy_publisher(probe.image_pub)
    best_effort = probe.node.create_publisher(
        Image, f'{camera.namespace}/cam/image',
        QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))
    try:
        answered = False
        for index in range(40):  # the node re-checks its publishers every second
            if camera.answered(camera.send(70_001.0 + index, best_effort), 0.5):
                answered = True
                break
        assert answered, 'a best-effort driver got no answer after a reliable one'
    finally:
        probe.node.destroy_publisher(best_effort)
        probe.image_pub = probe.node.create_publisher(
            Image, f'{camera.namespace}/cam/image', 10)
    for index in range(40):  # and back to a reliable driver
        if camera.answered(camera.send(70_100.0 + index), 0.5):
            break
    else:
        pytest.fail('a reliable driver got no answer after a best-effort one')


def test_an_implausible_camera_info_is_counted(camera):
    before = int(camera.fresh_values().get('rejected_camera_info_implausible', 0))
    for fx in (5e-324, 1e300):
        camera.probe.info_pub.publish(camera_info(WIDTH, HEIGHT, fx=fx))
    wild = camera_info(WIDTH, HEIGHT)
    wild.k[2] = 1e9  # cx a billion pixels off the image
    camera.probe.info_pub.publish(wild)
    # A frame the node answers comes after the three CameraInfos. Several tries: `auto`
    # reliability may still be re-creating the image subscription after the previous test's
    # driver switch, and a frame sent in that moment is lost before any counter sees it.
    assert any(camera.answered(camera.send(80_000.0 + index), 2.0) for index in range(30))
    assert camera.probe.spin_until(lambda: int(camera.values().get(
        'rejected_camera_info_implausible', 0)) == before + 3, 10.0), camera.values()


def test_attacker_text_is_bounded_and_sanitised_in_the_log(ros_env, model_path):
    camera = Camera(ros_env, model_path, name='probe_text')
    try:
        assert camera.probe.wait_for_subscriber(90.0)
        hostile = rgb_image(np.zeros((4, 4, 3), np.uint8), 1.0)
        hostile.encoding = 'A' * 72_537 + '\n[FATAL] forged line'
        camera.probe.image_pub.publish(hostile)
        assert camera.probe.spin_until(
            lambda: int(camera.values().get('rejected_bad_image', 0)) >= 1, 20.0)
    finally:
        output = camera.close()
    lines = output.splitlines()
    rejected = [line for line in lines if 'unsupported image encoding' in line]
    assert rejected, output[-2000:]
    assert max(len(line) for line in lines) < 2000
    assert not any(line.startswith('[FATAL] forged line') for line in lines)


def test_a_publisher_the_subscription_cannot_hear_is_a_warning(ros_env, model_path):
    camera = Camera(ros_env, model_path, {'qos_reliability': 'reliable'}, name='probe_qos')
    probe = camera.probe
    try:
        probe.node.destroy_publisher(probe.image_pub)
        probe.image_pub = probe.node.create_publisher(
            Image, f'{camera.namespace}/cam/image',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT))

        def warned():
            status = camera.status()
            return status is not None and status.level == b'\x01' and (
                'no compatible publisher' in status.message)
        assert probe.spin_until(warned, 60.0), camera.status()
        assert 'best_effort' in camera.status().message
    finally:
        output = camera.close()
    assert 'Traceback' not in output


@pytest.mark.parametrize(('arguments', 'expected'), [
    (['-p', 'qos_depth:=0'], 'qos_depth = 0 is out of range; qos_depth takes an integer in '
                             '[1, 100]'),
    (['-p', 'max_range_m:=5'], 'max_range_m takes a float in [0.1, 1000]'),
    (['-p', 'device:=tpu'], 'device takes one of auto, cuda, cpu'),
    (['--params-file', 'BROKEN'], 'is not valid YAML at line 4'),
    (['--params-file', 'MIXED'], "Couldn't parse params file"),
    (['--params-file', 'WRONG_TYPE'], 'qos_depth = many is of type string, not integer'),
    (['--params-file', 'MISSING'], 'cannot read params file'),
])
def test_bad_parameters_give_one_line_and_exit_code_2(ros_env, tmp_path, arguments, expected):
    files = {'BROKEN': '/**:\n  ros__parameters:\n    qos_depth: [1,\n',
             'MIXED': '/**:\n  ros__parameters:\n    qos_depth: [1,\n  x: ]\n',
             'WRONG_TYPE': '/**:\n  ros__parameters:\n    qos_depth: "many"\n'}
    for key, text in files.items():
        (tmp_path / f'{key}.yaml').write_text(text)
    arguments = [str(tmp_path / f'{a}.yaml') if a in (*files, 'MISSING') else a
                 for a in arguments]
    result = subprocess.run(
        [sys.executable, '-m', 'mtl_perception.ros.node', '--ros-args', *arguments],
        env=ros_env, capture_output=True, text=True, timeout=120)
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert 'Traceback' not in output
    assert len(output.splitlines()) == 1, output
    assert expected in output, output


def test_overload_drops_are_all_counted(camera):
    """Every frame sent is answered, rejected or counted as dropped, wherever it was lost."""
    assert camera.answered(camera.send(90_000.0), 60.0)
    # Under a loaded CPU the counters of the frame just answered (or of an earlier test's
    # last frames) can land after the first fresh diagnostics: start from settled ones.
    before = camera.settled_values()
    sent = 300
    pixels = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for index in range(sent):  # as fast as the probe can publish: far above the node's rate
        camera.probe.image_pub.publish(rgb_image(pixels, 90_001.0 + index * 0.01))
    last = camera.send(90_010.0)
    sent += 1
    assert camera.answered(last, 60.0)

    def delta(key):
        return int(camera.values().get(key, 0)) - int(before.get(key, 0))

    def accounted():
        return (delta('frames_processed') + delta('frames_dropped')
                + delta('frames_rejected'))

    # The last frame is answered; the counters of the frames before it may still be on the way.
    assert camera.probe.spin_until(lambda: accounted() == sent, 10.0), {
        k: delta(k) for k in camera.values() if k.startswith('frames')}
    assert delta('frames_dropped') > 0
