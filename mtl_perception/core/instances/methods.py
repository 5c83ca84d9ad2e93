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
The clustering methods by name and :func:`cluster_instances`, the one entry point over them.

One settings dict serves every method: :func:`accepted_parameters` keeps the names the chosen
method knows (read from the methods' own signatures and defaults, so the table cannot drift)
and rejects names no method knows.
"""

from __future__ import annotations

from collections.abc import Sequence
import inspect
from typing import Any

from mtl_perception.core.instances.grid import cluster_grid
from mtl_perception.core.instances.results import InstanceResult
from mtl_perception.core.instances.sklearn_methods import cluster_sklearn, SKLEARN_DEFAULTS
from mtl_perception.core.instances.votes import COMMON_DEFAULTS
import numpy as np
import torch

METHODS = ('grid', 'optics', 'dbscan', 'hdbscan')


def cluster_instances(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor,
                      thing_classes: np.ndarray | Sequence[int], method: str = 'grid',
                      **params: Any) -> InstanceResult:
    """
    Group the thing pixels of one frame into instances by their centre votes.

    ``semantic`` (H, W) holds class ids (uint8 or any integer type; values outside 0..255 are
    not things), ``offsets`` (2, H, W) the x, y offset to the instance centre in pixels;
    non-finite offsets cast no vote. ``thing_classes`` is a boolean table indexed by class id
    (``ClassSet.is_thing()``) or a sequence of thing class ids. ``method`` is one of
    :data:`METHODS`; ``params`` are the keyword parameters of :func:`cluster_grid` or
    :func:`cluster_sklearn`. Parameters that only another method knows are ignored, so one
    settings dict serves every method (a node can switch methods at run time); names no
    method knows raise ``TypeError``. A frame without thing pixels gives an empty result, not
    an error.
    """
    accepted = accepted_parameters(method, params)
    if method == 'grid':
        return cluster_grid(semantic, offsets, thing_classes, **accepted)
    return cluster_sklearn(semantic, offsets, thing_classes, method=method, **accepted)


def accepted_parameters(method: str, params: dict[str, Any]) -> dict[str, Any]:
    """
    Return the entries of ``params`` that ``method`` accepts.

    Names only another method knows are dropped (one settings dict serves every method);
    names no method knows raise ``TypeError``, an unknown method ``ValueError``.
    """
    if method not in METHODS:
        raise ValueError(f'unknown instance method {method!r}; choose one of {METHODS}')
    known = set().union(*(_keyword_names(other) for other in METHODS))
    unknown = sorted(set(params) - known)
    if unknown:
        raise TypeError(f'unknown instance parameters {unknown}; {method!r} accepts '
                        f'{sorted(_keyword_names(method))}')
    return {name: value for name, value in params.items() if name in _keyword_names(method)}


def _keyword_names(method: str) -> set[str]:
    """Return the parameter names ``method`` accepts through :func:`cluster_instances`."""
    if method == 'grid':
        return {name for name, parameter in inspect.signature(cluster_grid).parameters.items()
                if parameter.kind is inspect.Parameter.KEYWORD_ONLY}
    return set(COMMON_DEFAULTS) | {'max_points', 'seed'} | set(SKLEARN_DEFAULTS[method])
