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
Instance centroids as an RViz ``visualization_msgs/MarkerArray``: a sphere and a label each.

One message per instance, not per point; the array starts with a DELETEALL so the markers of
the previous frame never linger.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import Any

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, Vector3
from mtl_perception.ros.conversions._common import copy_header
import numpy as np
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray


def _duration(seconds: float) -> Duration:
    whole = math.floor(seconds)
    return Duration(sec=int(whole), nanosec=int(round((seconds - whole) * 1e9)) % 1_000_000_000)


def instance_markers(centroids_xyz: np.ndarray, labels: Sequence[str], colours: np.ndarray,
                     header: Any, *, namespace: str = 'instances',
                     sphere_diameter_m: float = 0.1, text_height_m: float = 0.08,
                     text_offset_xyz_m: Sequence[float] = (0.0, -0.1, 0.0),
                     lifetime_s: float = 0.0) -> MarkerArray:
    """
    Return a ``MarkerArray`` with a sphere and a text label at each instance centroid.

    The first marker is a ``DELETEALL`` so the markers of the previous frame vanish even when
    fewer instances are seen now. Instance ``i`` gets a SPHERE with id ``2 i`` and a
    TEXT_VIEW_FACING with id ``2 i + 1`` in ``namespace``; all share a copy of ``header``.
    ``centroids_xyz`` is (N, 3) in metres in the header's frame, ``labels`` holds N strings
    and ``colours`` is (N, 3) RGB, floats in [0, 1] or integers in [0, 255]. Instances with a
    non-finite centroid (no depth) are skipped. The text is offset by ``text_offset_xyz_m``;
    in a camera optical frame y points down, so the default puts it above the sphere.
    """
    centroids = np.asarray(centroids_xyz, dtype=np.float64)
    if centroids.ndim != 2 or centroids.shape[1] != 3:
        raise ValueError(f'centroids_xyz must have shape (N, 3), got {centroids.shape}')
    count = centroids.shape[0]
    if isinstance(labels, str) or len(labels) != count:
        raise ValueError(f'labels must be a sequence of {count} strings, one per centroid')
    colour_array = np.asarray(colours)
    if colour_array.shape != (count, 3):
        raise ValueError(f'colours must have shape ({count}, 3), got {colour_array.shape}')
    if colour_array.dtype.kind in 'iub':
        colour_array = colour_array.astype(np.float64) / 255.0
    colour_array = np.clip(colour_array.astype(np.float64), 0.0, 1.0)
    offset = np.asarray(text_offset_xyz_m, dtype=np.float64).reshape(3)
    lifetime = _duration(lifetime_s)
    stamped = copy_header(header)

    clear = Marker(header=copy_header(stamped), ns=namespace, action=Marker.DELETEALL)
    markers = [clear]
    finite = np.isfinite(centroids).all(axis=1)
    for index in np.flatnonzero(finite):  # one message per instance, not per point
        x, y, z = (float(value) for value in centroids[index])
        red, green, blue = (float(value) for value in colour_array[index])
        colour = ColorRGBA(r=red, g=green, b=blue, a=1.0)
        sphere = Marker(header=copy_header(stamped), ns=namespace, id=int(2 * index),
                        type=Marker.SPHERE, action=Marker.ADD, lifetime=lifetime,
                        scale=Vector3(x=sphere_diameter_m, y=sphere_diameter_m,
                                      z=sphere_diameter_m),
                        color=colour)
        sphere.pose.position = Point(x=x, y=y, z=z)
        sphere.pose.orientation.w = 1.0
        text = Marker(header=copy_header(stamped), ns=namespace, id=int(2 * index + 1),
                      type=Marker.TEXT_VIEW_FACING, action=Marker.ADD, lifetime=lifetime,
                      scale=Vector3(z=text_height_m), color=colour, text=str(labels[index]))
        text.pose.position = Point(x=x + offset[0], y=y + offset[1], z=z + offset[2])
        text.pose.orientation.w = 1.0
        markers.append(sphere)
        markers.append(text)
    return MarkerArray(markers=markers)
