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

"""mtl_eval_bag on rendered drives written as real rosbag2 files (MCAP and sqlite3)."""

import json
from pathlib import Path

import pytest

pytest.importorskip('rclpy')
pytest.importorskip('rosbags')
pytestmark = pytest.mark.ros

from mtl_perception.bag.io import BagError, open_bag, write_bag  # noqa: E402, I100
from mtl_perception.core.checkpoint import save_checkpoint  # noqa: E402
from mtl_perception.core.metrics import ConfusionMatrix  # noqa: E402
from mtl_perception.core.pipeline import ScenePipeline  # noqa: E402
from mtl_perception.core.predictor import Predictor  # noqa: E402
from mtl_perception.ros.bag_evaluation import evaluate_bag  # noqa: E402
from mtl_perception.ros.recording import write_synthetic_bag  # noqa: E402
from mtl_perception.tools.eval_bag import main  # noqa: E402


@pytest.fixture(scope='module')
def drive(tmp_path_factory):
    from mtl_perception.synth import SceneSequence

    frames = list(SceneSequence(5, 96, 72).frames(5, rate_hz=5.0))
    root = tmp_path_factory.mktemp('bags')
    return {'frames': frames,
            'mcap': write_synthetic_bag(root / 'drive_mcap', frames, 5.0, 'mcap'),
            'sqlite3': write_synthetic_bag(root / 'drive_db3', frames, 5.0, 'sqlite3')}


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    from toy_models import tiny_checkpoint_object

    return save_checkpoint(tiny_checkpoint_object(), tmp_path_factory.mktemp('m') / 'tiny.pt')


def test_metrics_match_the_pipeline_and_both_storages(drive, model, tmp_path):
    from_mcap = evaluate_bag(drive['mcap'], tmp_path / 'a', model, device='cpu')
    from_sqlite = evaluate_bag(drive['sqlite3'], tmp_path / 'b', model, device='cpu',
                               write_output_bag=False)
    for key in ('semantic_miou', 'depth_abs_rel', 'depth_rmse_m', 'instance_pq',
                'frames_evaluated'):
        assert from_mcap[key] == from_sqlite[key], key
    assert from_mcap['frames_evaluated'] == 5
    pipeline = ScenePipeline(Predictor(model, device='cpu'))
    confusion = ConfusionMatrix(8)
    for frame in drive['frames']:
        confusion.update(pipeline.process(frame.rgb, frame.K).prediction.semantic,
                         frame.semantic)
    assert from_mcap['semantic_miou'] == pytest.approx(confusion.mean_iou(), abs=1e-12)
    report = (tmp_path / 'a' / 'report.md').read_text()
    assert '| forward |' in report and 'semantic mIoU' in report
    assert json.loads((tmp_path / 'a' / 'metrics.json').read_text())['frames'][0]['stamp']
    assert (tmp_path / 'a' / 'plots.png').exists()
    assert (tmp_path / 'a' / 'mosaic_0000.png').exists()


def test_output_bag_has_outputs_with_the_input_headers(drive, model, tmp_path):
    evaluate_bag(drive['mcap'], tmp_path / 'run', model, device='cpu', mosaics=0)
    reader = open_bag(tmp_path / 'run' / 'outputs')
    try:
        types = {c.topic: c.msgtype for c in reader.connections}
        assert types['/mtl/semantic/labels'] == 'sensor_msgs/msg/Image'
        assert types['/mtl/instances/points'] == 'sensor_msgs/msg/PointCloud2'
        assert '/camera/image' in types and '/camera/gt/depth' in types
        stamps = {'/camera/image': [], '/mtl/depth': []}
        for connection, _, raw in reader.messages():
            if connection.topic in stamps:
                message = reader.deserialize(raw, connection.msgtype)
                stamps[connection.topic].append((message.header.stamp.sec,
                                                 message.header.stamp.nanosec,
                                                 message.header.frame_id))
                if connection.topic == '/mtl/depth':
                    assert message.encoding == '32FC1' and message.width == 96
    finally:
        reader.close()
    assert stamps['/mtl/depth'] == stamps['/camera/image'] and len(stamps['/mtl/depth']) == 5


def _node_output_topics(model: Path, namespace: str) -> set[str]:
    """Return the topics an in-process node publishes once configured (not /diagnostics)."""
    import os

    from mtl_perception.ros.node import MtlPerceptionNode
    from mtl_perception.ros.processes import isolated_ros_env
    import rclpy
    from rclpy.context import Context
    from rclpy.parameter import Parameter

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in isolated_ros_env().items() if k.startswith('ROS_')})
    context = Context()
    rclpy.init(context=context)
    try:
        node = MtlPerceptionNode(context=context, namespace=namespace, parameter_overrides=[
            Parameter('model_path', value=str(model)), Parameter('device', value='cpu'),
            Parameter('autostart', value=False)])
        try:
            node.trigger_configure()
            return {publisher.topic_name for publisher in node._outputs.values()}
        finally:
            node._teardown()
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
        os.environ.clear()
        os.environ.update(saved)


def test_node_and_bag_evaluator_build_outputs_with_one_function(drive, model, tmp_path,
                                                                monkeypatch):
    """Both build messages with ``outputs.scene_messages``; the bag holds the node's topics."""
    import inspect

    from mtl_perception.ros import bag_evaluation, node, outputs

    real = outputs.scene_messages
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(outputs, 'scene_messages', counted)
    evaluate_bag(drive['mcap'], tmp_path / 'run', model, device='cpu', mosaics=0, max_frames=2)
    assert len(calls) == 2
    for module in (node, bag_evaluation):
        assert module.outputs is outputs
        assert 'outputs.scene_messages(' in inspect.getsource(module), module.__name__
    reader = open_bag(tmp_path / 'run' / 'outputs')
    try:
        written = {c.topic for c in reader.connections if c.topic.startswith('/mtl/')}
        counts = {c.topic: c.msgcount for c in reader.connections}
    finally:
        reader.close()
    assert written == _node_output_topics(model, bag_evaluation.OUTPUT_NAMESPACE)
    assert counts['/mtl/uncertainty/task_sigmas'] == 1  # latched on the node: once
    assert counts['/mtl/instances/markers'] == counts['/mtl/semantic/color'] == 2


def _cut(folder: Path, target: Path) -> Path:
    source = next(p for p in folder.iterdir() if p.name != 'metadata.yaml')
    target.mkdir()
    (target / 'metadata.yaml').write_text((folder / 'metadata.yaml').read_text())
    (target / source.name).write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    return target


def test_truncated_mcap_yields_a_partial_report(model, tmp_path):
    from mtl_perception.synth import SceneSequence

    # 12 frames of 160x120 span three ~1 MB MCAP chunks; the cut keeps the first two.
    frames = SceneSequence(8, 160, 120).frames(12, rate_hz=10.0)
    whole = write_synthetic_bag(tmp_path / 'whole', frames, 10.0, 'mcap')
    cut = _cut(whole, tmp_path / 'cut')
    metrics = evaluate_bag(cut, tmp_path / 'out', model, device='cpu')
    assert 0 < metrics['frames_evaluated'] < 12
    assert metrics['truncated_file'] == 1 and metrics['read_error'] == 1
    assert 'semantic_miou' in metrics
    assert 'truncated file: 1' in (tmp_path / 'out' / 'report.md').read_text()
    complete = evaluate_bag(whole, tmp_path / 'all', model, device='cpu',
                            write_output_bag=False, max_frames=metrics['frames_evaluated'])
    assert complete['semantic_miou'] == metrics['semantic_miou']  # same frames, same numbers


def test_damaged_sqlite_bag_is_a_clear_error(drive, model, tmp_path):
    cut = _cut(Path(drive['sqlite3']), tmp_path / 'cut')
    with pytest.raises(BagError, match=r'cannot open bag .*cut'):
        evaluate_bag(cut, tmp_path / 'out', model, device='cpu', write_output_bag=False)


def test_bag_without_camera_info_is_a_clear_error(drive, model, tmp_path, caplog):
    reader = open_bag(drive['mcap'])
    try:
        topics = {c.topic: c.msgtype for c in reader.connections if 'camera_info' not in c.topic}
        messages = [(c.topic, t, bytes(raw)) for c, t, raw in reader.messages()
                    if c.topic in topics]
    finally:
        reader.close()
    write_bag(tmp_path / 'no_info', topics, messages)
    assert main([str(tmp_path / 'no_info'), '--out', str(tmp_path / 'o'), '--model',
                 str(model), '--device', 'cpu']) == 2
    assert 'no sensor_msgs/CameraInfo topic' in caplog.text


def test_missing_bag_and_topic(model, drive, tmp_path, caplog):
    assert main([str(tmp_path / 'nothing'), '--out', str(tmp_path / 'o')]) == 2
    assert 'does not exist' in caplog.text
    assert main([str(drive['mcap']), '--out', str(tmp_path / 'o'), '--model', str(model),
                 '--image-topic', '/nope']) == 2
    assert 'topic /nope is not in the bag' in caplog.text


def test_synth_tool_writes_a_bag(tmp_path):
    from mtl_perception.tools.synth import main as synth_main

    out = tmp_path / 'drive'
    assert synth_main(['--bag', 'mcap', '--out', str(out), '--frames', '2', '--width', '64',
                       '--height', '48', '--no-progress', '--quiet']) == 0
    assert synth_main(['--bag', 'mcap', '--out', str(out), '--frames', '2', '--width', '64',
                       '--height', '48', '--no-progress', '--quiet']) == 1  # never overwrites
    reader = open_bag(out)
    try:
        counts = {c.topic: c.msgcount for c in reader.connections}
    finally:
        reader.close()
    assert counts == {'/camera/image': 2, '/camera/camera_info': 2, '/camera/gt/labels': 2,
                      '/camera/gt/depth': 2, '/camera/gt/instances': 2}


def test_live_replay_into_the_node_over_dds(drive, model, tmp_path):
    out = tmp_path / 'live'
    assert main([str(drive['mcap']), '--out', str(out), '--live', '--start-node', '--model',
                 str(model)]) == 0
    summary = json.loads((out / 'live.json').read_text())
    assert summary['frames_published'] == 5
    assert summary['frames_answered'] + summary['frames_dropped'] == 5
    assert summary['frames_answered'] >= 1 and summary['latency_p50_ms'] > 0
    reader = open_bag(out / 'live_outputs')
    try:
        stamps = {(m.header.stamp.sec, m.header.stamp.nanosec)
                  for c, _, raw in reader.messages() if c.topic == '/mtl/depth'
                  for m in [reader.deserialize(raw, c.msgtype)]}
    finally:
        reader.close()
    sent = {(int(s), round((s - int(s)) * 1e9)) for s in (1.0 + i / 5.0 for i in range(5))}
    assert stamps and stamps <= sent


@pytest.mark.parametrize('metadata', [
    'rosbag2_bagfile_information: [unclosed\n',  # not YAML
    '',  # empty
    'rosbag2_bagfile_information:\n  version: abc\n',  # YAML, but not rosbag2 metadata
])
def test_corrupt_metadata_is_the_error_not_a_cut_file(drive, model, tmp_path, caplog, metadata):
    """A corrupt metadata.yaml beside an intact MCAP file: the real error and exit code 2."""
    import shutil

    bag = tmp_path / 'bad_metadata'
    shutil.copytree(drive['mcap'], bag)
    (bag / 'metadata.yaml').write_text(metadata)
    code = main([str(bag), '--out', str(tmp_path / 'o'), '--model', str(model),
                 '--device', 'cpu', '--no-output-bag'])
    assert code == 2, caplog.text
    assert 'metadata.yaml' in caplog.text and 'cut short' not in caplog.text
    assert not (tmp_path / 'o' / 'report.md').exists()
