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
The result records of instance clustering, on the host and on the device.

:class:`InstanceResult` holds NumPy arrays, :class:`InstanceTensors` the same fields as torch
tensors on the device the clustering ran on. Every method returns these, so the pipeline, the
node and the metrics read one shape.

Confidence
----------
``confidence`` of an instance is the fraction of its pixels whose vote lands within
``inlier_radius_px`` of its centre: 1 for an instance whose pixels all agree on one centre,
low for a group collected from scattered votes (often a misclassified region).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class InstanceResult:
    """
    Instances of one frame; instance ``k`` (1-based) is described by row ``k - 1``.

    ``instance_ids`` is (H, W) int32, 0 where there is no instance. ``class_ids`` (N,) int32 is
    the majority semantic class of the instance's pixels (every method groups pixels of one
    class only, so it is that class). ``pixel_counts`` (N,) int64, ``centroids_px`` (N, 2)
    float32 x, y of the centre the votes agree on (in the offset image's pixels, pixel centres
    at integer coordinates), ``confidence`` (N,) float32 in [0, 1], see the module docstring.
    """

    instance_ids: np.ndarray
    class_ids: np.ndarray
    pixel_counts: np.ndarray
    centroids_px: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.class_ids.shape[0])

    @property
    def num_instances(self) -> int:
        return len(self)

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> InstanceResult:
        """Return the result for a frame without instances."""
        return cls(instance_ids=np.zeros(shape, dtype=np.int32),
                   class_ids=np.zeros(0, dtype=np.int32),
                   pixel_counts=np.zeros(0, dtype=np.int64),
                   centroids_px=np.zeros((0, 2), dtype=np.float32),
                   confidence=np.zeros(0, dtype=np.float32))


@dataclass
class InstanceTensors:
    """:class:`InstanceResult` as torch tensors on the device the clustering ran on."""

    instance_ids: torch.Tensor  # (H, W) int32
    class_ids: torch.Tensor  # (N,) int32
    pixel_counts: torch.Tensor  # (N,) int64
    centroids_px: torch.Tensor  # (N, 2) float32
    confidence: torch.Tensor  # (N,) float32

    def summary(self) -> dict[str, torch.Tensor]:
        """Return the per-instance tensors (everything but the id image), keyed by field."""
        return {'class_ids': self.class_ids, 'pixel_counts': self.pixel_counts,
                'centroids_px': self.centroids_px, 'confidence': self.confidence}

    @classmethod
    def from_result(cls, result: InstanceResult, device: torch.device) -> InstanceTensors:
        """Return a host :class:`InstanceResult` as tensors on ``device``."""
        return cls(instance_ids=torch.from_numpy(np.ascontiguousarray(result.instance_ids,
                                                                      dtype=np.int32)).to(device),
                   class_ids=torch.from_numpy(result.class_ids.astype(np.int32)).to(device),
                   pixel_counts=torch.from_numpy(result.pixel_counts.astype(np.int64)).to(device),
                   centroids_px=torch.from_numpy(
                       result.centroids_px.astype(np.float32)).to(device),
                   confidence=torch.from_numpy(result.confidence.astype(np.float32)).to(device))

    def numpy(self) -> InstanceResult:
        return InstanceResult(
            instance_ids=self.instance_ids.cpu().numpy(),
            class_ids=self.class_ids.cpu().numpy(),
            pixel_counts=self.pixel_counts.cpu().numpy(),
            centroids_px=self.centroids_px.cpu().numpy(),
            confidence=self.confidence.cpu().numpy())


def empty_tensors(height: int, width: int, device: torch.device) -> InstanceTensors:
    return InstanceTensors(
        instance_ids=torch.zeros((height, width), dtype=torch.int32, device=device),
        class_ids=torch.zeros(0, dtype=torch.int32, device=device),
        pixel_counts=torch.zeros(0, dtype=torch.int64, device=device),
        centroids_px=torch.zeros((0, 2), dtype=torch.float32, device=device),
        confidence=torch.zeros(0, dtype=torch.float32, device=device))
