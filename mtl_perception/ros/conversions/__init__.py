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
Pure conversions between ROS 2 messages and NumPy arrays: the package's public API.

Every function here is pure: no node, no ``rclpy.init``, no global state. Bad input raises
``TypeError`` (not a message of the expected kind, wrong array type) or ``ValueError`` (a
message or array whose content is inconsistent) with a message that names the problem; no
``assert``, which ``python -O`` drops. Pixels and points are handled with vectorised NumPy
views and structured dtypes, never with Python loops over pixels or points.

Readers (``image_to_numpy``, ``pointcloud2_to_structured`` ...) duck-type their input: any
object with the message's fields works, so rclpy messages and the message classes of the
``rosbags`` library (whose ``data`` is a NumPy ``uint8`` array) are both accepted. Readers
return views of the message's buffer where the layout allows it (no padding, native byte
order); pass ``copy=True`` for an independent array. Writers (``numpy_to_image``,
``structured_to_pointcloud2``) fill ``data`` with an ``array.array('B')`` built in one copy,
which is also the fast path of message classes that check their fields (Humble, Jazzy).

One module per message kind: :mod:`.image` (raw Image), :mod:`.compressed` (CompressedImage),
:mod:`.camera_info` (CameraInfo), :mod:`.point_cloud` (PointCloud2 and the PointField tables),
:mod:`.markers` (MarkerArray), :mod:`.diagnostics` (DiagnosticStatus); :mod:`.text` makes
message text safe to log and :mod:`._common` holds the limits, header copies and byte buffers
they share. ``Intrinsics``, what a CameraInfo is read into, is ROS-free and lives in
:mod:`mtl_perception.core.camera`; it is listed here as the return type of
:func:`camera_info_to_intrinsics`.

Pattern: ros2/common_interfaces ``sensor_msgs_py/point_cloud2.py``.
"""

from mtl_perception.core.camera import Intrinsics
from mtl_perception.ros.conversions._common import (
    copy_header,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE_PX,
)
from mtl_perception.ros.conversions.camera_info import (
    camera_info_to_intrinsics,
    FOCAL_ASPECT_RANGE,
    FOCAL_TO_SIZE_RANGE,
    ImplausibleCameraInfo,
    PRINCIPAL_POINT_RANGE,
    scaled_camera_info,
)
from mtl_perception.ros.conversions.compressed import (
    compressed_image_size,
    compressed_image_to_numpy,
)
from mtl_perception.ros.conversions.diagnostics import diagnostic_status
from mtl_perception.ros.conversions.image import (
    depth_image_to_metres,
    image_encoding_layout,
    image_to_numpy,
    image_to_rgb,
    numpy_to_image,
    supported_image_encodings,
)
from mtl_perception.ros.conversions.markers import instance_markers
from mtl_perception.ros.conversions.point_cloud import (
    dtype_from_pointfields,
    pointcloud2_to_structured,
    pointfields_from_dtype,
    structured_to_pointcloud2,
)
from mtl_perception.ros.conversions.text import MAX_LOG_TEXT_CHARS, printable

__all__ = [
    'FOCAL_ASPECT_RANGE',
    'FOCAL_TO_SIZE_RANGE',
    'MAX_IMAGE_BYTES',
    'MAX_IMAGE_PIXELS',
    'MAX_IMAGE_SIDE_PX',
    'MAX_LOG_TEXT_CHARS',
    'PRINCIPAL_POINT_RANGE',
    'ImplausibleCameraInfo',
    'Intrinsics',
    'camera_info_to_intrinsics',
    'compressed_image_size',
    'compressed_image_to_numpy',
    'copy_header',
    'depth_image_to_metres',
    'diagnostic_status',
    'dtype_from_pointfields',
    'image_encoding_layout',
    'image_to_numpy',
    'image_to_rgb',
    'instance_markers',
    'numpy_to_image',
    'pointcloud2_to_structured',
    'pointfields_from_dtype',
    'printable',
    'scaled_camera_info',
    'structured_to_pointcloud2',
    'supported_image_encodings',
]
