"""Record topics as serialized CDR and write them to a rosbag2 (MCAP or sqlite3).

Subscriptions are ``raw``: the bytes that crossed DDS are stored untouched, so the bag holds
exactly what a ``ros2 bag record`` would. Writing uses the ``rosbags`` library, so no rosbag2
installation is needed; ``ros2 bag play`` and Foxglove read the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import shutil
import threading
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message


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
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore

        path = Path(path)
        if path.exists():
            shutil.rmtree(path)
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        typestore = get_typestore(Stores.LATEST)
        with self._lock:
            messages = sorted(self.messages, key=lambda m: m.receive_ns)
        with Writer(path, version=8, storage_plugin=plugin) as writer:
            connections = {topic: writer.add_connection(topic, message_type_name(kind),
                                                        typestore=typestore)
                           for topic, kind in self.topics.items()}
            for message in messages:
                writer.write(connections[message.topic], message.receive_ns, message.data)
        return path
