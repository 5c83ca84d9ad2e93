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

"""Header copies, instance markers, diagnostic status and the package API."""

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import make_header  # noqa: E402, I100
from diagnostic_msgs.msg import DiagnosticStatus  # noqa: E402
from mtl_perception.ros import conversions  # noqa: E402
from mtl_perception.ros.conversions import (  # noqa: E402
    copy_header,
    diagnostic_status,
    instance_markers,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402


def test_copy_header_is_a_deep_copy():
    header = make_header()
    copied = copy_header(header)
    header.stamp.nanosec = 0
    header.frame_id = 'other'
    assert (copied.stamp.sec, copied.stamp.nanosec, copied.frame_id) == (
        12, 345, 'camera_optical_frame')
    with pytest.raises(TypeError, match='std_msgs/Header'):
        copy_header(Image())


def test_instance_markers_clear_then_draw_each_instance():
    centroids = np.array([[0.1, 0.2, 1.5], [np.nan, 0.0, 1.0], [-0.3, 0.0, 2.0]])
    markers = instance_markers(centroids, ['chair 1', 'table 2', 'person 3'],
                               np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8),
                               make_header())
    assert isinstance(markers, MarkerArray)
    clear, *drawn = markers.markers
    assert clear.action == Marker.DELETEALL
    assert [(m.id, m.type) for m in drawn] == [
        (0, Marker.SPHERE), (1, Marker.TEXT_VIEW_FACING),
        (4, Marker.SPHERE), (5, Marker.TEXT_VIEW_FACING)]
    assert drawn[1].text == 'chair 1' and drawn[3].text == 'person 3'
    assert drawn[0].pose.position.z == 1.5
    assert drawn[1].pose.position.y == pytest.approx(0.1)  # above the sphere (y down)
    assert (drawn[2].color.b, drawn[2].color.r) == (1.0, 0.0)
    assert all(m.header.frame_id == 'camera_optical_frame' and m.header.stamp.sec == 12
               for m in markers.markers)
    restored = deserialize_message(serialize_message(markers), MarkerArray)
    assert len(restored.markers) == 5


def test_instance_markers_validate_shapes():
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        instance_markers(np.zeros((2, 2)), ['a', 'b'], np.zeros((2, 3)), make_header())
    with pytest.raises(ValueError, match='labels'):
        instance_markers(np.zeros((2, 3)), ['a'], np.zeros((2, 3)), make_header())


def test_diagnostic_status_from_a_dict():
    status = diagnostic_status('mtl_perception: inference',
                               {'latency_ms': 12.3456789, 'frames': 10, 'gpu': False},
                               level=DiagnosticStatus.WARN, message='slow',
                               hardware_id='cpu')
    assert status.level == DiagnosticStatus.WARN
    assert [(kv.key, kv.value) for kv in status.values] == [
        ('latency_ms', '12.3457'), ('frames', '10'), ('gpu', 'false')]
    restored = deserialize_message(serialize_message(status), DiagnosticStatus)
    assert restored.message == 'slow'
    with pytest.raises(ValueError, match='level'):
        diagnostic_status('x', {}, level=7)


def test_module_exports_exist():
    for name in conversions.__all__:
        assert hasattr(conversions, name), name
