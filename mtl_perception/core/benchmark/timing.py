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
Speed measurements of the network and the pipeline: what ``mtl_benchmark`` times.

Every figure is a median over repeated calls after warm-up calls, so one slow call (a page
fault, a frequency change) does not move it; every ratio compares numbers of the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import time
from typing import Any

import cv2
from mtl_perception.core.checkpoint import Checkpoint, Preprocessing
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.config import preset_config
from mtl_perception.core.model import MultiTaskNet
from mtl_perception.core.pipeline import PipelineConfig, ScenePipeline
from mtl_perception.core.predictor import Predictor
import numpy as np


def random_checkpoint(preset: str, width: int, height: int) -> Checkpoint:
    """Untrained weights: speed does not depend on the values of the weights."""
    config = preset_config(preset, SYNTH_CLASSES.num_classes)
    return Checkpoint(model_config=config, class_set=SYNTH_CLASSES,
                      preprocessing=Preprocessing(input_width=width, input_height=height),
                      state_dict=MultiTaskNet(config).state_dict())


def smooth_noise_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Return a smooth image with some structure (blurred noise), not a constant frame."""
    noise = np.random.default_rng(seed).integers(0, 255, (height // 8, width // 8, 3),
                                                 dtype=np.uint8)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)


def time_calls(function: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    """Call ``function`` ``warmup`` times, then return the ms of each of ``repeats`` calls."""
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def bench_model(checkpoint: Checkpoint, size: tuple[int, int], device: str, precision: str,
                repeats: int, config: PipelineConfig | None = None) -> dict[str, Any]:
    """Return median ms of forward, predict and the whole pipeline at ``size``."""
    predictor = Predictor(checkpoint, device=device, precision=precision, input_size=size)
    image = smooth_noise_image(*size)
    tensor = predictor.preprocess(image)

    def forward() -> None:
        predictor.forward(tensor)
        predictor._synchronize()

    forward_ms = time_calls(forward, repeats)
    predict_ms = time_calls(lambda: predictor.predict(image), repeats)
    pipeline = ScenePipeline(predictor, config)
    pipeline_ms = time_calls(lambda: pipeline.process(image), repeats)
    return {'preset': checkpoint.model_config.preset, 'size': f'{size[0]}x{size[1]}',
            'device': str(predictor.device), 'precision': predictor.precision,
            'forward_ms': float(np.median(forward_ms)),
            'predict_ms': float(np.median(predict_ms)),
            'pipeline_ms': float(np.median(pipeline_ms))}


def bench_frame_path(model_path: Path, rgb: np.ndarray, K: np.ndarray,
                     network_size: tuple[int, int], repeats: int,
                     config: PipelineConfig | None = None, device: str = 'cpu',
                     onnx_path: Path | None = None, precision: str = 'fp32',
                     backend: str = 'torch') -> dict[str, Any]:
    """
    Follow one camera frame through the pipeline: median ms per stage and the ratios.

    The trained model on ``rgb`` (H, W, 3) with intrinsics ``K`` (a rendered scene gives
    realistic instances), every output asked for, as the node does when everything is
    subscribed. ``non_forward_ms`` is the median total
    minus the median forward. ``backend`` other than torch runs ``onnx_path``; with the torch
    backend on the CPU and ``onnx_path``, the forward alone is also timed in onnxruntime.
    """
    camera_size = (rgb.shape[1], rgb.shape[0])
    predictor = Predictor(model_path if backend == 'torch' else onnx_path, device=device,
                          precision=precision, input_size=network_size, backend=backend)
    pipeline = ScenePipeline(predictor, config)
    stages: dict[str, list[float]] = {}
    totals = []
    for index in range(repeats + 3):
        start = time.perf_counter()
        result = pipeline.process(rgb, K)
        total = (time.perf_counter() - start) * 1e3
        if index < 3:
            continue
        totals.append(total)
        for stage, value in result.timings_ms.items():
            stages.setdefault(stage, []).append(value)
    row = {'camera': f'{camera_size[0]}x{camera_size[1]}', 'backend': backend,
           'precision': predictor.precision,
           'network': f'{network_size[0]}x{network_size[1]}',
           'instances': len(result.instances), 'cloud_points': int(result.cloud.size),
           'total_ms': float(np.median(totals)),
           **{f'{stage}_ms': float(np.median(values)) for stage, values in stages.items()}}
    row['non_forward_ms'] = row['total_ms'] - row['forward_ms']
    row['non_forward_ratio'] = row['non_forward_ms'] / row['forward_ms']
    if onnx_path is not None and backend == 'torch' and predictor.device.type == 'cpu':
        tensor = predictor.preprocess(rgb)
        exported = Predictor(onnx_path, device=device, input_size=network_size)
        row['torch_forward_only_ms'] = float(np.median(time_calls(
            lambda: predictor.forward(tensor), repeats)))
        row['onnxruntime_forward_ms'] = float(np.median(time_calls(
            lambda: exported.forward(tensor), repeats)))
    return row
