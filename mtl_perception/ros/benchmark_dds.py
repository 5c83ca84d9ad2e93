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
The node's end-to-end latency and throughput over real DDS, measured from a camera process.

The node runs as a separate process (:mod:`.processes`) fed by a camera publisher at default
QoS, as a typical driver; ``mtl_benchmark --dds`` reports the numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.benchmark.timing import smooth_noise_image
from mtl_perception.core.pipeline import PipelineConfig
from mtl_perception.ros.conversions import numpy_to_image
from mtl_perception.ros.processes import isolated_ros_env, start_node, stop_node, use_env
from mtl_perception.ros.sim_camera import camera_info_message
import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2


def bench_dds(model_path: Path, size: tuple[int, int], frames: int, device: str,
              precision: str, camera_hz: float = 30.0, config: PipelineConfig | None = None,
              camera_size: tuple[int, int] | None = None, image: np.ndarray | None = None,
              num_threads: int = 1) -> dict[str, Any]:
    """
    Return the node's latency and throughput over DDS, network at ``size``.

    The camera sends ``camera_size`` frames (default ``size``): ``image`` or smooth noise.
    """
    env = isolated_ros_env()
    use_env(env)
    rclpy.init()
    namespace = f'/bench{os.getpid()}'
    process = start_node(namespace, {'model_path': model_path, 'device': device,
                                     'precision': precision, 'input_width': size[0],
                                     'input_height': size[1], 'num_threads': num_threads,
                                     **(config or PipelineConfig()).to_parameters()}, env,
                         remaps={'image': f'{namespace}/cam/image',
                                 'camera_info': f'{namespace}/cam/camera_info'})
    node = rclpy.create_node('bench_camera')
    # A typical driver: default QoS (reliable, keep last 10), default transports.
    image_pub = node.create_publisher(Image, f'{namespace}/cam/image', 10)
    info_pub = node.create_publisher(CameraInfo, f'{namespace}/cam/camera_info', 10)

    def spin_until(condition, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.002)
            if condition():
                return True
        return condition()

    last_topic = f'{namespace}/instances/points'
    arrivals: dict[tuple[int, int], float] = {}
    outputs = {f'{namespace}/semantic/labels': Image, f'{namespace}/depth': Image,
               last_topic: PointCloud2}
    seen: dict[tuple[int, int], set] = {}

    def on_output(topic: str):
        def callback(message: Any) -> None:
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            seen.setdefault(key, set()).add(topic)
            if len(seen[key]) == len(outputs):
                arrivals[key] = time.perf_counter()
        return callback

    for topic, kind in outputs.items():
        node.create_subscription(
            kind, topic, on_output(topic),
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        if not spin_until(lambda: image_pub.get_subscription_count() > 0, 120.0):
            raise RuntimeError('the node did not subscribe: ' + stop_node(process))
        camera = camera_size or size
        K = np.array([[camera[0], 0, camera[0] / 2 - 0.5], [0, camera[0], camera[1] / 2 - 0.5],
                      [0, 0, 1]], dtype=float)
        info: CameraInfo = camera_info_message(K, camera[0], camera[1], 'camera_optical_frame')
        image = smooth_noise_image(*camera) if image is None else image
        sent: dict[tuple[int, int], float] = {}
        latencies = []
        # Latency: one frame at a time, wait for all its outputs.
        for index in range(frames + 3):
            message = numpy_to_image(image, 'rgb8', info.header)
            message.header.stamp.sec = 1000 + index
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            info.header.stamp = message.header.stamp
            info_pub.publish(info)
            sent[key] = time.perf_counter()
            image_pub.publish(message)
            if spin_until(lambda k=key: k in arrivals, 30.0) and index >= 3:
                latencies.append((arrivals[key] - sent[key]) * 1e3)
        # Throughput: a camera at camera_hz; the node keeps the newest frame, drops the rest.
        arrivals.clear()
        start = time.perf_counter()
        published = 0
        while time.perf_counter() - start < 10.0:
            message = numpy_to_image(image, 'rgb8', info.header)
            message.header.stamp.sec = 5000 + published
            info.header.stamp = message.header.stamp
            info_pub.publish(info)
            image_pub.publish(message)
            published += 1
            next_time = start + published / camera_hz
            spin_until(lambda t=next_time: time.perf_counter() >= t, 1.0)
        spin_until(lambda: False, 2.0)
        window = max(arrivals.values()) - min(arrivals.values()) if len(arrivals) > 1 else 0
        throughput = (len(arrivals) - 1) / window if window else 0.0
    finally:
        node.destroy_node()
        stop_node(process)
        rclpy.shutdown()
    return {'size': f'{size[0]}x{size[1]}',
            'camera': f'{(camera_size or size)[0]}x{(camera_size or size)[1]}',
            'latency_ms': float(np.median(latencies)),
            'latency_p90_ms': float(np.percentile(latencies, 90)),
            'throughput_fps': throughput, 'published': published,
            'processed': len(arrivals)}


def bench_dds_with_profile(profile: Path | None, *args: Any) -> dict[str, Any]:
    """Run :func:`bench_dds` in this (fresh) process with or without a Fast DDS profile."""
    os.environ.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    if profile is not None:
        os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    *head, num_threads = args
    return bench_dds(*head, num_threads=num_threads)
