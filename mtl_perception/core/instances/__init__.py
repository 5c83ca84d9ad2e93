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
Instances from centre votes: every thing pixel moved by its offset, then grouped.

The network predicts, for each pixel of a thing class, the vector to its instance centre
(``centre = pixel + offset``, channel 0 = x, see docs/conventions.md). Pixels of one instance
therefore vote for (nearly) one point, even when an occluder splits the instance in two, and
grouping the votes groups the pixels.

One job per module: ``results`` (:class:`InstanceResult`, :class:`InstanceTensors`), ``votes``
(collecting, assigning and measuring votes, the steps all methods share), ``grid`` (the default
method: a torch vote grid with peak finding, and why it is not OPTICS), ``sklearn_methods``
(OPTICS, DBSCAN, HDBSCAN, scikit-learn imported lazily) and ``methods`` (:data:`METHODS` and
:func:`cluster_instances`, which picks one by name). This module presents that public API.
"""

from mtl_perception.core.instances.grid import cluster_grid, cluster_grid_torch
from mtl_perception.core.instances.methods import accepted_parameters, cluster_instances, METHODS
from mtl_perception.core.instances.results import InstanceResult, InstanceTensors
from mtl_perception.core.instances.sklearn_methods import cluster_sklearn
from mtl_perception.core.instances.votes import COMMON_DEFAULTS, thing_table

__all__ = ['COMMON_DEFAULTS', 'InstanceResult', 'InstanceTensors', 'METHODS',
           'accepted_parameters', 'cluster_grid', 'cluster_grid_torch', 'cluster_instances',
           'cluster_sklearn', 'thing_table']
