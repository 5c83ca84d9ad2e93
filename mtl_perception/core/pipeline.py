"""From one camera image to the scene: network, instance clustering, metric depth, 3-D points.

:class:`ScenePipeline` wraps the :class:`~mtl_perception.core.predictor.Predictor` with the
post-processing every consumer needs, so the ROS node, the bag evaluator, the demo and the
benchmarks run literally the same code and report the same per-stage timings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import time
from typing import Any

import numpy as np

from mtl_perception.core import geometry, instances, pointcloud
from mtl_perception.core.predictor import Prediction, Predictor

OUTPUTS = ('semantic', 'instances', 'depth', 'cloud', 'confidence')
"""What a caller can ask :meth:`ScenePipeline.process` for."""


@dataclass
class PipelineConfig:
    """Post-processing settings; all of them may change between frames."""

    instance_method: str = 'grid'
    instance_params: dict[str, Any] = field(default_factory=dict)
    max_range_m: float = 20.0
    cloud_stride: int = 2
    cloud_voxel_m: float = 0.0


@dataclass
class SceneResult:
    """Everything known about one frame, at the input image's resolution."""

    prediction: Prediction
    instances: instances.InstanceResult | None = None
    depth_m: np.ndarray | None = None  # (H, W) float32, NaN where there is no depth
    cloud: np.ndarray | None = None  # structured points of instances, see core.pointcloud
    centroids_m: np.ndarray | None = None  # (N, 3) instance centroids in the optical frame
    timings_ms: dict[str, float] = field(default_factory=dict)


class ScenePipeline:
    """Predictor + clustering + geometry, asked only for the outputs somebody needs."""

    def __init__(self, predictor: Predictor, config: PipelineConfig | None = None) -> None:
        self.predictor = predictor
        self.config = config or PipelineConfig()
        self.thing_table = predictor.class_set.is_thing()

    def process(self, image: np.ndarray, camera_matrix: np.ndarray | None = None,
                outputs: set[str] | frozenset[str] = frozenset(OUTPUTS)) -> SceneResult:
        """Run the requested outputs for an (H, W, 3) RGB image with intrinsics ``K``.

        Without ``camera_matrix`` the image is assumed to come from the canonical camera
        (``fx = f_canon * width``, principal point at the centre).
        """
        unknown = set(outputs) - set(OUTPUTS)
        if unknown:
            raise ValueError(f'unknown outputs {sorted(unknown)}; choose from {OUTPUTS}')
        height, width = image.shape[:2]
        K = (np.asarray(camera_matrix, dtype=np.float64) if camera_matrix is not None
             else geometry.default_camera_matrix(width, height, self.predictor.f_canon))
        need_instances = bool({'instances', 'cloud'} & set(outputs))
        need_depth = bool({'depth', 'cloud'} & set(outputs))
        tasks = set()
        if need_instances or 'semantic' in outputs:
            tasks.add('semantic')
        if need_instances:
            tasks.add('instance')
        if need_depth:
            tasks.add('depth')
        prediction = self.predictor.predict(image, outputs=tasks,
                                            confidence='confidence' in outputs)
        result = SceneResult(prediction=prediction, timings_ms=dict(prediction.timings_ms))
        if need_instances and prediction.instance_offsets is not None:
            start = time.perf_counter()
            result.instances = instances.cluster_instances(
                prediction.semantic, prediction.instance_offsets, self.thing_table,
                method=self.config.instance_method, **self.config.instance_params)
            result.timings_ms['clustering'] = (time.perf_counter() - start) * 1e3
        if need_depth and prediction.inverse_depth is not None:
            start = time.perf_counter()
            result.depth_m = geometry.canonical_inverse_depth_to_depth_m(
                prediction.inverse_depth, fx_px=float(K[0, 0]), width_px=width,
                f_canon=self.predictor.f_canon, max_range_m=self.config.max_range_m)
            result.timings_ms['depth'] = (time.perf_counter() - start) * 1e3
        if 'cloud' in outputs and result.instances is not None and result.depth_m is not None:
            start = time.perf_counter()
            points = geometry.backproject(result.depth_m, K)
            result.cloud = pointcloud.build_instance_cloud(
                points, image, prediction.semantic, result.instances.instance_ids,
                stride=self.config.cloud_stride,
                voxel_size_m=self.config.cloud_voxel_m or None,
                max_range_m=self.config.max_range_m)
            result.centroids_m = instance_centroids_m(result.cloud,
                                                      len(result.instances.class_ids))
            result.timings_ms['cloud'] = (time.perf_counter() - start) * 1e3
        return result


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
