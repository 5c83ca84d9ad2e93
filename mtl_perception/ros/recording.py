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
Record topics as serialized CDR and write them to a rosbag2 (MCAP or sqlite3).

Subscriptions are ``raw``: the bytes that crossed DDS are stored untouched, so the bag holds
exactly what a ``ros2 bag record`` would. Writing uses the ``rosbags`` library, so no rosbag2
installation is needed; ``ros2 bag play`` and Foxglove read the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
import threading
from typing import Any

from mtl_perception.bag.io import write_bag
from mtl_perception.ros import conversions
from mtl_perception.ros.sim_camera import camera_info_message
import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, Image


def message_type_name(kind: type) -> str:
    """``sensor_msgs.msg.Image`` -> ``sensor_msgs/msg/Image`` (the name bags store)."""
    package = kind.__module__.split('.')[0]
    return f'{package}/msg/{kind.__name__}'


@dataclass
class RecordedMessage:
    topic: str
    kind: type
    receive_ns: int
    data: bytes

    def message(self) -> Any:
        return deserialize_message(self.data, self.kind)


class TopicRecorder:
    """Keeps every message of the given topics in memory until :meth:`write_bag`."""

    def __init__(self, node: Node, topics: dict[str, type], depth: int = 50) -> None:
        self.node = node
        self.topics = dict(topics)
        self.messages: list[RecordedMessage] = []
        self._lock = threading.Lock()
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self._subscriptions = [
            node.create_subscription(kind, topic, self._callback(topic, kind), qos, raw=True)
            for topic, kind in self.topics.items()]

    def _callback(self, topic: str, kind: type):  # noqa: ANN202 - closure
        def store(data: bytes) -> None:
            now = self.node.get_clock().now().nanoseconds
            with self._lock:
                self.messages.append(RecordedMessage(topic, kind, now, bytes(data)))
        return store

    def of_topic(self, topic: str) -> list[RecordedMessage]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def write_bag(self, path: str | Path, storage: str = 'mcap') -> Path:
        """Write all recorded messages to a new bag folder (replacing an older one)."""
        with self._lock:
            messages = sorted(self.messages, key=lambda m: m.receive_ns)
        return write_bag(path, {t: message_type_name(k) for t, k in self.topics.items()},
                         ((m.topic, m.receive_ns, m.data) for m in messages), storage,
                         overwrite=True)


def write_synthetic_bag(path: str | Path, frames: Iterable[Any], rate_hz: float,
                        storage: str = 'mcap', namespace: str = '/camera',
                        frame_id: str = 'camera_optical_frame', start_s: float = 1.0) -> Path:
    """
    Write rendered frames as a camera drive: image, camera_info and ground truth.

    Topics: ``<ns>/image`` (rgb8), ``<ns>/camera_info``, ``<ns>/gt/labels`` (mono8 class ids),
    ``<ns>/gt/depth`` (32FC1 metres, NaN = sky) and ``<ns>/gt/instances`` (16UC1,
    class*1000+index); every message of a frame shares one header stamp.
    """
    topics = {f'{namespace}/image': Image, f'{namespace}/camera_info': CameraInfo,
              f'{namespace}/gt/labels': Image, f'{namespace}/gt/depth': Image,
              f'{namespace}/gt/instances': Image}

    def messages() -> Iterator[tuple[str, int, bytes]]:
        for index, frame in enumerate(frames):
            stamp_ns = int(round((start_s + index / rate_hz) * 1e9))
            info = camera_info_message(frame.K, frame.rgb.shape[1], frame.rgb.shape[0],
                                       frame_id)
            info.header.stamp.sec, info.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
            header = info.header
            payload = {
                f'{namespace}/image': conversions.numpy_to_image(frame.rgb, 'rgb8', header),
                f'{namespace}/camera_info': info,
                f'{namespace}/gt/labels': conversions.numpy_to_image(frame.semantic, 'mono8',
                                                                     header),
                f'{namespace}/gt/depth': conversions.numpy_to_image(
                    frame.depth_m.astype(np.float32), '32FC1', header),
                f'{namespace}/gt/instances': conversions.numpy_to_image(
                    frame.instance_ids.astype(np.uint16), '16UC1', header),
            }
            for topic, message in payload.items():
                yield topic, stamp_ns, serialize_message(message)

    return write_bag(path, {t: message_type_name(k) for t, k in topics.items()}, messages(),
                     storage)
