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
The node end to end over real Fast DDS.

A process running mtl_perception_node, a test-side camera at default QoS, and recorders for
every output.
"""

import math
import time
import uuid

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I100
from mtl_perception.core.checkpoint import save_checkpoint  # noqa: E402
from mtl_perception.ros import conversions  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from ros_harness import camera_info, Probe, rgb_image, start_node, stop_node  # noqa: E402
from sensor_msgs.msg import Image, PointCloud2  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

OUTPUTS = {
    'semantic/labels': Image, 'semantic/color': Image, 'depth': Image,
    'instances/points': PointCloud2, 'instances/markers': MarkerArray, 'instances/ids': Image,
    'uncertainty/semantic': Image, 'uncertainty/task_sigmas': Float32MultiArray,
}


@pytest.fixture(scope='module')
def running_node(ros_env, tmp_path_factory):
    """Yield the node on a tiny random-weight model: tests its plumbing, not its accuracy."""
    from toy_models import tiny_checkpoint_object

    path = save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')
    namespace = f'/t{uuid.uuid4().hex[:8]}'
    process = start_node(namespace, {'model_path': path, 'instance_min_pixels': 1,
                                     'diagnostics_period_s': 0.5},
                         ros_env, remaps={'image': f'{namespace}/cam/image',
                                          'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam')
    for topic, kind in OUTPUTS.items():
        probe.record(f'{namespace}/{topic}', kind, key=topic,
                     latched=topic == 'uncertainty/task_sigmas')
    probe.record('/diagnostics', DiagnosticArray, key='diagnostics')
    if not probe.wait_for_subscriber(90.0):
        output = stop_node(process)
        pytest.fail(f'the node never subscribed to the camera:\n{output}')
    yield namespace, probe, process
    probe.destroy()
    output = stop_node(process)
    assert 'Traceback' not in output, output


def _send(probe, width, height, stamp_s, pixels=None, fx=None):
    if pixels is None:
        pixels = np.random.default_rng(int(stamp_s * 10)).integers(
            0, 255, (height, width, 3), dtype=np.uint8)
    info = camera_info(width, height, fx=fx)
    info.header.stamp = rgb_image(pixels[:1, :1], stamp_s).header.stamp
    probe.info_pub.publish(info)
    message = rgb_image(pixels, stamp_s)
    probe.image_pub.publish(message)
    return message


def _latest_for(probe, stamp, topics):
    def matches(message):
        if isinstance(message, MarkerArray):
            if not message.markers:
                return False
            message = message.markers[0]
        return (message.header.stamp.sec, message.header.stamp.nanosec) == (
            stamp.sec, stamp.nanosec)

    return probe.spin_until(lambda: all(any(matches(m) for m in probe.received[t])
                                        for t in topics), 60.0)


def test_every_output_has_the_right_format_and_header(running_node):
    namespace, probe, _ = running_node
    sent = _send(probe, 160, 120, stamp_s=100.0)
    topics = [t for t in OUTPUTS if t != 'uncertainty/task_sigmas']
    assert _latest_for(probe, sent.header.stamp, topics), {t: len(v) for t, v in
                                                           probe.received.items()}

    def get(topic):
        return [m for m in probe.received[topic] if m.header.stamp == sent.header.stamp][-1]

    labels = get('semantic/labels')
    assert (labels.encoding, labels.width, labels.height) == ('mono8', 160, 120)
    assert labels.header.frame_id == 'camera_optical_frame'
    assert conversions.image_to_numpy(labels).max() < 8
    colour = get('semantic/color')
    assert (colour.encoding, colour.width, colour.height) == ('rgb8', 160, 120)
    depth = get('depth')
    assert (depth.encoding, depth.width, depth.height) == ('32FC1', 160, 120)
    depth_m = conversions.image_to_numpy(depth)
    finite = depth_m[np.isfinite(depth_m)]
    assert finite.size == 0 or (finite > 0).all()
    uncertainty = conversions.image_to_numpy(get('uncertainty/semantic'))
    assert ((uncertainty >= 0) & (uncertainty <= 1)).all()
    ids = get('instances/ids')
    assert (ids.encoding, ids.width, ids.height) == ('16UC1', 160, 120)
    cloud = get('instances/points')
    points = conversions.pointcloud2_to_structured(cloud)
    assert {f.name for f in cloud.fields} >= {'x', 'y', 'z', 'rgb', 'label', 'instance'}
    assert cloud.header.frame_id == 'camera_optical_frame'
    assert np.isfinite(points['z']).all() and (points['z'] > 0).all()
    markers = [m for m in probe.received['instances/markers']
               if m.markers and m.markers[0].header.stamp == sent.header.stamp][-1]
    assert markers.markers[0].action == markers.markers[0].DELETEALL
    assert probe.spin_until(lambda: probe.received['uncertainty/task_sigmas'], 10.0)
    sigmas = probe.received['uncertainty/task_sigmas'][-1]
    assert sigmas.layout.dim[0].label == 'semantic,instance,depth'
    assert sigmas.data[2] == pytest.approx(math.exp(-1.0), rel=1e-4)


@pytest.mark.parametrize('size', [(640, 480), (1280, 720)])
def test_full_size_frames_from_a_default_driver_arrive(running_node, size):
    namespace, probe, _ = running_node
    width, height = size
    stamps = []
    for index in range(5):
        stamps.append(_send(probe, width, height, stamp_s=200.0 + size[0] + index).header.stamp)
        probe.spin_until(lambda: False, 0.3)
    arrived = probe.spin_until(lambda: any(
        m.header.stamp in stamps and m.width == width for m in probe.received['depth']), 60.0)
    assert arrived, f'no {width}x{height} frame made it through the node'


def _diagnostic_values(probe):
    for array in reversed(probe.received['diagnostics']):
        for status in array.status:
            if status.name.endswith('perception'):
                return {kv.key: kv.value for kv in status.values}
    return {}


def test_bad_messages_are_rejected_and_counted_and_the_node_keeps_going(running_node):
    namespace, probe, process = running_node
    bad = []
    wrong_encoding = rgb_image(np.zeros((8, 8, 3), np.uint8), 300.0)
    wrong_encoding.encoding = 'xyz123'
    bad.append(wrong_encoding)
    short = rgb_image(np.zeros((16, 16, 3), np.uint8), 301.0)
    short.height = 64
    bad.append(short)
    zero = rgb_image(np.zeros((8, 8, 3), np.uint8), 302.0)
    zero.width = 0
    bad.append(zero)
    absurd = rgb_image(np.zeros((8, 8, 3), np.uint8), 303.0)
    absurd.width, absurd.height, absurd.step = 100000, 100000, 300000
    bad.append(absurd)
    for message in bad:
        probe.image_pub.publish(message)
        probe.spin_until(lambda: False, 0.2)
    zero_focal = camera_info(160, 120, fx=0.0)
    probe.info_pub.publish(zero_focal)
    latest = _send(probe, 160, 120, stamp_s=9_999.0)
    assert _latest_for(probe, latest.header.stamp, ['semantic/labels'])
    # Half a second older than the last frame: out of order (a step back of more than a
    # second is a clock jump, which is accepted; see test_node_hostile.py).
    old = rgb_image(np.zeros((120, 160, 3), np.uint8), 9_998.5)
    probe.image_pub.publish(old)
    probe.spin_until(lambda: False, 0.5)
    good = _send(probe, 160, 120, stamp_s=10_000.0)
    assert _latest_for(probe, good.header.stamp, ['semantic/labels', 'depth'])
    assert process.poll() is None

    def counted():
        values = _diagnostic_values(probe)
        return (int(values.get('rejected_bad_image', 0)) >= 4
                and int(values.get('rejected_camera_info_invalid', 0)) >= 1
                and int(values.get('rejected_out_of_order', 0)) >= 1)

    rejected = {k: v for k, v in _diagnostic_values(probe).items() if 'reject' in k}
    assert probe.spin_until(counted, 10.0), rejected
    values = _diagnostic_values(probe)
    assert int(values['frames_processed']) >= 2
    assert values['device'] == 'cpu'
    assert float(values['latency_p50_ms']) > 0


def test_thresholds_change_at_run_time_and_bad_values_are_refused(running_node):
    namespace, probe, _ = running_node
    client = probe.node.create_client(SetParameters, f'{namespace}/mtl_perception/set_parameters')
    assert client.wait_for_service(timeout_sec=20.0)

    def set_value(name, value):
        parameter = Parameter(name=name)
        if isinstance(value, str):
            parameter.value = ParameterValue(type=ParameterType.PARAMETER_STRING,
                                             string_value=value)
        else:
            parameter.value = ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                             double_value=value)
        future = client.call_async(SetParameters.Request(parameters=[parameter]))
        probe.spin_until(future.done, 10.0)
        return future.result().results[0]

    assert set_value('max_range_m', 5.0).successful
    assert not set_value('max_range_m', 5000.0).successful  # outside the declared range
    assert not set_value('instance_method', 'kmeans').successful
    refused = set_value('device', 'cuda')  # read-only: needs a restart
    assert not refused.successful


def test_missing_model_fails_start_up_with_a_clear_message(ros_env, tmp_path):
    missing = tmp_path / 'no_such_model.pt'
    process = start_node(f'/m{uuid.uuid4().hex[:6]}', {'model_path': missing}, ros_env)
    try:
        code = process.wait(timeout=90)
    finally:
        output = stop_node(process)
    assert code == 1
    assert 'no_such_model.pt' in output and 'does not exist' in output
    assert 'Traceback' not in output


def test_corrupt_model_fails_start_up_with_a_clear_message(ros_env, tmp_path):
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'\x00' * 100)
    process = start_node(f'/c{uuid.uuid4().hex[:6]}', {'model_path': corrupt}, ros_env)
    start = time.monotonic()
    code = process.wait(timeout=90)
    output = stop_node(process)
    assert code == 1 and time.monotonic() - start < 90
    assert 'corrupt.pt' in output and 'Traceback' not in output


def test_network_resolution_outputs_come_with_a_matching_camera_info(ros_env, tmp_path):
    from sensor_msgs.msg import CameraInfo
    from toy_models import tiny_checkpoint_object

    path = save_checkpoint(tiny_checkpoint_object(), tmp_path / 'tiny.pt')
    namespace = f'/n{uuid.uuid4().hex[:6]}'
    process = start_node(namespace, {'model_path': path, 'output_resolution': 'network'},
                         ros_env, remaps={'image': f'{namespace}/cam/image',
                                          'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam', name='probe_network')
    probe.record(f'{namespace}/semantic/labels', Image, key='labels')
    probe.record(f'{namespace}/semantic/camera_info', CameraInfo, key='info')
    try:
        assert probe.wait_for_subscriber(90.0)
        sent = _send(probe, 160, 120, stamp_s=50.0)
        assert probe.spin_until(lambda: probe.received['labels'] and probe.received['info'],
                                60.0)
        labels, info = probe.received['labels'][-1], probe.received['info'][-1]
        assert (labels.width, labels.height) == (64, 48)  # the tiny model's input size
        assert (info.width, info.height) == (64, 48)
        assert info.header.stamp == sent.header.stamp
        assert info.k[0] == pytest.approx(160.0 * 64 / 160)  # fx scaled with the image
    finally:
        probe.destroy()
        stop_node(process)
