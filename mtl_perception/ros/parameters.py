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
The node's parameters: one table with defaults, descriptions, ranges and mutability.

Kept apart from the node so tests and tools can compare ``config/camera.yaml`` with the
declared parameters without starting ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mtl_perception.core.instances import METHODS as INSTANCE_METHODS
from mtl_perception.core.pipeline import PipelineConfig
from mtl_perception.core.predictor import BACKENDS
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType

# Post-processing defaults have one home, core.pipeline.PipelineConfig; the node, the tools
# and config/camera.yaml (tested equal) all take them from there.
_PIPELINE = PipelineConfig()


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    description: str
    read_only: bool = False
    choices: tuple[str, ...] = ()
    int_range: tuple[int, int] | None = None
    float_range: tuple[float, float] | None = None

    def descriptor(self) -> ParameterDescriptor:
        kinds = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
                 float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
        description = self.description
        if self.choices:
            description += f' One of: {", ".join(self.choices)}.'
        descriptor = ParameterDescriptor(
            name=self.name, type=kinds[type(self.default)], description=description,
            read_only=self.read_only,
            additional_constraints=(f'one of {list(self.choices)}' if self.choices else ''))
        if self.int_range:
            descriptor.integer_range = [IntegerRange(from_value=self.int_range[0],
                                                     to_value=self.int_range[1], step=1)]
        if self.float_range:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=self.float_range[0], to_value=self.float_range[1], step=0.0)]
        return descriptor


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec('model_path', '', 'Checkpoint (.pt) or exported network (.onnx, from '
                  'mtl_export) to load; empty: the default model installed in '
                  'share/mtl_perception/models.', read_only=True),
    ParameterSpec('backend', 'auto', 'What runs the network: auto picks torch for .pt and '
                  'onnxruntime for .onnx; tensorrt builds and caches an engine from the .onnx '
                  '(needs CUDA and the tensorrt package).', read_only=True,
                  choices=BACKENDS),
    ParameterSpec('num_threads', 1, 'CPU threads of torch / onnxruntime on device cpu; 0: '
                  "the library's default (all cores). 1 by default: with another process "
                  'busy on the CPU, 2 threads ran the default model 5-9x slower than 1 '
                  '(docs/benchmarks.md).', read_only=True, int_range=(0, 256)),
    ParameterSpec('device', 'auto', 'Where the network runs.', read_only=True,
                  choices=('auto', 'cuda', 'cpu')),
    ParameterSpec('precision', 'fp32', 'Network precision; fp16 needs CUDA (falls back to fp32 '
                  'on the CPU).', read_only=True, choices=('fp32', 'fp16')),
    ParameterSpec('input_width', 0, "Network input width in pixels; 0: the checkpoint's.",
                  read_only=True, int_range=(0, 4096)),
    ParameterSpec('input_height', 0, "Network input height in pixels; 0: the checkpoint's.",
                  read_only=True, int_range=(0, 4096)),
    ParameterSpec('output_resolution', 'input', 'Resolution of the published images: the '
                  "camera's (input) or the network's (network, cheaper; a matching "
                  'camera_info is published beside each image).', read_only=True,
                  choices=('input', 'network')),
    ParameterSpec('use_compressed', False, 'Subscribe to image/compressed '
                  '(sensor_msgs/CompressedImage) instead of image.', read_only=True),
    ParameterSpec('qos_reliability', 'auto', 'Reliability of the image subscription. auto '
                  "matches the camera driver's publisher (reliable drivers then deliver "
                  "full-size frames over Fast DDS's default transports).", read_only=True,
                  choices=('auto', 'reliable', 'best_effort')),
    ParameterSpec('qos_depth', 1, 'Subscription queue depth; 1 means always the newest frame.',
                  read_only=True, int_range=(1, 100)),
    ParameterSpec('publish_labels', True, 'Publish semantic/labels (mono8 class ids).'),
    ParameterSpec('publish_color', True, 'Publish semantic/color (rgb8 palette image).'),
    ParameterSpec('publish_depth', True, 'Publish depth (32FC1 metres, NaN = no depth).'),
    ParameterSpec('publish_points', True, 'Publish instances/points (PointCloud2).'),
    ParameterSpec('publish_instance_ids', True, 'Publish instances/ids (16UC1 instance id per '
                  "pixel, 0 = none; ids match the markers and the cloud's instance field)."),
    ParameterSpec('publish_markers', True, 'Publish instances/markers (MarkerArray).'),
    ParameterSpec('publish_uncertainty', True, 'Publish uncertainty/semantic (32FC1, 1 - max '
                  'class probability) and uncertainty/task_sigmas.'),
    ParameterSpec('color_blend', 0.0, 'Weight of the camera image in semantic/color.',
                  float_range=(0.0, 1.0)),
    ParameterSpec('instance_method', _PIPELINE.instance_method, 'How centre votes are '
                  'clustered into instances.', choices=INSTANCE_METHODS),
    ParameterSpec('instance_min_pixels', _PIPELINE.instance_min_pixels, 'Smallest instance '
                  "kept, in pixels of the network's input (instances are clustered at the "
                  "network's resolution, so they do not depend on the camera or output size).",
                  int_range=(1, 1_000_000)),
    ParameterSpec('instance_peak_threshold', _PIPELINE.instance_peak_threshold,
                  'Grid method: an instance centre needs at least this fraction of '
                  'instance_min_pixels votes in its neighbourhood.',
                  float_range=(0.0, 1.0)),
    ParameterSpec('max_range_m', _PIPELINE.max_range_m, 'Depth beyond this range is '
                  'published as NaN and gives no points.', float_range=(0.1, 1000.0)),
    ParameterSpec('cloud_stride', _PIPELINE.cloud_stride, 'Use every n-th pixel (rows and '
                  'columns) for the cloud.',
                  int_range=(1, 16)),
    ParameterSpec('cloud_voxel_m', _PIPELINE.cloud_voxel_m, 'Voxel size for cloud '
                  'decimation; 0: off.',
                  float_range=(0.0, 1.0)),
    ParameterSpec('diagnostics_period_s', 1.0, 'Period of /diagnostics.', read_only=True,
                  float_range=(0.1, 60.0)),
    ParameterSpec('autostart', True, 'Configure and activate at start-up; false waits for a '
                  'lifecycle manager.', read_only=True),
)

PARAMETER_NAMES = tuple(spec.name for spec in PARAMETERS)


def allowed_values(name: str) -> str:
    """
    Describe what parameter ``name`` accepts, for the one-line error of a bad value.

    Said in the words of a params file (``5.0``, not ``5``, for a float), because rclpy refuses
    an integer for a double parameter and a user reading only the type would not see why.
    """
    spec = next((spec for spec in PARAMETERS if spec.name == name), None)
    if spec is None:
        return 'a parameter this node does not declare'
    if spec.choices:
        return f'one of {", ".join(spec.choices)}'
    if isinstance(spec.default, bool):
        return 'true or false'
    if isinstance(spec.default, int):
        low, high = spec.int_range or ('-inf', 'inf')
        return f'an integer in [{low}, {high}]'
    if isinstance(spec.default, float):
        low, high = spec.float_range or (float('-inf'), float('inf'))
        return f'a float in [{low:g}, {high:g}], written with a decimal point (5.0, not 5)'
    return 'a string'
