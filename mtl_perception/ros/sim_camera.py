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
``mtl_sim_camera``: a camera driver made of the PyBullet scene renderer.

Publishes ``image_raw`` (rgb8) and ``camera_info`` at a fixed rate from a generated scene seen by a
slowly swaying camera, with the QoS a typical driver uses (reliable, keep last 10) and, when
asked, the exact ground truth (``gt/labels`` mono8, ``gt/depth`` 32FC1 m, ``gt/instances``
16UC1 in the Cityscapes encoding). It drives the demo and the benchmarks, and lets anyone try
the perception node in RViz without a camera. The topic names are a real driver's
(``v4l2_camera``, ``usb_cam``), so under ``__ns:=/camera`` they are the launch file's defaults
``/camera/image_raw`` and ``/camera/camera_info``.
"""

from __future__ import annotations

import sys
from typing import Any

from mtl_perception.ros import conversions
import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

# The relative topic names of a typical camera driver; launch/camera.launch.py's defaults
# are these under /camera.
IMAGE_TOPIC = 'image_raw'
CAMERA_INFO_TOPIC = 'camera_info'


def camera_info_message(K: np.ndarray, width: int, height: int,
                        frame_id: str) -> CameraInfo:
    """Build the CameraInfo of an undistorted pinhole camera with matrix ``K``."""
    info = CameraInfo()
    info.header.frame_id = frame_id
    info.width, info.height = int(width), int(height)
    info.distortion_model = 'plumb_bob'
    info.d = [0.0] * 5
    info.k = [float(v) for v in np.asarray(K, dtype=np.float64).ravel()]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [info.k[0], 0.0, info.k[2], 0.0, 0.0, info.k[4], info.k[5], 0.0, 0.0, 0.0, 1.0,
              0.0]
    return info


class SyntheticCamera(Node):
    """Renders and publishes one frame per timer tick; ``frames_published`` counts them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('sim_camera', **kwargs)
        read_only = ParameterDescriptor(read_only=True)
        self.declare_parameter('width', 640, read_only)
        self.declare_parameter('height', 480, read_only)
        self.declare_parameter('rate_hz', 10.0, read_only)
        self.declare_parameter('seed', 0, read_only)
        self.declare_parameter('frame_id', 'camera_optical_frame', read_only)
        self.declare_parameter('publish_ground_truth', False, read_only)
        self.declare_parameter('max_frames', 0, ParameterDescriptor(
            read_only=True, description='Stop publishing after this many frames; 0: never.'))
        from mtl_perception.synth import SceneSequence

        value = self.get_parameter
        self.width, self.height = value('width').value, value('height').value
        self.rate_hz = float(value('rate_hz').value)
        self.frame_id = value('frame_id').value
        self.max_frames = int(value('max_frames').value)
        self.sequence = SceneSequence(int(value('seed').value), self.width, self.height)
        self.image_pub = self.create_publisher(Image, IMAGE_TOPIC, 10)
        self.info_pub = self.create_publisher(CameraInfo, CAMERA_INFO_TOPIC, 10)
        self.gt_pubs = {}
        if value('publish_ground_truth').value:
            self.gt_pubs = {name: self.create_publisher(Image, f'gt/{name}', 10)
                            for name in ('labels', 'depth', 'instances')}
        self.frames_published = 0
        self.last_frame = None
        self.timer = self.create_timer(1.0 / self.rate_hz, self.publish_next)

    def publish_next(self) -> None:
        if self.max_frames and self.frames_published >= self.max_frames:
            return
        frame = self.sequence.render(self.frames_published / self.rate_hz)
        stamp = self.get_clock().now().to_msg()
        info = camera_info_message(frame.K, self.width, self.height, self.frame_id)
        info.header.stamp = stamp
        image = conversions.numpy_to_image(frame.rgb, 'rgb8', info.header)
        self.info_pub.publish(info)
        self.image_pub.publish(image)
        if self.gt_pubs:
            self.gt_pubs['labels'].publish(
                conversions.numpy_to_image(frame.semantic, 'mono8', info.header))
            self.gt_pubs['depth'].publish(
                conversions.numpy_to_image(frame.depth_m.astype(np.float32), '32FC1',
                                           info.header))
            self.gt_pubs['instances'].publish(conversions.numpy_to_image(
                frame.instance_ids.astype(np.uint16), '16UC1', info.header))
        self.last_frame = (image.header.stamp, frame)
        self.frames_published += 1


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = SyntheticCamera()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
