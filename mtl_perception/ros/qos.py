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
Outputs that arrive: the Fast DDS profile the node applies to itself, and why.

A best-effort subscriber (``qos_profile_sensor_data``, what many consumers use) on the same
host, at Fast DDS's default settings, lost most large outputs of a reliable publisher at
default settings: 5 of 12 640x480 depth images arrived at 5 Hz, none at 1280x720
(``docs/ros.md``). The loss is on the publishing side: its 512 KB shared-memory segment
cannot hold the ~64 KB fragments of a 1-4 MB message at once. The shipped profile
``config/fastdds_large_outputs.xml`` gives the node's participant a 32 MB segment (UDPv4 kept
for other hosts); with it every output arrived, at both sizes and rates, with the subscriber
unchanged. A reliable publisher stays compatible with reliable and best-effort subscribers.

:func:`use_shipped_dds_profile` sets ``FASTDDS_DEFAULT_PROFILES_FILE`` to that file before
``rclpy.init`` unless the user has chosen otherwise: a profile file of their own
(``FASTDDS_DEFAULT_PROFILES_FILE`` or the older ``FASTRTPS_DEFAULT_PROFILES_FILE``),
``FASTDDS_BUILTIN_TRANSPORTS``, another RMW, or ``MTL_PERCEPTION_DDS_PROFILE=none``
(``MTL_PERCEPTION_DDS_PROFILE=/path.xml`` picks another file).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
import sys

PROFILE_NAME = 'fastdds_large_outputs.xml'
PROFILE_VARIABLES = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
OPT_OUT_VARIABLE = 'MTL_PERCEPTION_DDS_PROFILE'


def shipped_profile_path() -> Path | None:
    """Return the installed (or source-tree) ``config/fastdds_large_outputs.xml``, if any."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory('mtl_perception')))
    except (ImportError, LookupError, ValueError, OSError):
        pass  # no ROS environment or package not in the ament index
    candidates.append(Path(sys.prefix) / 'share' / 'mtl_perception')
    candidates.append(Path(__file__).resolve().parents[2])
    for folder in candidates:
        path = folder / 'config' / PROFILE_NAME
        if path.is_file():
            return path
    return None


def use_shipped_dds_profile(environ: MutableMapping[str, str]) -> str:
    """
    Point Fast DDS at the shipped profile unless the user chose; return what was decided.

    Must run before ``rclpy.init`` (Fast DDS reads the variable when the participant is
    created). Returns a sentence for the node's log.
    """
    choice = environ.get(OPT_OUT_VARIABLE, '').strip()
    if choice.lower() in ('none', 'off', 'false', '0'):
        return f'Fast DDS profile: none ({OPT_OUT_VARIABLE}={choice})'
    for variable in PROFILE_VARIABLES:
        if environ.get(variable):
            return f'Fast DDS profile: {environ[variable]} (from {variable})'
    if environ.get('FASTDDS_BUILTIN_TRANSPORTS'):
        return ('Fast DDS profile: none (FASTDDS_BUILTIN_TRANSPORTS='
                f'{environ["FASTDDS_BUILTIN_TRANSPORTS"]} chosen by the user)')
    rmw = environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    if rmw not in ('rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp'):
        return f'Fast DDS profile: not applicable ({rmw})'
    path = Path(choice) if choice else shipped_profile_path()
    if path is None or not path.is_file():
        return f'Fast DDS profile: none ({PROFILE_NAME} not found)'
    environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(path)
    return f'Fast DDS profile: {path} (large outputs reach best-effort subscribers)'
