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
The one object that turns a NumPy image into network outputs.

The ROS node, the bag evaluator, the demo and the benchmarks all use :class:`Predictor`, so
preprocessing and post-processing cannot drift apart between them.

Following one frame: the uint8 image is resized to the network's input on the host (the
smallest copy), uploaded, normalised on the device; the network runs only the heads asked for
(:meth:`Predictor.infer`); the outputs are reduced on the device at the network's resolution
(argmax to uint8 labels, offsets and inverse depth in fp32, the logits never leave the device)
and returned as :class:`NetworkOutputs` tensors. :meth:`Predictor.predict` (and the
:class:`~mtl_perception.core.pipeline.ScenePipeline`) then resize what is wanted to the output
size on the device and copy it to the host once (``core/transfer.py``).

Backends: ``torch`` runs a checkpoint (``.pt``); ``onnxruntime`` and ``tensorrt`` run an ONNX
file written by ``mtl_export`` (``core/onnx_backend.py``), whose metadata carries everything a
checkpoint stores except the weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import sys
import time
from typing import Protocol

import cv2
from mtl_perception.core.checkpoint import Checkpoint, load_checkpoint
from mtl_perception.core.config import TASK_OUTPUTS
from mtl_perception.core.onnx_backend import load_onnx_metadata, make_onnx_backend
from mtl_perception.core.transfer import resize_labels, resize_smooth, to_host
import numpy as np
import torch

LOGGER = logging.getLogger(__name__)

DEVICES = ('auto', 'cuda', 'cpu')
PRECISIONS = ('fp32', 'fp16')
BACKENDS = ('auto', 'torch', 'onnxruntime', 'tensorrt')


@dataclass
class Prediction:
    """Network outputs for one image on the host, at the requested output size (W, H)."""

    semantic: np.ndarray | None = None  # (H, W) uint8 class ids
    semantic_confidence: np.ndarray | None = None  # (H, W) float32, max softmax probability
    instance_offsets: np.ndarray | None = None  # (2, H, W) float32, x/y in output pixels
    inverse_depth: np.ndarray | None = None  # (H, W) float32, 1/m for the canonical camera
    network_size: tuple[int, int] = (0, 0)  # (W, H) the network ran at
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class NetworkOutputs:
    """One frame's outputs reduced on the device, at the network's resolution (w, h)."""

    semantic: torch.Tensor | None = None  # (h, w) uint8 class ids (argmax of the logits)
    semantic_confidence: torch.Tensor | None = None  # (h, w) float32 max softmax probability
    instance_offsets: torch.Tensor | None = None  # (2, h, w) float32, x/y in network pixels
    inverse_depth: torch.Tensor | None = None  # (h, w) float32, 1/m, canonical camera
    network_size: tuple[int, int] = (0, 0)  # (w, h)
    timings_ms: dict[str, float] = field(default_factory=dict)


class Backend(Protocol):
    """Runs the network: a (1, 3, h, w) normalised tensor in, the asked heads' outputs out."""

    name: str
    device: torch.device

    def run(self, tensor: torch.Tensor, tasks: Sequence[str]) -> dict[str, torch.Tensor]:
        """Return ``{TASK_OUTPUTS[task]: (1, K, h, w) tensor}`` for each task, on ``device``."""

    def release(self) -> None:
        """Free the network and its device memory."""


def resolve_device(device: str) -> torch.device:
    """Map ``auto`` / ``cuda`` / ``cpu`` (or ``cuda:N``) to a torch device, with clear errors."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise ValueError(f'device {device!r} was asked for but CUDA is not available; '
                             'use device auto or cpu')
        return torch.device(device)
    if device == 'cpu':
        return torch.device('cpu')
    raise ValueError(f'unknown device {device!r}; choose one of {DEVICES} (or cuda:N)')


class TorchBackend:
    """A checkpoint's network in eager PyTorch (fp16 and channels-last where asked)."""

    name = 'torch'

    def __init__(self, checkpoint: Checkpoint, device: torch.device, dtype: torch.dtype,
                 memory_format: torch.memory_format) -> None:
        self.device = device
        model = checkpoint.build_model().eval()
        self.model: torch.nn.Module | None = model.to(device, dtype=dtype,
                                                      memory_format=memory_format)

    def run(self, tensor: torch.Tensor, tasks: Sequence[str]) -> dict[str, torch.Tensor]:
        if self.model is None:
            raise RuntimeError('the model was released; create a new Predictor')
        return self.model(tensor, tasks=tuple(tasks))

    def release(self) -> None:
        self.model = None


class Predictor:
    """
    Loads a checkpoint (or an exported ONNX file) and runs it on NumPy RGB images.

    ``precision='fp16'`` runs the network in half precision on CUDA; on the CPU it falls back to
    fp32 with a warning, since half-precision convolutions there are slow or missing.
    ``backend`` is ``torch`` for checkpoints and ``onnxruntime`` (or ``tensorrt``) for ``.onnx``
    files; ``auto`` picks by the file name. ``num_threads`` sets torch's (and onnxruntime's)
    CPU threads.
    """

    def __init__(self, checkpoint: str | os.PathLike | Checkpoint, device: str = 'auto',
                 precision: str = 'fp32', input_size: tuple[int, int] | None = None,
                 channels_last: bool = True, num_threads: int | None = None,
                 backend: str = 'auto') -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'unknown precision {precision!r}; choose one of {PRECISIONS}')
        if backend not in BACKENDS:
            raise ValueError(f'unknown backend {backend!r}; choose one of {BACKENDS}')
        is_onnx = (not isinstance(checkpoint, Checkpoint)
                   and str(checkpoint).lower().endswith('.onnx'))
        if backend == 'auto':
            backend = 'onnxruntime' if is_onnx else 'torch'
        if backend != 'torch' and not is_onnx:
            raise ValueError(f'backend {backend} runs an ONNX file (mtl_export MODEL.pt --out '
                             f'MODEL.onnx); got {checkpoint}')
        if backend == 'torch' and is_onnx:
            raise ValueError(f'{checkpoint} is an ONNX file: use backend onnxruntime or tensorrt')
        if is_onnx:
            self.checkpoint = load_onnx_metadata(checkpoint)
        else:
            self.checkpoint = (checkpoint if isinstance(checkpoint, Checkpoint)
                               else load_checkpoint(checkpoint))
        self.device = resolve_device(device)
        if precision == 'fp16' and self.device.type != 'cuda':
            LOGGER.warning('fp16 needs CUDA; running in fp32 on %s', self.device)
            precision = 'fp32'
        self.precision = precision
        self.dtype = torch.float16 if precision == 'fp16' else torch.float32
        if num_threads is not None and self.device.type == 'cpu':
            torch.set_num_threads(int(num_threads))
        prep = self.checkpoint.preprocessing
        self.input_size = (tuple(input_size) if input_size
                           else (prep.input_width, prep.input_height))
        if self.input_size[0] % 8 or self.input_size[1] % 8 or min(self.input_size) < 32:
            raise ValueError(f'input size {self.input_size} must be multiples of 8, >= 32')
        self.memory_format = (torch.channels_last if channels_last
                              else torch.contiguous_format)
        self.backend: Backend
        if backend == 'torch':
            self.backend = TorchBackend(self.checkpoint, self.device, self.dtype,
                                        self.memory_format)
        else:
            self.backend = make_onnx_backend(backend, checkpoint, self.device, self.precision,
                                             self.input_size, num_threads)
            self.memory_format = torch.contiguous_format
        self._mean = torch.tensor(prep.mean, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(prep.std, device=self.device).view(1, 3, 1, 1) * 255.0
        if self.device.type == 'cuda':
            torch.backends.cudnn.benchmark = True

    @property
    def class_set(self):  # noqa: ANN201 - ClassSet, kept light to import
        return self.checkpoint.class_set

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.checkpoint.model_config.tasks

    @property
    def f_canon(self) -> float:
        return self.checkpoint.preprocessing.f_canon

    @property
    def sigmas(self) -> dict[str, float]:
        return self.checkpoint.sigmas

    @property
    def path(self) -> str:
        return str(self.checkpoint.extra.get('path', ''))

    @property
    def model(self) -> torch.nn.Module | None:
        """Return the torch network (torch backend), None otherwise or once released."""
        return getattr(self.backend, 'model', None)

    def _check_image(self, image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray):
            raise TypeError(f'expected a NumPy image, got {type(image).__name__}')
        if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 8 or image.shape[1] < 8:
            raise ValueError(f'expected an RGB image of shape (H, W, 3), got {image.shape}')
        if image.dtype != np.uint8:
            if not np.issubdtype(image.dtype, np.floating):
                raise ValueError(f'expected uint8 RGB (or float in [0, 1]), got {image.dtype}')
            if not np.isfinite(image).all():
                raise ValueError('the image contains NaN or infinite values')

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """Resize an (H, W, 3) RGB image to the network size; return (1, 3, h, w) on device."""
        self._check_image(image)
        if image.dtype != np.uint8:
            image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        width, height = self.input_size
        if image.shape[1] != width or image.shape[0] != height:
            shrink = image.shape[1] > width
            image = cv2.resize(image, (width, height),
                               interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        # Upload uint8 (a quarter of the bytes of float32), normalise on the device.
        tensor = torch.from_numpy(np.ascontiguousarray(image)).to(self.device, non_blocking=True)
        tensor = tensor.permute(2, 0, 1).unsqueeze(0).float()
        tensor = ((tensor - self._mean) / self._std).to(self.dtype)
        return tensor.contiguous(memory_format=self.memory_format)

    def _tasks(self, tasks: Iterable[str] | None) -> tuple[str, ...]:
        if tasks is None:
            return tuple(self.tasks)
        wanted = set(tasks)
        unknown = wanted - set(TASK_OUTPUTS)
        if unknown:
            raise ValueError(f'unknown tasks {sorted(unknown)}; choose from {tuple(TASK_OUTPUTS)}')
        return tuple(task for task in self.tasks if task in wanted)

    @torch.inference_mode()
    def forward(self, tensor: torch.Tensor, tasks: Iterable[str] | None = None
                ) -> dict[str, torch.Tensor]:
        """Run the network's heads for ``tasks`` (default: all) on a preprocessed tensor."""
        return self.backend.run(tensor, self._tasks(tasks))

    @torch.inference_mode()
    def infer(self, image: np.ndarray, tasks: Iterable[str] | None = None,
              confidence: bool = False) -> NetworkOutputs:
        """
        Run the heads for ``tasks`` and reduce their outputs on the device.

        Returns tensors at the network's resolution, on the device: uint8 labels (argmax,
        plus the max softmax probability when ``confidence``), offsets in network pixels and
        canonical inverse depth in fp32. Nothing is copied to the host.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        tensor = self.preprocess(image)
        timings['preprocess'] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        wanted = self._tasks(tasks)
        raw = self.backend.run(tensor, wanted) if wanted else {}
        self._synchronize()
        timings['forward'] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        net_h, net_w = tensor.shape[2], tensor.shape[3]
        outputs = NetworkOutputs(network_size=(net_w, net_h), timings_ms=timings)
        if 'semantic' in wanted:
            logits = raw[TASK_OUTPUTS['semantic']][0]  # (C, h, w), fp16 where the net is
            if confidence:
                probability, labels = torch.softmax(logits.float(), dim=0).max(dim=0)
                outputs.semantic_confidence = probability
            else:
                labels = logits.argmax(dim=0)
            outputs.semantic = labels.to(torch.uint8)
        if 'instance' in wanted:
            outputs.instance_offsets = raw[TASK_OUTPUTS['instance']][0].float()
        if 'depth' in wanted:
            outputs.inverse_depth = raw[TASK_OUTPUTS['depth']][0, 0].float()
        # Reduction, resizing and the copy to the host together are the 'postprocess' stage.
        timings['postprocess'] = (time.perf_counter() - start) * 1e3
        return outputs

    @torch.inference_mode()
    def predict(self, image: np.ndarray, output_size: tuple[int, int] | None = None,
                outputs: set[str] | None = None, confidence: bool = False) -> Prediction:
        """
        Run the network on one RGB image and return NumPy outputs at ``output_size``.

        ``output_size`` (W, H) defaults to the image's own size. ``outputs`` limits the work to
        some of ``semantic``, ``instance``, ``depth`` (default: every task of the model): the
        other heads do not run. ``confidence`` adds the per-pixel max softmax probability of
        the semantic head. Labels are the argmax at the network's resolution, resized nearest.
        """
        net = self.infer(image, outputs, confidence)
        start = time.perf_counter()
        size = tuple(output_size or (image.shape[1], image.shape[0]))
        device_outputs: dict[str, torch.Tensor] = {}
        if net.semantic is not None:
            device_outputs['semantic'] = resize_labels(net.semantic, size)
        if net.semantic_confidence is not None:
            device_outputs['semantic_confidence'] = resize_smooth(net.semantic_confidence, size)
        if net.instance_offsets is not None:
            scale = torch.tensor([size[0] / net.network_size[0],
                                  size[1] / net.network_size[1]], device=self.device)
            device_outputs['instance_offsets'] = (resize_smooth(net.instance_offsets, size)
                                                  * scale.view(2, 1, 1))
        if net.inverse_depth is not None:
            device_outputs['inverse_depth'] = resize_smooth(net.inverse_depth, size)
        host = to_host(device_outputs)
        net.timings_ms['postprocess'] += (time.perf_counter() - start) * 1e3
        return Prediction(network_size=net.network_size, timings_ms=net.timings_ms, **host)

    def _synchronize(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def release(self) -> None:
        """Drop the model and give cached GPU memory back (lifecycle deactivate/cleanup)."""
        self.backend.release()
        if self.device.type == 'cuda':
            torch.cuda.empty_cache()


def default_model_path() -> Path:
    """
    Return the shipped default model.

    Looked up, in order: the ROS share folder (colcon workspaces), the share folder of this
    Python environment (``pip install``), and the source tree (``pip install -e`` and tests).
    """
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory('mtl_perception')))
    except (ImportError, LookupError, ValueError, OSError):
        pass  # no ROS environment (AMENT_PREFIX_PATH unset) or package not in the index
    candidates.append(Path(sys.prefix) / 'share' / 'mtl_perception')
    candidates.append(Path(__file__).resolve().parents[2])
    for folder in candidates:
        path = folder / 'models' / 'default.pt'
        if path.exists():
            return path
    return candidates[-1] / 'models' / 'default.pt'
