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

"""Helpers for tests that run the real node as a process and talk to it over Fast DDS."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
import contextlib
import os
from pathlib import Path
import time

from mtl_perception.ros.processes import isolated_ros_env, start_node, stop_node  # noqa: F401
from mtl_perception.ros.sim_camera import camera_info_message
import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

REPO = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def joined_private_graph() -> Iterator[dict[str, str]]:
    """
    Join this process to a private ROS graph; yield its environment for the nodes to start.

    Its own domain id and discovery on this host only, so parallel runs never hear each other;
    the process environment is restored afterwards.
    """
    env = isolated_ros_env()
    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith(('ROS_', 'RMW_'))})
    os.environ.pop('FASTDDS_BUILTIN_TRANSPORTS', None)
    rclpy.init()
    try:
        yield env
    finally:
        rclpy.shutdown()
        os.environ.clear()
        os.environ.update(saved)


def camera_info(width: int, height: int, frame_id: str = 'camera_optical_frame',
                fx: float | None = None) -> CameraInfo:
    fx = fx if fx is not None else float(width)
    K = np.array([[fx, 0.0, width / 2 - 0.5], [0.0, fx, height / 2 - 0.5], [0.0, 0.0, 1.0]])
    return camera_info_message(K, width, height, frame_id)


def rgb_image(pixels: np.ndarray, stamp_s: float, frame_id: str = 'camera_optical_frame'
              ) -> Image:
    from mtl_perception.ros.conversions import numpy_to_image

    image = numpy_to_image(np.ascontiguousarray(pixels), 'rgb8')
    image.header.frame_id = frame_id
    image.header.stamp.sec = int(stamp_s)
    image.header.stamp.nanosec = int(round((stamp_s - int(stamp_s)) * 1e9))
    return image


class Probe:
    """A test-side node: a camera driver at default QoS plus recorders for every output."""

    def __init__(self, namespace: str, name: str = 'probe') -> None:
        self.node: Node = rclpy.create_node(name)
        self.received: dict[str, list] = defaultdict(list)
        self.camera_namespace = namespace
        # A typical driver: default QoS (reliable, keep last 10), default transports.
        self.image_pub = self.node.create_publisher(Image, f'{namespace}/image', 10)
        self.info_pub = self.node.create_publisher(CameraInfo, f'{namespace}/camera_info', 10)

    def record(self, topic: str, kind: type, key: str | None = None,
               latched: bool = False) -> None:
        # A latched topic (published once, TRANSIENT_LOCAL) reaches a late subscriber only if
        # it asks for TRANSIENT_LOCAL too, as `ros2 topic echo --qos-durability` users do.
        durability = (DurabilityPolicy.TRANSIENT_LOCAL if latched
                      else DurabilityPolicy.VOLATILE)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                         durability=durability)
        self.node.create_subscription(kind, topic, lambda m: self.received[key or topic].append(
            m), qos)

    def spin_until(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if condition():
                return True
        return condition()

    def wait_for_subscriber(self, timeout_s: float = 60.0) -> bool:
        return self.spin_until(lambda: self.image_pub.get_subscription_count() > 0, timeout_s)

    def destroy(self) -> None:
        self.node.destroy_node()
