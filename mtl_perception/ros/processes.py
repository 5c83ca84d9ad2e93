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
Start the node as a separate process, the way ``ros2 run`` would, without ros2cli.

Used by the demo, the benchmarks, the bag evaluator's live mode and the integration tests, so
all of them exercise the node over real DDS between processes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from typing import Any


def isolated_ros_env(domain_id: int | None = None) -> dict[str, str]:
    """
    Environment of a private ROS graph: its own domain id, discovery on this host only.

    The camera side keeps Fast DDS's default transports (``FASTDDS_BUILTIN_TRANSPORTS`` is
    removed), like a driver started by somebody else.
    """
    env = dict(os.environ)
    if domain_id is None:
        domain_id = int(env.get('MTL_DOMAIN_ID', random.Random(os.getpid()).randint(1, 100)))
    env['ROS_DOMAIN_ID'] = str(domain_id)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    env['PYTHONUNBUFFERED'] = '1'
    env.pop('FASTDDS_BUILTIN_TRANSPORTS', None)
    return env


def use_env(env: dict[str, str]) -> None:
    """Apply the ROS variables of ``env`` to this process (call before ``rclpy.init``)."""
    for key in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'RMW_IMPLEMENTATION'):
        os.environ[key] = env[key]
    os.environ.pop('FASTDDS_BUILTIN_TRANSPORTS', None)


def start_node(namespace: str, params: dict[str, Any], env: dict[str, str],
               remaps: dict[str, str] | None = None, module: str = 'mtl_perception.ros.node',
               capture: bool = True) -> subprocess.Popen:
    """Start ``python -m module --ros-args ...`` with parameters and remappings."""
    args = [sys.executable, '-m', module, '--ros-args', '-r', f'__ns:={namespace}']
    for key, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ['-p', f'{key}:={text}']
    for source, target in (remaps or {}).items():
        args += ['-r', f'{source}:={target}']
    output = subprocess.PIPE if capture else None
    return subprocess.Popen(args, env=env, stdout=output, stderr=subprocess.STDOUT,
                            text=True)


def stop_node(process: subprocess.Popen, timeout_s: float = 15.0) -> str:
    """Stop with SIGINT (Ctrl-C) like a launch system; return what the process printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.stdout.read() if process.stdout else ''
