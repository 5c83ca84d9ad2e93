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
The scikit-learn methods, OPTICS (the paper's), DBSCAN and HDBSCAN, for reference and comparison.

The scikit-learn methods (same result type, clustering each class separately) remain for
reference and comparison: ``'optics'`` is the paper's choice (no radius to choose, but slow);
``'dbscan'`` is OPTICS with one fixed radius ``eps_px``, fast with a tree index but sensitive
to that radius when vote noise differs between near and far objects; ``'hdbscan'`` picks
density levels per cluster like OPTICS and is much faster, but it refuses a class with a
single instance unless ``allow_single_cluster`` is set, and then keeps only that cluster's
densest core unless ``cluster_selection_epsilon`` (default 5 px: centres closer than that are
one instance) says how far the cluster reaches. The defaults (OPTICS ``min_samples=20``,
``xi=0.1`` and ``min_cluster_size=min_pixels``, DBSCAN ``eps_px=3``, HDBSCAN
``cluster_selection_epsilon=5``) were chosen on the synthetic
frames of ``mtl_perception.tools.benchmark_instances`` with 1.5 px vote noise. All three
accept ``max_points`` to cluster a random subsample and give the other pixels to the
nearest cluster centre, which keeps tests fast.

scikit-learn is imported only when one of these methods runs: the default ``'grid'`` method
and the node do not need it.
"""

from __future__ import annotations

from collections.abc import Sequence
import inspect
import math
from typing import Any

from mtl_perception.core.instances.results import InstanceResult
from mtl_perception.core.instances.votes import (
    as_tensor,
    assign_nearest,
    check_inputs,
    collect_votes,
    COMMON_DEFAULTS,
    finalise,
    thing_table,
)
import numpy as np
import torch

SKLEARN_DEFAULTS: dict[str, dict[str, Any]] = {
    'optics': {'min_samples': 20, 'xi': 0.1, 'max_eps': math.inf,
               'min_cluster_size': None, 'cluster_method': 'xi', 'eps_px': None},
    'dbscan': {'eps_px': 3.0, 'min_samples': 10},
    'hdbscan': {'min_cluster_size': None, 'min_samples': None, 'allow_single_cluster': True,
                'cluster_selection_epsilon': 5.0},
}


def cluster_sklearn(semantic: np.ndarray | torch.Tensor, offsets: np.ndarray | torch.Tensor,
                    thing_classes: np.ndarray | Sequence[int], method: str = 'optics', *,
                    min_pixels: int = COMMON_DEFAULTS['min_pixels'],
                    max_distance_px: float = COMMON_DEFAULTS['max_distance_px'],
                    inlier_radius_px: float = COMMON_DEFAULTS['inlier_radius_px'],
                    max_points: int | None = None, seed: int = 0,
                    **options: Any) -> InstanceResult:
    """
    Cluster the votes of each thing class with scikit-learn's OPTICS, DBSCAN or HDBSCAN.

    ``options`` are the method's settings (defaults in ``SKLEARN_DEFAULTS``):
    ``'optics'``: ``min_samples``, ``xi``, ``max_eps``, ``min_cluster_size``,
    ``cluster_method`` and ``eps_px`` (for ``cluster_method='dbscan'``); ``'dbscan'``:
    ``eps_px``, ``min_samples``; ``'hdbscan'``: ``min_cluster_size`` (default
    ``min_pixels``, as for OPTICS), ``min_samples``, ``allow_single_cluster``,
    ``cluster_selection_epsilon``. With ``max_points`` at most that many votes per class are
    clustered (a seeded random subsample); every pixel is then given to the nearest cluster
    centre of its class within ``max_distance_px``, and size limits are scaled to the sample.
    Groups under ``min_pixels`` are dropped, as in the grid method.
    """
    if method not in SKLEARN_DEFAULTS:
        raise ValueError(f'unknown scikit-learn method {method!r}; choose one of '
                         f'{sorted(SKLEARN_DEFAULTS)}')
    unknown = sorted(set(options) - set(SKLEARN_DEFAULTS[method]))
    if unknown:
        raise TypeError(f'unknown parameters {unknown} for method {method!r}; it accepts '
                        f'{sorted(SKLEARN_DEFAULTS[method])}')
    settings = {**SKLEARN_DEFAULTS[method], **options}
    height, width = check_inputs(semantic, offsets)
    device = torch.device('cpu')
    votes = collect_votes(as_tensor(semantic, device), as_tensor(offsets, device),
                          torch.from_numpy(thing_table(thing_classes)))
    if votes is None:
        return InstanceResult.empty((height, width))
    rng = np.random.default_rng(seed)
    slots = votes.slot.numpy()
    points = torch.stack([votes.vote_x, votes.vote_y], 1).double().numpy()  # (P, 2)
    assignment = np.full(points.shape[0], -1, dtype=np.int64)
    centres: list[np.ndarray] = []
    centre_slot: list[int] = []
    subsampled = False
    for slot in range(votes.present_classes.numel()):
        members = np.flatnonzero(slots == slot)
        fraction = 1.0
        if max_points is not None and members.size > max_points:
            fraction = max_points / members.size
            members = np.sort(rng.choice(members, size=int(max_points), replace=False))
            subsampled = True
        labels = _sklearn_labels(points[members], method, settings, min_pixels * fraction)
        for label in np.unique(labels[labels >= 0]).tolist():
            chosen = members[labels == label]
            assignment[chosen] = len(centres)
            centres.append(points[chosen].mean(0))
            centre_slot.append(slot)
    if not centres:
        return InstanceResult.empty((height, width))
    centre_tensor = torch.as_tensor(np.asarray(centres, dtype=np.float32))  # (K, 2)
    slot_tensor = torch.as_tensor(np.asarray(centre_slot, dtype=np.int64))
    if subsampled:
        assignment_t, distance2 = assign_nearest(votes, centre_tensor, slot_tensor,
                                                 max_distance_px)
    else:
        assignment_t = torch.from_numpy(assignment)
        delta = (torch.stack([votes.vote_x, votes.vote_y], 1)
                 - centre_tensor[assignment_t.clamp(min=0)])
        distance2 = torch.where(assignment_t >= 0, (delta * delta).sum(1),
                                torch.full_like(votes.vote_x, math.inf))
    return finalise(votes, assignment_t, distance2, centre_tensor,
                    votes.present_classes[slot_tensor], min_pixels, inlier_radius_px).numpy()


def _sklearn_labels(points: np.ndarray, method: str, settings: dict[str, Any],
                    min_size: float) -> np.ndarray:
    """Return cluster labels (-1 = noise) of (n, 2) votes; too few points are all noise."""
    count = points.shape[0]
    min_samples = settings.get('min_samples') or 1
    if count < max(int(min_samples), 2):
        return np.full(count, -1, dtype=np.int64)
    if method == 'optics':
        from sklearn.cluster import OPTICS
        min_cluster_size = settings['min_cluster_size']
        if min_cluster_size is None:
            min_cluster_size = max(int(min_size), 2)
        extra = ({'eps': settings['eps_px']} if settings['cluster_method'] == 'dbscan'
                 and settings['eps_px'] is not None else {})
        model = OPTICS(min_samples=int(min_samples), xi=float(settings['xi']),
                       max_eps=float(settings['max_eps']),
                       min_cluster_size=min(int(min_cluster_size), count),
                       cluster_method=settings['cluster_method'], **extra)
    elif method == 'dbscan':
        from sklearn.cluster import DBSCAN
        model = DBSCAN(eps=float(settings['eps_px']), min_samples=int(min_samples))
    else:
        from sklearn.cluster import HDBSCAN
        min_cluster_size = settings['min_cluster_size']
        if min_cluster_size is None:
            min_cluster_size = max(int(min_size), 2)
        kwargs: dict[str, Any] = {
            'min_cluster_size': min(int(min_cluster_size), count),
            'min_samples': settings['min_samples'],
            'allow_single_cluster': bool(settings['allow_single_cluster']),
            'cluster_selection_epsilon': float(settings['cluster_selection_epsilon']),
        }
        if 'copy' in inspect.signature(HDBSCAN).parameters:
            kwargs['copy'] = True  # the input is ours to keep; also silences a FutureWarning
        model = HDBSCAN(**kwargs)
    return np.asarray(model.fit(points).labels_, dtype=np.int64)
