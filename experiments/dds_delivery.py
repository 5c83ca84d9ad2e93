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
Count how many large camera frames cross Fast DDS for each QoS / transport combination.

    python experiments/dds_delivery.py            # prints the table of docs/ros.md

Each row starts a subscriber process and a publisher process (20 rgb8 frames at 10 Hz) on
one host in a private ROS domain and counts what arrives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

PUBLISHER = """
import sys, time, numpy as np, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
reliable, width, height = sys.argv[1] == 'reliable', int(sys.argv[2]), int(sys.argv[3])
rclpy.init(); node = rclpy.create_node('pub')
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE if reliable
                 else ReliabilityPolicy.BEST_EFFORT)
pub = node.create_publisher(Image, 'image', qos)
msg = Image(width=width, height=height, encoding='rgb8', step=width * 3)
msg.data = np.random.randint(0, 255, width * height * 3, dtype=np.uint8).tobytes()
time.sleep(2.0)
for i in range(20):
    pub.publish(msg); time.sleep(0.1)
time.sleep(1.0)
"""

SUBSCRIBER = """
import sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
reliable = sys.argv[1] == 'reliable'
rclpy.init(); node = rclpy.create_node('sub'); got = []
qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE if reliable
                 else ReliabilityPolicy.BEST_EFFORT)
node.create_subscription(Image, 'image', lambda m: got.append(1), qos)
end = time.time() + 5.5
while time.time() < end:
    rclpy.spin_once(node, timeout_sec=0.1)
print(len(got))
"""

ROWS = [
    ((640, 480), 'reliable', 'reliable', 'default'),
    ((640, 480), 'reliable', 'best_effort', 'default'),
    ((640, 480), 'best_effort', 'best_effort', 'default'),
    ((1280, 720), 'reliable', 'reliable', 'default'),
    ((1280, 720), 'reliable', 'best_effort', 'default'),
    ((1280, 720), 'best_effort', 'best_effort', 'default'),
    ((640, 480), 'reliable', 'best_effort', 'both'),
    ((640, 480), 'best_effort', 'best_effort', 'both'),
    ((1280, 720), 'reliable', 'best_effort', 'both'),
    ((1280, 720), 'best_effort', 'best_effort', 'both'),
    ((640, 480), 'reliable', 'reliable', 'subscriber'),
]


def environment(large_data: bool) -> dict[str, str]:
    env = dict(os.environ, ROS_DOMAIN_ID=str(90 + os.getpid() % 10),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env.pop('FASTDDS_BUILTIN_TRANSPORTS', None)
    if large_data:
        env['FASTDDS_BUILTIN_TRANSPORTS'] = 'LARGE_DATA'
    return env


def main() -> int:
    print('| frame | publisher | subscriber | LARGE_DATA | received |')
    print('|---|---|---|---|---|')
    for (width, height), publisher, subscriber, large in ROWS:
        sub = subprocess.Popen([sys.executable, '-c', SUBSCRIBER, subscriber],
                               env=environment(large in ('both', 'subscriber')),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        time.sleep(0.3)
        subprocess.run([sys.executable, '-c', PUBLISHER, publisher, str(width), str(height)],
                       env=environment(large == 'both'), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        received = sub.communicate()[0].strip()
        print(f'| {width}x{height} | {publisher} | {subscriber} | {large} | {received} / 20 |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
