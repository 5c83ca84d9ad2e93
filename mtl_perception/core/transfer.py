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
Network outputs on their way to the caller: resized where they are, copied to the host once.

The predictor and the scene pipeline reduce the heads' outputs at the network's resolution on
the device; what a caller wants is then resized to the output size on that device
(:func:`resize_labels` nearest for ids, :func:`resize_smooth` bilinear for offsets, depth and
confidence) and copied to NumPy in one device-to-host transfer (:func:`to_host`). On the CPU
the resizes use NumPy and OpenCV, which give the same result as torch's and are faster there.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def to_host(tensors: dict[str, torch.Tensor], single_copy: bool | None = None
            ) -> dict[str, np.ndarray]:
    """
    Copy device tensors to NumPy with one device-to-host transfer.

    On the CPU this is free (shared memory). On a GPU every ``.cpu()`` is a synchronising copy
    of its own, so the tensors are packed as bytes into one buffer (8-byte aligned slots),
    copied once and viewed back with their dtypes and shapes (``single_copy`` forces either
    way; by default it packs when any tensor is off the CPU).
    """
    if not tensors:
        return {}
    if single_copy is None:
        single_copy = any(t.device.type != 'cpu' for t in tensors.values())
    if not single_copy:
        return {key: t.numpy() for key, t in tensors.items()}
    slots, parts, offset = {}, [], 0
    for key, tensor in tensors.items():
        raw = tensor.contiguous().reshape(-1).view(torch.uint8)
        padding = (-raw.numel()) % 8
        parts.append(raw if not padding else torch.cat([raw, raw.new_zeros(padding)]))
        slots[key] = (offset, raw.numel(), tensor.dtype, tuple(tensor.shape))
        offset += raw.numel() + padding
    buffer = torch.cat(parts).cpu().numpy()
    numpy_dtypes = {torch.uint8: np.uint8, torch.int32: np.int32, torch.int64: np.int64,
                    torch.float32: np.float32, torch.float16: np.float16,
                    torch.int16: np.int16, torch.bool: np.bool_}
    return {key: buffer[start:start + size].view(numpy_dtypes[dtype]).reshape(shape)
            for key, (start, size, dtype, shape) in slots.items()}


@functools.lru_cache(maxsize=32)
def _nearest_sources(source: int, target: int) -> np.ndarray:
    """Source index of each target pixel, torch's ``nearest-exact`` rule in its float32."""
    scale = np.float32(source / target)
    index = np.floor((np.arange(target, dtype=np.float32) + np.float32(0.5)) * scale)
    return np.minimum(index.astype(np.int64), source - 1)


def resize_labels(labels: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """
    Nearest-neighbour resize of an (h, w) integer image to ``size`` (W, H), pixel centres.

    On the CPU this is two cached ``np.take`` (same result as torch's ``nearest-exact``, a few
    times faster than it for uint8 and int32); on a GPU it stays on the device.
    """
    height, width = size[1], size[0]
    if tuple(labels.shape[-2:]) == (height, width):
        return labels
    if labels.device.type == 'cpu':
        rows = _nearest_sources(int(labels.shape[0]), height)
        columns = _nearest_sources(int(labels.shape[1]), width)
        return torch.from_numpy(np.take(np.take(labels.numpy(), rows, 0), columns, 1))
    # nearest needs a float tensor on some backends; ids < 2^24 are exact in fp32.
    resized = F.interpolate(labels[None, None].float(), size=(height, width),
                            mode='nearest-exact')
    return resized[0, 0].to(labels.dtype)


def resize_smooth(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """
    Bilinear resize of an (h, w) or (C, h, w) float image to ``size`` (W, H).

    Half-pixel centres (``align_corners=False``), as OpenCV's ``INTER_LINEAR``, which does it
    on the CPU (within 1e-5 of torch's result, several times faster).
    """
    height, width = size[1], size[0]
    if tuple(image.shape[-2:]) == (height, width):
        return image
    if image.device.type == 'cpu' and image.dtype == torch.float32:
        planes = image.numpy() if image.ndim == 3 else image.numpy()[None]
        resized = np.stack([cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)
                            for plane in planes])
        return torch.from_numpy(resized if image.ndim == 3 else resized[0])
    batch = image[None, None] if image.ndim == 2 else image[None]
    resized = F.interpolate(batch, size=(height, width), mode='bilinear', align_corners=False)
    return resized[0, 0] if image.ndim == 2 else resized[0]
