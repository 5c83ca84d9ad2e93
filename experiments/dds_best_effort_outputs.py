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
Count what a best-effort subscriber at Fast DDS defaults receives of large node-like outputs.

    python experiments/dds_best_effort_outputs.py config/fastdds_large_outputs.xml

Rows: the publisher at Fast DDS defaults, then with the given profile file; the subscriber
process always at defaults (qos_profile_sensor_data). Prints the table of docs/ros.md.
"""

import os
import subprocess
import sys
import time

PUB = r"""
import sys, time, numpy as np, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy
from sensor_msgs.msg import Image
kind, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
count, period = int(sys.argv[4]), float(sys.argv[5])
rclpy.init(); node = rclpy.create_node('pub')
qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE,
                 history=HistoryPolicy.KEEP_LAST)
pub = node.create_publisher(Image, 'out', qos)
enc, bpp = {'mono8': ('mono8', 1), 'depth': ('32FC1', 4), 'rgb8': ('rgb8', 3)}[kind]
msg = Image(width=width, height=height, encoding=enc, step=width * bpp)
msg.data = np.random.randint(0, 255, width * height * bpp, dtype=np.uint8).tobytes()
end = time.time() + 10
while pub.get_subscription_count() == 0 and time.time() < end:
    rclpy.spin_once(node, timeout_sec=0.05)
time.sleep(1.0)
for i in range(count):
    msg.header.stamp.sec = i
    pub.publish(msg); t = time.time()
    while time.time() - t < period: rclpy.spin_once(node, timeout_sec=0.01)
time.sleep(1.0)
"""
SUB = r"""
import sys, time, rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
rclpy.init(); node = rclpy.create_node('sub'); got = set()
node.create_subscription(Image, 'out', lambda m: got.add(m.header.stamp.sec),
                         qos_profile_sensor_data)
end = time.time() + float(sys.argv[1])
while time.time() < end: rclpy.spin_once(node, timeout_sec=0.05)
print(len(got))
"""


def environment(profile: str | None) -> dict[str, str]:
    """Return a private-domain environment, Fast DDS defaults unless ``profile`` is given."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(60 + os.getpid() % 30),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    for key in ('FASTDDS_BUILTIN_TRANSPORTS', 'FASTDDS_DEFAULT_PROFILES_FILE',
                'FASTRTPS_DEFAULT_PROFILES_FILE'):
        env.pop(key, None)
    if profile:
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
    return env


def main() -> int:
    count = 12
    profiles = [None] + sys.argv[1:2]
    print('| publisher | message | rate | received |')
    print('|---|---|---|---|')
    for profile in profiles:
        for kind, width, height in (('mono8', 640, 480), ('depth', 640, 480),
                                    ('mono8', 1280, 720), ('depth', 1280, 720)):
            for period in (0.2, 0.05):
                sub = subprocess.Popen(
                    [sys.executable, '-c', SUB, str(6 + count * period)],
                    env=environment(None), stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL, text=True)
                time.sleep(0.5)
                subprocess.run(
                    [sys.executable, '-c', PUB, kind, str(width), str(height), str(count),
                     str(period)], env=environment(profile), stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, timeout=60)
                got = sub.communicate(timeout=60)[0].strip()
                print(f'| {"profile" if profile else "defaults"} | {kind} {width}x{height} | '
                      f'{1 / period:.0f} Hz | {got} / {count} |', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
