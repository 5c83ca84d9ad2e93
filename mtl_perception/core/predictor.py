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
preprocessing and post-processing cannot drift apart between them. Work that shrinks the data
(argmax, resizing, fp16) happens on the device before anything is copied back to the host.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import logging
import os
from pathlib import Path
import sys
import time

import cv2
from mtl_perception.core.checkpoint import Checkpoint, load_checkpoint
import numpy as np
import torch
import torch.nn.functional as F

LOGGER = logging.getLogger(__name__)

DEVICES = ('auto', 'cuda', 'cpu')
PRECISIONS = ('fp32', 'fp16')


@dataclass
class Prediction:
    """Network outputs for one image, at the requested output size (W, H)."""

    semantic: np.ndarray | None = None  # (H, W) uint8 class ids
    semantic_confidence: np.ndarray | None = None  # (H, W) float32, max softmax probability
    instance_offsets: np.ndarray | None = None  # (2, H, W) float32, x/y in output pixels
    inverse_depth: np.ndarray | None = None  # (H, W) float32, 1/m for the canonical camera
    network_size: tuple[int, int] = (0, 0)  # (W, H) the network ran at
    timings_ms: dict[str, float] = field(default_factory=dict)


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


class Predictor:
    """
    Loads a checkpoint and runs it on NumPy RGB images.

    ``precision='fp16'`` runs the network in half precision on CUDA; on the CPU it falls back to
    fp32 with a warning, since half-precision convolutions there are slow or missing.
    """

    def __init__(self, checkpoint: str | os.PathLike | Checkpoint, device: str = 'auto',
                 precision: str = 'fp32', input_size: tuple[int, int] | None = None,
                 channels_last: bool = True, num_threads: int | None = None) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f'unknown precision {precision!r}; choose one of {PRECISIONS}')
        self.checkpoint = (checkpoint if isinstance(checkpoint, Checkpoint)
                           else load_checkpoint(checkpoint))
        self.device = resolve_device(device)
        if precision == 'fp16' and self.device.type != 'cuda':
            LOGGER.warning('fp16 needs CUDA; running in fp32 on %s', self.device)
            precision = 'fp32'
        self.precision = precision
        self.dtype = torch.float16 if precision == 'fp16' else torch.float32
        if num_threads is not None and self.device.type == 'cpu':
            torch.set_num_threads(num_threads)
        prep = self.checkpoint.preprocessing
        self.input_size = (tuple(input_size) if input_size
                           else (prep.input_width, prep.input_height))
        if self.input_size[0] % 8 or self.input_size[1] % 8 or min(self.input_size) < 32:
            raise ValueError(f'input size {self.input_size} must be multiples of 8, >= 32')
        self.memory_format = (torch.channels_last if channels_last
                              else torch.contiguous_format)
        model = self.checkpoint.build_model().eval()
        self.model = model.to(self.device, dtype=self.dtype, memory_format=self.memory_format)
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

    @torch.inference_mode()
    def forward(self, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model(tensor)

    @torch.inference_mode()
    def predict(self, image: np.ndarray, output_size: tuple[int, int] | None = None,
                outputs: set[str] | None = None, confidence: bool = False) -> Prediction:
        """
        Run the network on one RGB image.

        ``output_size`` (W, H) defaults to the image's own size. ``outputs`` limits the work to
        some of ``semantic``, ``instance``, ``depth`` (default: every task of the model).
        ``confidence`` adds the per-pixel max softmax probability of the semantic head.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        tensor = self.preprocess(image)
        timings['preprocess'] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        raw = self.forward(tensor)
        self._synchronize()
        timings['forward'] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        out_w, out_h = output_size or (image.shape[1], image.shape[0])
        wanted = set(self.tasks) if outputs is None else set(outputs) & set(self.tasks)
        net_h, net_w = tensor.shape[2], tensor.shape[3]
        same_size = (out_w, out_h) == (net_w, net_h)
        prediction = Prediction(network_size=(net_w, net_h), timings_ms=timings)
        if 'semantic' in wanted:
            logits = raw['semantic_logits']
            if confidence:
                probability, labels = torch.softmax(logits.float(), dim=1).max(dim=1,
                                                                               keepdim=True)
                prediction.semantic_confidence = self._to_host(
                    self._resize(probability, out_h, out_w, 'bilinear', same_size))[0, 0]
            else:
                labels = logits.argmax(dim=1, keepdim=True)
            labels = self._resize(labels.to(torch.uint8), out_h, out_w, 'nearest', same_size)
            prediction.semantic = self._to_host(labels)[0, 0]
        if 'instance' in wanted:
            offsets = self._resize(raw['instance_offsets'].float(), out_h, out_w, 'bilinear',
                                   same_size)
            scale = torch.tensor([out_w / net_w, out_h / net_h], device=offsets.device)
            prediction.instance_offsets = self._to_host(offsets * scale.view(1, 2, 1, 1))[0]
        if 'depth' in wanted:
            inverse_depth = self._resize(raw['inverse_depth'].float(), out_h, out_w, 'bilinear',
                                         same_size)
            prediction.inverse_depth = self._to_host(inverse_depth)[0, 0]
        timings['postprocess'] = (time.perf_counter() - start) * 1e3
        return prediction

    @staticmethod
    def _resize(tensor: torch.Tensor, height: int, width: int, mode: str,
                same_size: bool) -> torch.Tensor:
        if same_size:
            return tensor
        if mode == 'nearest':
            # nearest needs a float tensor on some backends; labels fit exactly in fp32.
            return F.interpolate(tensor.float(), size=(height, width), mode='nearest-exact'
                                 ).to(tensor.dtype)
        return F.interpolate(tensor, size=(height, width), mode=mode, align_corners=False)

    @staticmethod
    def _to_host(tensor: torch.Tensor) -> np.ndarray:
        if tensor.dtype == torch.float16:
            tensor = tensor.float()
        return tensor.cpu().numpy()

    def _synchronize(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)

    def release(self) -> None:
        """Drop the model and give cached GPU memory back (lifecycle deactivate/cleanup)."""
        self.model = None
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
