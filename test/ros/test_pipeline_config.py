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
One PipelineConfig: the node, the bag evaluator and the tools run the same settings.

The node runs in-process (real rclpy, its parameters read from a parameter file by rcl) and
over DDS as a separate process; the bag evaluator runs through its command line.
"""

import argparse
import json
import os
from pathlib import Path
import uuid

from mtl_perception.core.config_io import ConfigError
from mtl_perception.core.pipeline import (
    add_pipeline_arguments,
    pipeline_config_from_args,
    PipelineConfig,
)
import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_camera_yaml_holds_the_pipeline_defaults():
    assert PipelineConfig.from_parameter_file(REPO / 'config' / 'camera.yaml') == PipelineConfig()


def test_node_parameter_defaults_are_the_pipeline_defaults():
    pytest.importorskip('rcl_interfaces')
    from mtl_perception.ros.parameters import PARAMETERS

    declared = {spec.name: spec.default for spec in PARAMETERS}
    for name, value in PipelineConfig().to_parameters().items():
        assert declared[name] == value and type(declared[name]) is type(value), name


def test_tools_build_it_from_defaults_then_the_file_then_options(tmp_path):
    params = tmp_path / 'params.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': {
        'model_path': 'ignored.pt', 'instance_min_pixels': 7, 'cloud_stride': 3}}}))
    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    assert pipeline_config_from_args(parser.parse_args([])) == PipelineConfig()
    config = pipeline_config_from_args(parser.parse_args(
        ['--params', str(params), '--cloud-stride', '4', '--instance-method', 'dbscan']))
    assert config == PipelineConfig(instance_min_pixels=7, cloud_stride=4,
                                    instance_method='dbscan')
    with pytest.raises(ConfigError, match='cloud_stride'):
        pipeline_config_from_args(parser.parse_args(['--cloud-stride', 'two']))
    with pytest.raises(ValueError, match='instance_method'):
        pipeline_config_from_args(parser.parse_args(['--instance-method', 'kmeans']))


@pytest.fixture(scope='module')
def drive(tmp_path_factory):
    pytest.importorskip('rosbags')
    pytest.importorskip('rclpy')
    from mtl_perception.ros.recording import write_synthetic_bag
    from mtl_perception.synth import SceneSequence

    frames = list(SceneSequence(7, 96, 72).frames(3, rate_hz=5.0))
    return frames, write_synthetic_bag(tmp_path_factory.mktemp('bag') / 'drive', frames, 5.0)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    from mtl_perception.core.checkpoint import save_checkpoint
    from toy_models import tiny_checkpoint_object

    return save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')


def _node_config(params_file: Path | None):
    """Return the config the node builds from its parameters (rcl reads ``params_file``)."""
    from mtl_perception.ros.node import MtlPerceptionNode
    from mtl_perception.ros.processes import isolated_ros_env
    import rclpy
    from rclpy.context import Context

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in isolated_ros_env().items() if k.startswith('ROS_')})
    context = Context()
    args = ['--ros-args', '--params-file', str(params_file)] if params_file else []
    rclpy.init(args=args, context=context)
    try:
        node = MtlPerceptionNode(context=context)
        try:
            return node._pipeline_config()
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        os.environ.clear()
        os.environ.update(saved)


def _camera_messages(bag: Path) -> list:
    """Return the bag's (CameraInfo, Image) pairs as rclpy messages, as recorded."""
    from mtl_perception.bag.io import open_bag
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image

    reader = open_bag(bag)
    infos, images = {}, []
    try:
        for connection, _, raw in reader.messages():
            if connection.msgtype == 'sensor_msgs/msg/CameraInfo':
                info = deserialize_message(bytes(raw), CameraInfo)
                infos[info.header.stamp.sec, info.header.stamp.nanosec] = info
            elif connection.topic == '/camera/image':
                images.append(deserialize_message(bytes(raw), Image))
    finally:
        reader.close()
    return [(infos[m.header.stamp.sec, m.header.stamp.nanosec], m) for m in images]


@pytest.mark.parametrize('custom', [False, True], ids=['defaults', 'parameter-file'])
def test_node_and_bag_evaluator_run_with_equal_configs(drive, model, tmp_path, custom):
    from mtl_perception.tools.eval_bag import main

    params = None
    if custom:
        params = tmp_path / 'params.yaml'
        params.write_text(yaml.safe_dump({'/**': {'ros__parameters': {
            'instance_min_pixels': 9, 'instance_peak_threshold': 0.25, 'cloud_stride': 3,
            'max_range_m': 12.5, 'instance_method': 'dbscan'}}}))
    node_config = _node_config(params)
    argv = [str(drive[1]), '--out', str(tmp_path / 'eval'), '--model', str(model),
            '--device', 'cpu', '--mosaics', '0', '--no-output-bag']
    assert main(argv + (['--params', str(params)] if params else [])) == 0
    ran = json.loads((tmp_path / 'eval' / 'metrics.json').read_text())['metrics']['pipeline']
    assert ran == node_config.to_parameters()
    assert (node_config != PipelineConfig()) == custom


def test_bag_evaluator_outputs_equal_the_node_outputs_over_dds(drive, model, tmp_path):
    """The same frames through ``mtl_eval_bag`` and through the node process over DDS."""
    rclpy = pytest.importorskip('rclpy')
    from mtl_perception.bag.io import open_bag
    from mtl_perception.ros import conversions
    from mtl_perception.ros.processes import isolated_ros_env
    from mtl_perception.tools.eval_bag import main
    from ros_harness import Probe, start_node, stop_node
    from sensor_msgs.msg import Image

    settings = {'instance_min_pixels': 2, 'instance_peak_threshold': 0.2}
    params = tmp_path / 'params.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': settings}}))
    assert main([str(drive[1]), '--out', str(tmp_path / 'eval'), '--model', str(model),
                 '--device', 'cpu', '--mosaics', '0', '--params', str(params)]) == 0
    topics = {'/mtl/semantic/labels': 'labels', '/mtl/instances/ids': 'ids',
              '/mtl/depth': 'depth'}
    offline: dict[tuple[str, tuple[int, int]], np.ndarray] = {}
    reader = open_bag(tmp_path / 'eval' / 'outputs')
    try:
        for connection, _, raw in reader.messages():
            if connection.topic in topics:
                message = reader.deserialize(raw, connection.msgtype)
                stamp = (message.header.stamp.sec, message.header.stamp.nanosec)
                offline[topics[connection.topic], stamp] = np.array(
                    conversions.image_to_numpy(message))
    finally:
        reader.close()

    env = isolated_ros_env()
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith(('ROS_', 'RMW_'))})
    rclpy.init()
    namespace = f'/e{uuid.uuid4().hex[:6]}'
    process = start_node(namespace, {'model_path': model, 'device': 'cpu', **settings}, env,
                         remaps={'image': f'{namespace}/cam/image',
                                 'camera_info': f'{namespace}/cam/camera_info'})
    probe = Probe(f'{namespace}/cam', name='probe_equal')
    for topic, key in (('semantic/labels', 'labels'), ('instances/ids', 'ids'),
                       ('depth', 'depth')):
        probe.record(f'{namespace}/{topic}', Image, key=key)
    try:
        assert probe.wait_for_subscriber(90.0)
        for index, (info, image) in enumerate(_camera_messages(drive[1])):
            probe.info_pub.publish(info)
            probe.spin_until(lambda: False, 0.3)
            probe.image_pub.publish(image)
            stamp = (image.header.stamp.sec, image.header.stamp.nanosec)
            assert probe.spin_until(lambda stamp=stamp: all(
                any((m.header.stamp.sec, m.header.stamp.nanosec) == stamp
                    for m in probe.received[key]) for key in ('labels', 'ids', 'depth')),
                60.0), f'no outputs for frame {index}'
        compared = 0
        for key in ('labels', 'ids', 'depth'):
            for message in probe.received[key]:
                stamp = (message.header.stamp.sec, message.header.stamp.nanosec)
                live = conversions.image_to_numpy(message)
                if key == 'depth':
                    np.testing.assert_allclose(live, offline[key, stamp], rtol=1e-5,
                                               equal_nan=True)
                else:
                    np.testing.assert_array_equal(live, offline[key, stamp])
                compared += 1
        assert compared == 3 * len(drive[0])
        assert any(offline['ids', s].max() > 0 for (k, s) in offline if k == 'ids')
    finally:
        probe.destroy()
        output = stop_node(process)
        rclpy.shutdown()
        os.environ.clear()
        os.environ.update(saved)
    assert 'Traceback' not in output, output
