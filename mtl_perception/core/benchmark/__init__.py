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
Benchmarks of the ROS-free part, as a library: ``mtl_benchmark`` and ``mtl_benchmark_instances``.

:mod:`.timing` (network, pipeline and frame-path speed), :mod:`.clustering` (the instance
clustering methods on frames of known truth) and :mod:`.sections` (the one markdown section
shape they all write). The node over DDS is measured in :mod:`mtl_perception.ros.benchmark_dds`.
"""

from mtl_perception.core.benchmark.clustering import (
    clustering_section,
    Frame,
    frame_from_instances,
    MethodResult,
    run_method,
    synthetic_frame,
)
from mtl_perception.core.benchmark.sections import (
    dds_section,
    frame_path_dds_table,
    frame_path_section,
    markdown_section,
    model_section,
)
from mtl_perception.core.benchmark.timing import (
    bench_frame_path,
    bench_model,
    random_checkpoint,
    smooth_noise_image,
    time_calls,
)

__all__ = [
    'bench_frame_path', 'bench_model', 'clustering_section', 'dds_section', 'Frame',
    'frame_from_instances', 'frame_path_dds_table', 'frame_path_section', 'markdown_section',
    'MethodResult', 'model_section', 'random_checkpoint', 'run_method',
    'synthetic_frame', 'smooth_noise_image', 'time_calls',
]
