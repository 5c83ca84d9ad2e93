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
The study's pictures: learned log-variances against their optimum, and the weight grid.

matplotlib is imported when a picture is drawn, so the tables build without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mtl_perception.core.config import CLASSIFICATION_TASKS
from mtl_perception.core.study.protocol import (
    grid_arms,
    GRID_DEPTH_RATIOS,
    GRID_INSTANCE_RATIOS,
    TASKS3,
)
from mtl_perception.core.study.stats import (
    delta_m,
    single_task_baseline,
    trailing_mean,
)
import numpy as np


def plot_sigmas(records: list[dict[str, Any]], target: Path) -> bool:
    """s_i and s*_i = log(c L_i) over training, per uncertainty arm (rows) and task."""
    arms = [a for a in ('uncertainty_3task', 'uncertainty_3task_lvlr0.1',
                        'uncertainty_3task_lvlr10', 'uncertainty_3task_shared_lr',
                        'stress_uncertainty_depth_x100')
            if any(r['arm'] == a and 'trajectory' in r for r in records)]
    if not arms:
        return False
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(arms), 3, figsize=(13, 2.6 * len(arms)), squeeze=False)
    for row, arm in enumerate(arms):
        runs = [r for r in records if r['arm'] == arm and 'trajectory' in r]
        for column, task in enumerate(TASKS3):
            axis = axes[row][column]
            for index, run in enumerate(sorted(runs, key=lambda r: r['seed'])):
                path = run['trajectory']
                colour = f'C{index % 10}'
                factor = 2.0 if task in CLASSIFICATION_TASKS else 1.0
                smooth = trailing_mean(path[f'loss_{task}'], 10)
                axis.plot(path['step'], path[f'log_variance_{task}'], color=colour,
                          label=f'seed {run["seed"]}: s' if column == 0 else None)
                axis.plot(path['step'], np.log(factor * smooth), color=colour, ls='--',
                          alpha=0.7)
            what = 'log 2L' if task in CLASSIFICATION_TASKS else 'log L'
            axis.set_title(f'{arm}: {task} (solid s, dashed {what})', fontsize=9)
            axis.grid(alpha=0.3)
            if row == len(arms) - 1:
                axis.set_xlabel('step')
        axes[row][0].legend(fontsize=7)
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=80)
    plt.close(figure)
    return True


def plot_grid(records: list[dict[str, Any]], target: Path) -> bool:
    """Plot the 3-task grid's validation Delta_m as a heat map, with the learned path."""
    baseline = single_task_baseline(records, 'val')
    if len(baseline) < 3:
        return False
    cells = grid_arms()['3task']
    values = np.full((len(GRID_DEPTH_RATIOS), len(GRID_INSTANCE_RATIOS)), np.nan)
    for cell in cells:
        scores = [delta_m(r['val'], baseline) for r in records if r['arm'] == cell.name]
        if scores:
            instance, depth = cell.grid_point
            values[GRID_DEPTH_RATIOS.index(depth), GRID_INSTANCE_RATIOS.index(instance)] = (
                np.mean(scores))
    if np.isnan(values).all():
        return False
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    x = np.log10(GRID_INSTANCE_RATIOS)
    y = np.log10(GRID_DEPTH_RATIOS)
    figure, axis = plt.subplots(figsize=(6.5, 5))

    def edges(centres: np.ndarray) -> np.ndarray:
        middle = (centres[1:] + centres[:-1]) / 2
        return np.concatenate([[2 * centres[0] - middle[0]], middle,
                               [2 * centres[-1] - middle[-1]]])

    mesh = axis.pcolormesh(edges(x), edges(y), values, cmap='viridis', shading='flat')
    for i, yy in enumerate(y):
        for j, xx in enumerate(x):
            if not np.isnan(values[i, j]):
                axis.text(xx, yy, f'{values[i, j]:+.1f}', ha='center', va='center',
                          color='white', fontsize=9)
    figure.colorbar(mesh, label='validation Delta_m % (grid seed)')
    for run in sorted((r for r in records if r['arm'] == 'uncertainty_3task'
                       and 'trajectory' in r), key=lambda r: r['seed']):
        path = run['trajectory']
        semantic = np.asarray(path['weight_semantic'])
        px = np.log10(np.asarray(path['weight_instance']) / semantic)
        py = np.log10(np.asarray(path['weight_depth']) / semantic)
        axis.plot(px, py, color='white', lw=1, alpha=0.8)
        axis.plot(px[-1], py[-1], 'o', color='red', ms=5)
    axis.plot([0], [0], 'x', color='orange', ms=9, mew=2, label='unweighted sum')
    axis.plot([], [], color='white', label='learned weights (uncertainty_3task, each seed)')
    axis.plot([], [], 'o', color='red', label='learned weights at the end')
    axis.set(xlabel='log10 w_instance / w_semantic', ylabel='log10 w_depth / w_semantic',
             title='3-task fixed-weight grid, validation Delta_m')
    axis.legend(fontsize=7, loc='lower left', facecolor='grey', framealpha=0.6)
    figure.tight_layout()
    figure.savefig(target, dpi=90)
    plt.close(figure)
    return True
