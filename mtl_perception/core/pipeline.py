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
From one camera image to the scene: network, instance clustering, metric depth, 3-D points.

:class:`ScenePipeline` wraps the :class:`~mtl_perception.core.predictor.Predictor` with the
post-processing every consumer needs, so the ROS node, the bag evaluator, the demo and the
benchmarks run literally the same code and report the same per-stage timings.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
import os
from pathlib import Path
import time
from typing import Any

import cv2
from mtl_perception.core import camera, geometry, instances, pointcloud
from mtl_perception.core.config_io import apply_overrides, ConfigError
from mtl_perception.core.predictor import NetworkOutputs, Prediction, Predictor
from mtl_perception.core.transfer import resize_labels, resize_smooth, to_host
import numpy as np
import torch
import yaml

OUTPUTS = ('semantic', 'instances', 'depth', 'cloud', 'confidence')
"""What a caller can ask :meth:`ScenePipeline.process` for."""


@dataclass(frozen=True)
class PipelineConfig:
    """
    Post-processing settings: the one home of their defaults.

    The field names are the node's parameter names: ``ros/parameters.py`` takes its defaults
    from this class and ``config/camera.yaml`` is tested equal to those, so the node, the bag
    evaluator, the benchmarks, ``mtl_evaluate`` and the Cityscapes writer cannot run other
    settings by accident. Tools build it with :func:`add_pipeline_arguments` and
    :func:`pipeline_config_from_args` (defaults, then a node parameter file, then options).
    All settings may change between frames.
    """

    instance_method: str = 'grid'
    instance_min_pixels: int = 40  # smallest instance kept, in pixels of the network's input
    instance_peak_threshold: float = 0.5  # grid: peak votes >= this x instance_min_pixels
    max_range_m: float = 20.0
    cloud_stride: int = 2
    cloud_voxel_m: float = 0.0
    # Further keyword parameters of instances.cluster_instances (library use, no node
    # parameter); they override the two instance settings above.
    instance_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.instance_method not in instances.METHODS:
            raise ValueError(f'instance_method must be one of {instances.METHODS}, got '
                             f'{self.instance_method!r}')
        if int(self.instance_min_pixels) < 1:
            raise ValueError(f'instance_min_pixels must be >= 1, got {self.instance_min_pixels}')
        if int(self.cloud_stride) < 1:
            raise ValueError(f'cloud_stride must be >= 1, got {self.cloud_stride}')
        if not self.max_range_m > 0 or self.cloud_voxel_m < 0:
            raise ValueError(f'max_range_m must be > 0 and cloud_voxel_m >= 0, got '
                             f'{self.max_range_m} and {self.cloud_voxel_m}')

    def instance_settings(self) -> dict[str, Any]:
        """Keyword parameters for :func:`~mtl_perception.core.instances.cluster_instances`."""
        return {'min_pixels': int(self.instance_min_pixels),
                'peak_threshold': float(self.instance_peak_threshold),
                **self.instance_params}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = 'parameters'
                     ) -> PipelineConfig:
        """
        Build from a mapping of node parameters; names that are not settings are ignored.

        That is what lets a node parameter file (model path, topics, ...) configure a tool.
        Wrong types raise :class:`~mtl_perception.core.config_io.ConfigError`.
        """
        names = {item.name for item in fields(cls)}
        return apply_overrides(cls(), {k: v for k, v in values.items() if k in names}, source)

    @classmethod
    def from_parameter_file(cls, path: str | os.PathLike) -> PipelineConfig:
        """Build from a node parameter YAML (``/**: ros__parameters: ...``) or a flat mapping."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f'cannot read parameter file {path}: {error}') from None
        if not isinstance(data, dict):
            raise ConfigError(f'parameter file {path} must hold a mapping')
        nested = [section['ros__parameters'] for section in data.values()
                  if isinstance(section, dict) and isinstance(section.get('ros__parameters'),
                                                              dict)]
        if len(nested) > 1:
            raise ConfigError(f'parameter file {path} has {len(nested)} ros__parameters '
                              'sections; keep one (the /** wildcard)')
        return cls.from_mapping(nested[0] if nested else data, str(path))

    def to_parameters(self) -> dict[str, Any]:
        """Return the node parameters that give this config (``instance_params`` has none)."""
        return {item.name: getattr(self, item.name) for item in fields(self)
                if item.name != 'instance_params'}


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--params FILE`` and one ``--instance-min-pixels``-style option per setting."""
    group = parser.add_argument_group("post-processing (the node's parameters)")
    group.add_argument('--params', default=None, metavar='FILE',
                       help='node parameter YAML (e.g. config/camera.yaml); its post-processing '
                       'settings are used, other parameters are ignored')
    defaults = PipelineConfig()
    for name, value in defaults.to_parameters().items():
        group.add_argument(f'--{name.replace("_", "-")}', dest=f'pipeline_{name}',
                           default=None, metavar=type(value).__name__.upper(),
                           help=f'default: {value!r}')


def pipeline_config_from_args(args: argparse.Namespace) -> PipelineConfig:
    """Defaults, then ``--params``, then the options given (what the node would run)."""
    config = (PipelineConfig.from_parameter_file(args.params) if getattr(args, 'params', None)
              else PipelineConfig())
    given = {name: getattr(args, f'pipeline_{name}') for name in config.to_parameters()
             if getattr(args, f'pipeline_{name}', None) is not None}
    return apply_overrides(config, given, 'command line')


@dataclass
class SceneResult:
    """
    Everything known about one frame, at the output resolution (default: the image's).

    ``prediction`` holds labels, confidence and inverse depth at that resolution (its
    ``instance_offsets`` stay on the device, at the network's resolution, and are None here).
    ``instances`` were clustered at the network's resolution and their id image upsampled
    (nearest); their ``pixel_counts`` count network pixels, ``centroids_px`` are output pixels.
    """

    prediction: Prediction
    instances: instances.InstanceResult | None = None
    depth_m: np.ndarray | None = None  # (H, W) float32, NaN where there is no depth
    cloud: np.ndarray | None = None  # structured points of instances, see core.pointcloud
    centroids_m: np.ndarray | None = None  # (N, 3) instance centroids in the optical frame
    timings_ms: dict[str, float] = field(default_factory=dict)


class ScenePipeline:
    """
    Predictor + clustering + geometry, asked only for the outputs somebody needs.

    One frame: the predictor runs the heads the outputs need and reduces them on the device
    at the network's resolution; instances are clustered there, on the device, with every
    threshold in network pixels (so the segmentation does not depend on the camera or the
    output size); labels, instance ids (nearest) and inverse depth (bilinear) are resized to
    the output size on the device and copied to the host in one transfer; metric depth and
    the cloud follow on the host, back-projecting only the pixels the cloud keeps.
    """

    def __init__(self, predictor: Predictor, config: PipelineConfig | None = None) -> None:
        self.predictor = predictor
        self.config = config or PipelineConfig()
        self.thing_table = predictor.class_set.is_thing()
        self._thing_tensor = torch.from_numpy(
            instances.thing_table(self.thing_table)).to(predictor.device)

    def process(self, image: np.ndarray, camera_matrix: np.ndarray | None = None,
                outputs: set[str] | frozenset[str] = frozenset(OUTPUTS),
                output_size: tuple[int, int] | None = None) -> SceneResult:
        """
        Run the requested outputs for an (H, W, 3) RGB image with intrinsics ``K``.

        Without ``camera_matrix`` the image is assumed to come from the canonical camera
        (``fx = f_canon * width``, principal point at the centre). ``output_size`` (W, H)
        defaults to the image's size; ``K`` always describes the image as given.
        """
        unknown = set(outputs) - set(OUTPUTS)
        if unknown:
            raise ValueError(f'unknown outputs {sorted(unknown)}; choose from {OUTPUTS}')
        config = self.config
        height, width = image.shape[:2]
        size = tuple(output_size) if output_size else (width, height)
        K = (np.asarray(camera_matrix, dtype=np.float64) if camera_matrix is not None
             else geometry.default_camera_matrix(width, height, self.predictor.f_canon))
        if size != (width, height):
            K = camera.resize_intrinsics(K, (width, height), size)
        need_instances = bool({'instances', 'cloud'} & set(outputs))
        need_depth = bool({'depth', 'cloud'} & set(outputs))
        tasks = set()
        if need_instances or {'semantic', 'confidence'} & set(outputs):
            tasks.add('semantic')
        if need_instances:
            tasks.add('instance')
        if need_depth:
            tasks.add('depth')
        net = self.predictor.infer(image, tasks, confidence='confidence' in outputs)
        timings = net.timings_ms
        found = None
        if need_instances and net.instance_offsets is not None and net.semantic is not None:
            start = time.perf_counter()
            found = self._cluster(net)
            timings['clustering'] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        device_outputs: dict[str, torch.Tensor] = {}
        if net.semantic is not None:
            device_outputs['semantic'] = resize_labels(net.semantic, size)
        if net.semantic_confidence is not None:
            device_outputs['semantic_confidence'] = resize_smooth(net.semantic_confidence, size)
        if need_depth and net.inverse_depth is not None:
            device_outputs['inverse_depth'] = resize_smooth(net.inverse_depth, size)
        if found is not None:
            device_outputs['instance_ids'] = resize_labels(found.instance_ids, size)
            device_outputs.update({f'instance_{k}': v for k, v in found.summary().items()})
        host = to_host(device_outputs)  # one device -> host copy per frame
        timings['postprocess'] += (time.perf_counter() - start) * 1e3
        prediction = Prediction(semantic=host.get('semantic'),
                                semantic_confidence=host.get('semantic_confidence'),
                                inverse_depth=host.get('inverse_depth'),
                                network_size=net.network_size, timings_ms=timings)
        result = SceneResult(prediction=prediction, timings_ms=timings)
        if found is not None:
            result.instances = instances.InstanceResult(
                instance_ids=host['instance_ids'], class_ids=host['instance_class_ids'],
                pixel_counts=host['instance_pixel_counts'],
                centroids_px=camera.scale_pixel_points(
                    host['instance_centroids_px'], size[0] / net.network_size[0],
                    size[1] / net.network_size[1]),
                confidence=host['instance_confidence'])
        if need_depth and prediction.inverse_depth is not None:
            start = time.perf_counter()
            result.depth_m = geometry.canonical_inverse_depth_to_depth_m(
                prediction.inverse_depth, fx_px=float(K[0, 0]), width_px=size[0],
                f_canon=self.predictor.f_canon, max_range_m=config.max_range_m)
            timings['depth'] = (time.perf_counter() - start) * 1e3
        if 'cloud' in outputs and result.instances is not None and result.depth_m is not None:
            start = time.perf_counter()
            colour = image if (image.shape[1], image.shape[0]) == size else cv2.resize(
                image, size, interpolation=cv2.INTER_AREA)
            result.cloud = pointcloud.instance_cloud_from_depth(
                result.depth_m, K, colour if colour.dtype == np.uint8 else None,
                prediction.semantic, result.instances.instance_ids, stride=config.cloud_stride,
                voxel_size_m=config.cloud_voxel_m or None, max_range_m=config.max_range_m)
            result.centroids_m = instance_centroids_m(result.cloud, len(result.instances))
            timings['cloud'] = (time.perf_counter() - start) * 1e3
        return result

    def _cluster(self, net: NetworkOutputs) -> instances.InstanceTensors:
        """Cluster at the network's resolution: on the device for grid, on the host else."""
        config = self.config
        if config.instance_method == 'grid':
            accepted = instances.accepted_parameters('grid', config.instance_settings())
            accepted.pop('device', None)  # the tensors' device
            return instances.cluster_grid_torch(net.semantic, net.instance_offsets,
                                                self._thing_tensor, **accepted)
        found = cluster_network_instances(net.semantic.cpu(), net.instance_offsets.cpu(),
                                          self.thing_table, config)
        return instances.InstanceTensors.from_result(found, net.semantic.device)


def cluster_network_instances(semantic: np.ndarray | torch.Tensor,
                              offsets: np.ndarray | torch.Tensor, thing_table: np.ndarray,
                              config: PipelineConfig) -> instances.InstanceResult:
    """Cluster one frame's votes with ``config``'s method and settings (node and tools alike)."""
    return instances.cluster_instances(semantic, offsets, thing_table,
                                       method=config.instance_method,
                                       **config.instance_settings())


def instance_centroids_m(cloud: np.ndarray, count: int) -> np.ndarray:
    """Mean 3-D point of each instance 1..count (NaN for instances without points)."""
    centroids = np.full((count, 3), np.nan, dtype=np.float32)
    if cloud.size == 0 or count == 0:
        return centroids
    index = cloud['instance'].astype(np.int64) - 1
    totals = np.zeros((count, 3), dtype=np.float64)
    counts = np.bincount(index, minlength=count)[:count]
    for axis, name in enumerate(('x', 'y', 'z')):
        totals[:, axis] = np.bincount(index, weights=cloud[name], minlength=count)[:count]
    with np.errstate(invalid='ignore', divide='ignore'):
        centroids[:] = np.where(counts[:, None] > 0, totals / counts[:, None], np.nan)
    return centroids
