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
``mtl_eval_bag --live``: play a bag's camera into a running node over DDS and time it.

The bag's image and CameraInfo messages are published unchanged (their CDR bytes) at the
recorded rate times ``--rate``, by a publisher at the QoS a driver uses; the node's outputs are
recorded. The report says which frames the node dropped (no output with that stamp) and the
end-to-end latency (image published -> depth received), i.e. the node's behaviour under the
real timing of the recording. ``--start-node`` starts the node (default model) itself.
"""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
import time
from typing import Any

from mtl_perception.bag.io import BagError, detect_topics, open_bag
from mtl_perception.core.metrics import percentile
from mtl_perception.ros import processes
from mtl_perception.ros.recording import TopicRecorder
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image


def read_camera(bag: str | Path, topic_names: dict[str, str | None]) -> tuple[Any, list]:
    """Return the camera topics and their messages as (topic, log time ns, stamp, raw bytes)."""
    reader = open_bag(bag)
    try:
        topics = detect_topics(reader, **topic_names)
        if topics.camera_info is None:
            raise BagError(f'{bag} has no CameraInfo topic to replay')
        wanted = [c for c in reader.connections if c.topic in (topics.image, topics.camera_info)]
        messages = []
        for connection, timestamp, raw in reader.messages(connections=wanted):
            stamp = None
            if connection.topic == topics.image:
                header = reader.deserialize(raw, connection.msgtype).header
                stamp = (int(header.stamp.sec), int(header.stamp.nanosec))
            messages.append((connection.topic, timestamp, stamp, bytes(raw)))
    finally:
        reader.close()
    return topics, messages


def live_replay(bag: str | Path, out: Path, model: str | None = None, rate: float = 1.0,
                namespace: str = '/mtl', start_node: bool = False,
                topic_names: dict[str, str | None] | None = None,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """Replay the bag's camera into the node under ``namespace``; write and return a summary."""
    topics, messages = read_camera(bag, topic_names or {})
    images = [m for m in messages if m[0] == topics.image]
    if not images:
        raise BagError(f'no messages on {topics.image} in {bag}')
    out.mkdir(parents=True, exist_ok=True)
    env = processes.isolated_ros_env()
    processes.use_env(env)
    camera = '/replay'
    process = None
    if start_node:
        params = {'model_path': str(model)} if model else {}
        process = processes.start_node(namespace, params, env,
                                       remaps={'image': f'{camera}/image',
                                               'camera_info': f'{camera}/camera_info'})
    rclpy.init()
    node = rclpy.create_node('mtl_replay')
    image_type = CompressedImage if topics.image.endswith('compressed') else Image
    image_pub = node.create_publisher(image_type, f'{camera}/image', 10)
    info_pub = node.create_publisher(CameraInfo, f'{camera}/camera_info', 10)
    depth_arrivals: dict[tuple[int, int], float] = {}

    def on_depth(message: Image) -> None:
        depth_arrivals[(message.header.stamp.sec, message.header.stamp.nanosec)] = (
            time.monotonic())

    node.create_subscription(Image, f'{namespace}/depth', on_depth,
                             QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    recorder = TopicRecorder(node, {f'{namespace}/semantic/labels': Image,
                                    f'{namespace}/depth': Image,
                                    f'{namespace}/instances/ids': Image})
    sent: dict[tuple[int, int], float] = {}
    try:
        deadline = time.monotonic() + 120.0
        while image_pub.get_subscription_count() < 1:
            rclpy.spin_once(node, timeout_sec=0.1)
            if time.monotonic() > deadline or (process and process.poll() is not None):
                raise RuntimeError('no node subscribed to the replayed camera'
                                   + (':\n' + processes.stop_node(process) if process else ''))
        log(f'replaying {len(images)} frames from {bag} at {rate:g}x')
        first_log = messages[0][1]
        start = time.monotonic()
        for topic, timestamp, stamp, raw in messages:
            due = start + (timestamp - first_log) / 1e9 / rate
            while time.monotonic() < due:
                rclpy.spin_once(node, timeout_sec=max(0.0, min(0.005, due - time.monotonic())))
            if topic == topics.image:
                sent[stamp] = time.monotonic()
                image_pub.publish(raw)
            else:
                info_pub.publish(raw)
        drain = time.monotonic() + 3.0
        while time.monotonic() < drain and len(depth_arrivals) < len(sent):
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node_log = processes.stop_node(process) if process else ''
        node.destroy_node()
        rclpy.try_shutdown()
    latencies = [(depth_arrivals[s] - t) * 1e3 for s, t in sent.items() if s in depth_arrivals]
    duration_s = (messages[-1][1] - first_log) / 1e9 / rate
    summary = {
        'frames_published': len(sent), 'frames_answered': len(latencies),
        'frames_dropped': len(sent) - len(latencies), 'replay_rate': rate,
        'camera_rate_hz': (len(sent) - 1) / duration_s if duration_s > 0 else float('nan'),
        'latency_p50_ms': percentile(latencies, 50),
        'latency_p90_ms': percentile(latencies, 90),
        'latency_p99_ms': percentile(latencies, 99),
    }
    recorder.write_bag(out / 'live_outputs', storage='mcap')
    (out / 'live.json').write_text(json.dumps(summary, indent=2))
    if node_log:
        (out / 'node.log').write_text(node_log)
    (out / 'live.md').write_text(
        '# Live replay over DDS\n\n'
        f'- bag: `{bag}` at {rate:g}x ({summary["camera_rate_hz"]:.1f} Hz camera)\n'
        f'- frames published {summary["frames_published"]}, answered '
        f'{summary["frames_answered"]}, dropped {summary["frames_dropped"]}\n'
        f'- end-to-end latency (image published -> depth received): p50 '
        f'{summary["latency_p50_ms"]:.1f} ms, p90 {summary["latency_p90_ms"]:.1f} ms, p99 '
        f'{summary["latency_p99_ms"]:.1f} ms\n- recorded outputs: `live_outputs/`\n')
    return summary
