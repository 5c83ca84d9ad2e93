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
Quaternions in PyBullet's (x, y, z, w) order: the base orientations of the pool bodies.

The renderer turns each catalogue model z-up with :func:`rpy_quat` once at load time and yaws
it into place with :func:`yaw_quat` per scene; NumPy only, so it is tested without PyBullet.
"""

from __future__ import annotations

import math

import numpy as np


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the Hamilton product ``a b`` of two (x, y, z, w) quaternions."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz])


def yaw_quat(yaw: float) -> np.ndarray:
    """Return the quaternion of a rotation by ``yaw`` radians about the world z axis."""
    return np.array([0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)])


def rpy_quat(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """Return the quaternion of ``Rz(yaw) Ry(pitch) Rx(roll)``, PyBullet's Euler convention."""
    qx = np.array([math.sin(roll / 2.0), 0.0, 0.0, math.cos(roll / 2.0)])
    qy = np.array([0.0, math.sin(pitch / 2.0), 0.0, math.cos(pitch / 2.0)])
    return quat_multiply(yaw_quat(yaw), quat_multiply(qy, qx))
