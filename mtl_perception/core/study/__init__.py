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
The loss-weighting study of ``experiments/reproduce_paper.py``, as a library.

:mod:`.protocol` (budgets, arms, their order), :mod:`.planning` (an (arm, seed) as a run spec),
:mod:`.scheduler` (run what is not finished, resumable), :mod:`.runs` (one run: train and
evaluate; the only module that needs torch, so it is not imported here), :mod:`.records` (the
results file), :mod:`.stats` (Delta_m, t intervals, equilibrium), :mod:`.tables`,
:mod:`.report` and :mod:`.plots` (the report, rebuilt from the records alone).
"""

from mtl_perception.core.study.planning import (
    current_records,
    of_profile,
    profile_hash,
    ready_specs,
    resolve,
    run_spec,
    select_best,
)
from mtl_perception.core.study.plots import plot_grid, plot_sigmas
from mtl_perception.core.study.protocol import (
    all_arms,
    Arm,
    CORE_ARMS,
    grid_arms,
    Profile,
    PROFILES,
    schedule,
)
from mtl_perception.core.study.records import config_hash, record_key, ResultsFile
from mtl_perception.core.study.report import existing_findings, MARKER, report
from mtl_perception.core.study.scheduler import execute, utc_deadline, with_delta_m
from mtl_perception.core.study.stats import (
    delta_m,
    Equilibrium,
    equilibrium,
    Interval,
    mean_interval,
    METRICS,
    paired_difference,
    single_task_baseline,
    student_t_cdf,
    student_t_quantile,
    trailing_mean,
)
from mtl_perception.core.study.tables import export_records

__all__ = [
    'all_arms', 'Arm', 'config_hash', 'CORE_ARMS', 'current_records', 'delta_m', 'equilibrium',
    'Equilibrium', 'execute', 'existing_findings', 'export_records', 'grid_arms', 'Interval',
    'MARKER', 'mean_interval', 'METRICS', 'of_profile', 'paired_difference', 'plot_grid',
    'plot_sigmas', 'Profile', 'PROFILES', 'profile_hash', 'ready_specs', 'record_key',
    'report', 'resolve', 'ResultsFile', 'run_spec', 'schedule', 'select_best',
    'single_task_baseline', 'student_t_cdf', 'student_t_quantile', 'trailing_mean',
    'utc_deadline', 'with_delta_m',
]
