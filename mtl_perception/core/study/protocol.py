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
The protocol of the paper study: the shared budgets (profiles), the arms and their order.

Every arm trains the same network with the same budget and differs only in its tasks and loss
weighting (``experiments/reproduce_paper.py`` describes the arms); :func:`schedule` orders the
(arm, seed) pairs so that a study stopped part-way has the most useful subset finished.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TASKS3 = ('semantic', 'instance', 'depth')


@dataclass(frozen=True)
class Profile:
    """The budget every arm of a study shares."""

    seeds: int
    grid_seeds: int
    steps: int
    batch_size: int
    width: int
    height: int
    preset: str
    lr: float
    log_variance_lr: float
    warmup_steps: int
    threads: int
    jobs: int
    val_frames: int
    test_frames: int
    data_root: str


PROFILES = {
    # One GPU, several runs at once; never run on this project's CPU machines.
    'gpu': Profile(seeds=8, grid_seeds=2, steps=3000, batch_size=16, width=256, height=128,
                   preset='small', lr=2e-3, log_variance_lr=1e-2, warmup_steps=100,
                   threads=2, jobs=8, val_frames=0, test_frames=0, data_root='data/synth'),
    # Sized by a measured pilot on a 2-core CPU (docs/results.md says how).
    'cpu': Profile(seeds=5, grid_seeds=1, steps=1000, batch_size=8, width=96, height=72,
                   preset='tiny', lr=5e-3, log_variance_lr=3e-2, warmup_steps=50,
                   threads=1, jobs=2, val_frames=0, test_frames=0, data_root='data/study'),
    # The plumbing only: a few steps per run.
    'smoke': Profile(seeds=2, grid_seeds=1, steps=20, batch_size=4, width=64, height=48,
                     preset='tiny', lr=5e-3, log_variance_lr=3e-2, warmup_steps=5,
                     threads=1, jobs=2, val_frames=16, test_frames=16, data_root='data/study'),
}


@dataclass(frozen=True)
class Arm:
    """One way of training: tasks, weighting and what differs from the shared budget."""

    name: str
    tasks: tuple[str, ...]
    weighting: str
    weights: dict[str, float] = field(default_factory=dict)
    depth_target_scale: float = 1.0
    log_variance_lr_scale: float = 1.0
    log_variance_schedule: str = 'constant'
    shared_lr: bool = False
    """Old recipe: the log-variances at the network's learning rate and schedule."""
    group: str = 'main'
    select_from: str = ''
    """For ``best_fixed_*``: the grid whose best validation cell this arm retrains."""
    weights_from: str = ''
    """For ``fixed_from_*``: the uncertainty arm whose final weights (same seed) it freezes."""
    grid_point: tuple[float, ...] = ()
    """For grid cells: the weight ratios that place the cell on the heat map."""


def uncertainty_arm(name: str, tasks: tuple[str, ...], group: str = 'main', **kwargs: Any
                    ) -> Arm:
    return Arm(name, tasks, 'uncertainty', group=group, **kwargs)


CORE_ARMS = [
    Arm('single_semantic', ('semantic',), 'equal'),
    Arm('single_instance', ('instance',), 'equal'),
    Arm('single_depth', ('depth',), 'equal'),
    Arm('equal_3task', TASKS3, 'equal'),
    uncertainty_arm('uncertainty_3task', TASKS3),
]
SELECTED_ARMS = [
    Arm('best_fixed_3task', TASKS3, 'fixed', select_from='3task'),
    Arm('fixed_from_uncertainty_3task', TASKS3, 'fixed', weights_from='uncertainty_3task',
        group='ablation'),
]
STRESS_ARMS = [
    Arm('stress_equal_depth_x100', TASKS3, 'equal', depth_target_scale=100.0, group='stress'),
    uncertainty_arm('stress_uncertainty_depth_x100', TASKS3, group='stress',
                    depth_target_scale=100.0),
]
ABLATION_ARMS = [
    uncertainty_arm('uncertainty_3task_lvlr0.1', TASKS3, group='ablation',
                    log_variance_lr_scale=0.1),
    uncertainty_arm('uncertainty_3task_lvlr10', TASKS3, group='ablation',
                    log_variance_lr_scale=10.0),
    uncertainty_arm('uncertainty_3task_shared_lr', TASKS3, group='ablation', shared_lr=True,
                    log_variance_schedule='cosine'),
]
TWO_TASK_ARMS = [
    uncertainty_arm('uncertainty_sem_inst', ('semantic', 'instance')),
    uncertainty_arm('uncertainty_sem_depth', ('semantic', 'depth')),
    uncertainty_arm('uncertainty_inst_depth', ('instance', 'depth')),
    Arm('best_fixed_sem_depth', ('semantic', 'depth'), 'fixed', select_from='sem_depth'),
    Arm('best_fixed_inst_depth', ('instance', 'depth'), 'fixed', select_from='inst_depth'),
]
GRID_INSTANCE_RATIOS = (0.01, 0.1, 1.0)
GRID_DEPTH_RATIOS = (0.3, 3.0, 30.0)


def grid_arms() -> dict[str, list[Arm]]:
    """
    Return the fixed-weight grids: a 3-task log grid and the paper's two 2-task grids.

    3-task cells are weight ratios instance/semantic and depth/semantic, normalised to sum 1;
    the ranges bracket where the learned weights settle in the pilot (1/(2 L_i) at
    equilibrium: instance/semantic about 0.08, depth/semantic about 8).
    """
    three = []
    for instance in GRID_INSTANCE_RATIOS:
        for depth in GRID_DEPTH_RATIOS:
            total = 1.0 + instance + depth
            weights = {'semantic': round(1 / total, 5), 'instance': round(instance / total, 5),
                       'depth': round(depth / total, 5)}
            three.append(Arm(f'fixed_3task_i{instance:g}_d{depth:g}', TASKS3, 'fixed',
                             weights, group='grid', grid_point=(instance, depth)))
    two = {
        'sem_depth': [Arm(f'fixed_sem_depth_{w:g}', ('semantic', 'depth'), 'fixed',
                          {'semantic': w, 'depth': round(1 - w, 4)}, group='grid_sem_depth',
                          grid_point=(w,))
                      for w in (0.1, 0.3, 0.5, 0.7, 0.9)],
        'inst_depth': [Arm(f'fixed_inst_depth_{w:g}', ('instance', 'depth'), 'fixed',
                           {'instance': w, 'depth': round(1 - w, 4)}, group='grid_inst_depth',
                           grid_point=(w,))
                       for w in (0.1, 0.3, 0.5, 0.7, 0.9)],
    }
    return {'3task': three, **two}


def all_arms() -> dict[str, Arm]:
    arms = CORE_ARMS + SELECTED_ARMS + STRESS_ARMS + ABLATION_ARMS + TWO_TASK_ARMS
    arms += [cell for grid in grid_arms().values() for cell in grid]
    return {arm.name: arm for arm in arms}


def schedule(profile: Profile) -> list[tuple[str, int]]:
    """
    Every (arm, seed) of the study, most important first.

    Paired seeds of the comparison the issue is about come first (single-task models,
    unweighted sum, 3-task uncertainty), then the 3-task grid that ``best_fixed_3task`` needs,
    then the remaining main seeds, stress test and frozen weights, then the log-variance
    learning-rate ablation, the 2-task study and the old recipe. A study stopped part-way has
    the most useful subset finished.
    """
    seeds = list(range(profile.seeds))
    grid_seeds = [100 + s for s in range(profile.grid_seeds)]
    grids = grid_arms()
    core = [a.name for a in CORE_ARMS]
    second = ['best_fixed_3task'] + [a.name for a in STRESS_ARMS] + [
        'fixed_from_uncertainty_3task']
    order = [(a, s) for s in seeds[:2] for a in core]
    order += [(c.name, g) for g in grid_seeds for c in grids['3task']]
    order += [(a, s) for s in seeds[:2] for a in second]
    order += [(a, s) for s in seeds[2:] for a in core + second]
    order += [(a.name, s) for s in seeds for a in ABLATION_ARMS[:2]]  # lr x0.1, x10
    order += [(c.name, g) for g in grid_seeds for name in ('sem_depth', 'inst_depth')
              for c in grids[name]]
    order += [(a.name, s) for s in seeds for a in TWO_TASK_ARMS]
    order += [(a.name, s) for s in seeds for a in ABLATION_ARMS[2:]]  # the old recipe
    return order
