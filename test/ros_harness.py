"""Helpers for tests that run the real node as a process and talk to it over Fast DDS."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
import os
from pathlib import Path
import random
import subprocess
import sys
import time
from typing import Any

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

REPO = Path(__file__).resolve().parents[1]


def isolated_ros_env() -> dict[str, str]:
    """Environment for this test session: its own DDS domain, discovery on localhost only."""
    env = dict(os.environ)
    env.setdefault('MTL_TEST_DOMAIN', str(random.Random(os.getpid()).randint(1, 100)))
    env['ROS_DOMAIN_ID'] = env['MTL_TEST_DOMAIN']
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env['RMW_IMPLEMENTATION'] = 'rmw_fastrtps_cpp'
    env['PYTHONUNBUFFERED'] = '1'
    env.pop('FASTDDS_BUILTIN_TRANSPORTS', None)  # the driver side stays at its defaults
    return env


def start_node(namespace: str, params: dict[str, Any], env: dict[str, str],
               remaps: dict[str, str] | None = None) -> subprocess.Popen:
    args = [sys.executable, '-m', 'mtl_perception.ros.node', '--ros-args',
            '-r', f'__ns:={namespace}']
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{key}:={text}']
    for source, target in (remaps or {}).items():
        args += ['-r', f'{source}:={target}']
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=REPO)


def stop_node(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(2)  # SIGINT, like Ctrl-C
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.stdout.read() if process.stdout else ''


def camera_info(width: int, height: int, frame_id: str = 'camera_optical_frame',
                fx: float | None = None) -> CameraInfo:
    fx = fx if fx is not None else float(width)
    info = CameraInfo()
    info.header.frame_id = frame_id
    info.width, info.height = width, height
    info.distortion_model = 'plumb_bob'
    info.d = [0.0] * 5
    info.k = [fx, 0.0, width / 2 - 0.5, 0.0, fx, height / 2 - 0.5, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, width / 2 - 0.5, 0.0, 0.0, fx, height / 2 - 0.5, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


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

    def record(self, topic: str, kind: type, key: str | None = None) -> None:
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
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
