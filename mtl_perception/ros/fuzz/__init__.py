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
Hostile camera input for the node: seeded mutations, what the node must do with each, a runner.

Three jobs, one module each: :mod:`.cases` (valid messages and named mutations of them),
:mod:`.oracle` (the outcome the node must report, from the node's own rules applied in the
node's order) and :mod:`.runner` (sending cases over DDS and counting the answers). This module
presents the public API.

Used by ``test/ros/test_fuzz_dds.py`` (a short run) and ``mtl_stress fuzz`` (the long one).
"""

from mtl_perception.ros.fuzz.cases import (
    ANSWERED,
    as_received,
    CAMERA_INFO_MUTATIONS,
    Case,
    clone,
    COMPRESSED_MUTATIONS,
    IMAGE_MUTATIONS,
    MUTATIONS,
    stamp_ns_of,
    valid_camera_info,
    valid_compressed,
    valid_image,
)
from mtl_perception.ros.fuzz.oracle import generate, Oracle
from mtl_perception.ros.fuzz.runner import FuzzReport, FuzzRunner, node_status, status_values

__all__ = [
    'ANSWERED',
    'CAMERA_INFO_MUTATIONS',
    'COMPRESSED_MUTATIONS',
    'IMAGE_MUTATIONS',
    'MUTATIONS',
    'Case',
    'FuzzReport',
    'FuzzRunner',
    'Oracle',
    'as_received',
    'clone',
    'generate',
    'node_status',
    'stamp_ns_of',
    'status_values',
    'valid_camera_info',
    'valid_compressed',
    'valid_image',
]
