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
One frame through the node over real DDS: what it publishes does not depend on the camera size.

The node runs the shipped model as a separate process; a test-side camera at default QoS
publishes one rendered scene at 320x240, 640x480 and 1280x960 (pixel-replicated, so the
network sees the same input). Instances are clustered at the network's resolution, so the same
instances come back at every size.
"""

import os
import uuid

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from mtl_perception.ros import conversions  # noqa: E402, I100
from ros_harness import camera_info, Probe, rgb_image, start_node, stop_node  # noqa: E402, I100
from sensor_msgs.msg import Image  # noqa: E402


def _mask_iou(first: np.ndarray, second: np.ndarray) -> float:
    union = np.logical_or(first, second).sum()
    return float(np.logical_and(first, second).sum() / union) if union else 1.0


def test_the_same_image_at_three_sizes_gives_the_same_instances(ros_env):
    from mtl_perception.core.checkpoint import load_checkpoint
    from mtl_perception.core.predictor import default_model_path
    from mtl_perception.synth import render_frame

    frame = render_frame(90_001, 320, 240)
    prep = load_checkpoint(default_model_path()).preprocessing
    network = (prep.input_width, prep.input_height)
    namespace = f'/r{uuid.uuid4().hex[:6]}'
    process = start_node(namespace, {'device': 'cpu'}, ros_env,
                         remaps={'image': f'{namespace}/cam/image',
                                 'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam', name='probe_sizes')
    probe.record(f'{namespace}/instances/ids', Image, key='ids')
    ids_by_scale = {}
    try:
        assert probe.wait_for_subscriber(90.0)
        for index, scale in enumerate((1, 2, 4)):
            width, height = 320 * scale, 240 * scale
            pixels = cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_NEAREST)
            info = camera_info(width, height, fx=float(frame.K[0, 0]) * scale)
            image = rgb_image(pixels, 10.0 + index)
            info.header = image.header
            probe.info_pub.publish(info)
            probe.spin_until(lambda: False, 0.2)
            probe.image_pub.publish(image)
            assert probe.spin_until(lambda stamp=image.header.stamp: any(
                m.header.stamp == stamp for m in probe.received['ids']), 60.0), scale
            message = [m for m in probe.received['ids'] if m.header.stamp == image.header.stamp]
            assert (message[-1].width, message[-1].height) == (width, height)
            # Back to the network's resolution: the pixel at each network pixel's centre.
            ids = conversions.image_to_numpy(message[-1])
            rows = ((np.arange(network[1]) + 0.5) * height / network[1]).astype(int)
            columns = ((np.arange(network[0]) + 0.5) * width / network[0]).astype(int)
            ids_by_scale[scale] = ids[rows][:, columns]
    finally:
        probe.destroy()
        output = stop_node(process)
    assert 'Traceback' not in output, output
    reference = ids_by_scale[1]
    count = len(np.unique(reference[reference > 0]))
    assert count >= 2, 'the shipped model should find instances in a rendered scene'
    for scale in (2, 4):
        ids = ids_by_scale[scale]
        assert len(np.unique(ids[ids > 0])) == count, scale
        for instance in np.unique(reference[reference > 0]):
            mask = reference == instance
            match = np.bincount(ids[mask], minlength=1)
            match[0] = 0
            best = int(np.argmax(match))
            assert _mask_iou(mask, ids == best) >= 0.9, (scale, instance)


def test_the_node_runs_an_exported_onnx_file_like_its_checkpoint(ros_env, tmp_path):
    pytest.importorskip('onnxruntime')
    from mtl_perception.core.checkpoint import save_checkpoint
    from mtl_perception.core.onnx_export import export_onnx
    from mtl_perception.core.pipeline import ScenePipeline
    from mtl_perception.core.predictor import Predictor
    from toy_models import tiny_checkpoint_object

    checkpoint = tiny_checkpoint_object()
    model = save_checkpoint(checkpoint, tmp_path / 'tiny.pt')
    export_onnx(model, tmp_path / 'tiny.onnx')
    namespace = f'/o{uuid.uuid4().hex[:6]}'
    process = start_node(namespace, {'model_path': tmp_path / 'tiny.onnx', 'device': 'cpu'},
                         ros_env, remaps={'image': f'{namespace}/cam/image',
                                          'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam', name='probe_onnx')
    probe.record(f'{namespace}/semantic/labels', Image, key='labels')
    pixels = np.random.default_rng(5).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    try:
        assert probe.wait_for_subscriber(90.0)
        info = camera_info(128, 96)
        image = rgb_image(pixels, 3.0)
        info.header = image.header
        probe.info_pub.publish(info)
        probe.spin_until(lambda: False, 0.2)
        probe.image_pub.publish(image)
        assert probe.spin_until(lambda: probe.received['labels'], 60.0)
    finally:
        probe.destroy()
        output = stop_node(process)
    assert 'Traceback' not in output and 'tiny.onnx' in output, output
    labels = conversions.image_to_numpy(probe.received['labels'][-1])
    expected = ScenePipeline(Predictor(model, device='cpu')).process(
        pixels, outputs={'semantic'}).prediction.semantic
    assert (labels == expected).mean() >= 0.999


BEST_EFFORT_OUTPUTS = {'semantic/labels': Image, 'semantic/color': Image, 'depth': Image,
                       'instances/ids': Image, 'uncertainty/semantic': Image}


def _count_best_effort_deliveries(ros_env, tmp_path, size, frames, node_env=None):
    """Start the node; send ``frames`` frames one at a time; count best-effort receptions."""
    from mtl_perception.core.checkpoint import save_checkpoint
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import PointCloud2
    from toy_models import tiny_checkpoint_object

    model = save_checkpoint(tiny_checkpoint_object(), tmp_path / 'tiny.pt')
    namespace = f'/b{uuid.uuid4().hex[:6]}'
    process = start_node(namespace, {'model_path': model, 'device': 'cpu',
                                     'instance_min_pixels': 1},
                         {**ros_env, **(node_env or {})},
                         remaps={'image': f'{namespace}/cam/image',
                                 'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam', name='probe_best_effort')
    stamps: dict[str, set] = {key: set() for key in [*BEST_EFFORT_OUTPUTS, 'instances/points']}
    for topic, kind in [*BEST_EFFORT_OUTPUTS.items(), ('instances/points', PointCloud2)]:
        # What many consumers use for sensor data: best effort, keep last 5, defaults else.
        probe.node.create_subscription(
            kind, f'{namespace}/{topic}',
            lambda message, topic=topic: stamps[topic].add(message.header.stamp.sec),
            qos_profile_sensor_data)
    width, height = size
    try:
        assert probe.wait_for_subscriber(90.0)
        assert probe.spin_until(lambda: all(
            probe.node.count_publishers(f'{namespace}/{t}') for t in stamps), 30.0)
        for index in range(frames):
            pixels = np.random.default_rng(index).integers(0, 255, (height, width, 3),
                                                           dtype=np.uint8)
            image = rgb_image(pixels, 100.0 + index)
            info = camera_info(width, height)
            info.header = image.header
            probe.info_pub.publish(info)
            probe.spin_until(lambda: False, 0.1)
            probe.image_pub.publish(image)
            probe.spin_until(lambda index=index: all(100 + index in s for s in stamps.values()),
                             8.0)
        probe.spin_until(lambda: False, 1.0)
    finally:
        probe.destroy()
        output = stop_node(process)
    assert 'Traceback' not in output, output
    return {topic: len(received) for topic, received in stamps.items()}, output


@pytest.mark.parametrize('size', [(640, 480), (1280, 720)])
def test_a_best_effort_subscriber_at_defaults_receives_every_output(ros_env, tmp_path, size):
    os.environ.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)  # this side keeps the defaults
    frames = 5
    received, output = _count_best_effort_deliveries(ros_env, tmp_path, size, frames)
    assert 'fastdds_large_outputs.xml' in output, output
    assert received == dict.fromkeys(received, frames), received


def test_without_the_profile_large_outputs_are_lost(ros_env, tmp_path):
    """The control: the same exchange with the node at Fast DDS defaults loses outputs."""
    received, output = _count_best_effort_deliveries(
        ros_env, tmp_path, (1280, 720), 3, node_env={'MTL_PERCEPTION_DDS_PROFILE': 'none'})
    assert 'Fast DDS profile: none' in output, output
    assert received['depth'] < 3, received
