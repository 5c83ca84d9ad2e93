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
Turning an (arm, seed) into a run: weights that depend on other runs, specs and their hashes.

A run's spec describes it completely; its hash decides whether a finished record can be
reused, and records whose hash no longer matches the present plan are left out of the tables,
so a table never mixes two budgets.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mtl_perception.core.study.protocol import (
    all_arms,
    Arm,
    grid_arms,
    Profile,
    schedule,
)
from mtl_perception.core.study.records import config_hash
from mtl_perception.core.study.stats import (
    delta_m,
    single_task_baseline,
)
import numpy as np


def select_best(grid: list[Arm], records: list[dict[str, Any]]) -> tuple[Arm, float] | None:
    """
    Return the cell with the best mean VALIDATION Delta_m, or None until all cells are done.

    Test metrics are never looked at here.
    """
    baseline = single_task_baseline(records, 'val')
    needed = {task for cell in grid for task in cell.tasks}
    if any(f'single_{t}' not in {r['arm'] for r in records} for t in needed):
        return None
    scores = []
    for cell in grid:
        values = [delta_m(r['val'], baseline) for r in records if r['arm'] == cell.name]
        if not values:
            return None
        scores.append((float(np.mean(values)), cell))
    score, best = max(scores, key=lambda item: item[0])
    return best, score


def final_weights(record: dict[str, Any]) -> dict[str, float]:
    """Return the effective loss weights (factor x exp(-s)) an uncertainty run ended with."""
    return {t: round(float(w), 6) for t, w in record['final_weights'].items()}


def resolve(arm: Arm, seed: int, records: list[dict[str, Any]]) -> Arm | None:
    """Fill in weights that depend on other runs; None while those runs are not finished."""
    if arm.select_from:
        chosen = select_best(grid_arms()[arm.select_from], records)
        if chosen is None:
            return None
        return replace(arm, weights=dict(chosen[0].weights), grid_point=chosen[0].grid_point)
    if arm.weights_from:
        source = [r for r in records if r['arm'] == arm.weights_from and r['seed'] == seed]
        if not source:
            return None
        return replace(arm, weights=final_weights(source[-1]))
    return arm


def profile_hash(profile: Profile) -> str:
    """Hash of the shared budget (not of how many runs share the CPU at once)."""
    return config_hash({k: v for k, v in asdict(profile).items() if k != 'jobs'})


def of_profile(records: list[dict[str, Any]], profile: Profile) -> list[dict[str, Any]]:
    """Only the records made with this budget: a grid selection never mixes two budgets."""
    digest = profile_hash(profile)
    return [r for r in records if r.get('profile_hash') == digest]


def run_spec(arm: Arm, seed: int, profile: Profile, out_root: Path) -> dict[str, Any]:
    """Describe one run completely; its hash decides whether a record can be reused."""
    train = {
        'data_root': profile.data_root, 'tasks': list(arm.tasks), 'weighting': arm.weighting,
        'fixed_weights': dict(arm.weights) if arm.weighting == 'fixed' else {},
        'preset': profile.preset, 'width': profile.width, 'height': profile.height,
        'epochs': 100_000, 'max_steps': profile.steps, 'batch_size': profile.batch_size,
        'lr': profile.lr, 'warmup_steps': profile.warmup_steps,
        'log_variance_lr': (profile.lr if arm.shared_lr
                            else profile.log_variance_lr * arm.log_variance_lr_scale),
        'log_variance_schedule': arm.log_variance_schedule,
        'depth_target_scale': arm.depth_target_scale, 'workers': 0, 'seed': seed,
        'checkpoint_every_steps': max(100, profile.steps // 4), 'eval_every_epochs': 100_000,
        'val_split': '', 'threads': profile.threads, 'log_every_steps': 10, 'device': 'cpu',
    }
    evaluation = {'val_frames': profile.val_frames, 'test_frames': profile.test_frames}
    digest = config_hash({'train': train, 'evaluation': evaluation})
    train['out'] = str(out_root / 'runs' / f'{arm.name}_s{seed}_{digest}')
    return {'arm': arm.name, 'seed': seed, 'group': arm.group, 'tasks': list(arm.tasks),
            'profile_hash': profile_hash(profile),
            'weighting': arm.weighting, 'weights': dict(arm.weights),
            'grid_point': list(arm.grid_point), 'depth_target_scale': arm.depth_target_scale,
            'config_hash': digest, 'train': train, 'evaluation': evaluation}


def ready_specs(profile: Profile, records: list[dict[str, Any]], out_root: Path,
                skip: set[tuple[str, int, str]] = frozenset()) -> tuple[
                    list[dict[str, Any]], int]:
    """
    Return the runs that can start now, in schedule order, and how many wait on others.

    A run is skipped when a record with its arm, seed and config hash exists (resume).
    """
    arms = all_arms()
    done = {(r['arm'], int(r['seed']), r['config_hash']) for r in records}
    ready, waiting = [], 0
    for name, seed in schedule(profile):
        arm = resolve(arms[name], seed, records)
        if arm is None:
            waiting += 1
            continue
        spec = run_spec(arm, seed, profile, out_root)
        key = (spec['arm'], spec['seed'], spec['config_hash'])
        if key not in done and key not in skip:
            ready.append(spec)
    return ready, waiting


def current_records(records: list[dict[str, Any]], profile: Profile, out_root: Path
                    ) -> list[dict[str, Any]]:
    """
    Return the records that belong to the present configuration of each (arm, seed).

    A record whose hash no longer matches (the profile changed, or a best grid cell moved) is
    left out of the tables, so a table never mixes two budgets.
    """
    arms = all_arms()
    wanted = set()
    for name, seed in schedule(profile):
        arm = resolve(arms[name], seed, records)
        if arm is not None:
            wanted.add((name, seed, run_spec(arm, seed, profile, out_root)['config_hash']))
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for record in records:
        key = (record['arm'], int(record['seed']), record['config_hash'])
        if key in wanted:
            latest[key[:2]] = record
    return list(latest.values())
