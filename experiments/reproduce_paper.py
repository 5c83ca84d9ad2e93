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
Reproduce the claim of Kendall, Gal and Cipolla (CVPR 2018) on generated scenes.

Every arm trains the same network with the same budget (steps, batch, resolution, data) and
differs only in its tasks and loss weighting:

- single-task baselines ``single_semantic``, ``single_instance``, ``single_depth``;
- the unweighted sum ``equal_3task``;
- fixed-weight grids (a 3-task log grid; the paper's 2-task grids semantic+depth and
  instance+depth), each cell on ``grid_seeds`` seeds; the best cell of each grid is chosen on
  the VALIDATION split only and retrained on the main seeds (which selection never saw) as
  ``best_fixed_3task`` / ``best_fixed_sem_depth`` / ``best_fixed_inst_depth``;
- learned uncertainty weighting: ``uncertainty_3task`` and the three 2-task pairs;
- ablations: the log-variance learning rate x0.1 / x10 (``uncertainty_3task_lvlr0.1``,
  ``..._lvlr10``; x1 is ``uncertainty_3task`` itself), the old recipe (log-variances at the
  network's learning rate on its cosine schedule, ``uncertainty_3task_shared_lr``) and the
  learned weights frozen at their final values from step 0 (``fixed_from_uncertainty_3task``:
  seed s uses the final weights of ``uncertainty_3task`` seed s);
- the stress test: depth targets x100 for the unweighted sum and for uncertainty weighting.

Seed s of every arm shares its initialisation and data order, so arms are compared with
paired differences over seeds (mean and Student-t 95 % interval). The multi-task gain is

    Delta_m = mean over tasks i of (-1)^l_i (M_i - M_single,i) / M_single,i   (in %)

with l_i = 1 for lower-is-better metrics and M_single,i the single-task models' mean.

Resumable and incremental: every finished run appends one JSON line to
``<out>/results.jsonl``; a rerun skips every (arm, seed, config hash) already there, runs are
scheduled in an order that gives paired seeds of the main arms first, and ``--report-only``
writes the tables from whatever has finished. ``--deadline HH:MM`` (UTC) stops starting runs
that would not finish by then. The report goes between the ``paper-study`` markers of
``docs/results.md`` (the rest of the file is kept), the raw per-run records to
``docs/results.json``, the pictures to ``docs/sigmas.png`` and ``docs/grid.png``.

Profiles: ``cpu`` was sized by measurement on a 2-core CPU (see the report); ``gpu`` is the
larger protocol for one GPU with several runs sharing it; ``smoke`` checks the plumbing in a
minute.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
import csv
from dataclasses import asdict, dataclass, field, replace
import datetime
import json
import logging
import math
import multiprocessing
import os
from pathlib import Path
import shlex
import sys
import time
from typing import Any

from mtl_perception.core.study import (
    config_hash,
    delta_m,
    equilibrium,
    Interval,
    mean_interval,
    METRICS,
    paired_difference,
    ResultsFile,
    single_task_baseline,
    trailing_mean,
)
import numpy as np

LOGGER = logging.getLogger('reproduce_paper')
REPO = Path(__file__).resolve().parents[1]
TASKS3 = ('semantic', 'instance', 'depth')
MARKER = 'paper-study'
FINDINGS_BEGIN = '<!-- paper-study-findings:begin -->'
FINDINGS_END = '<!-- paper-study-findings:end -->'


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


# --- turning an (arm, seed) into a run ------------------------------------------------------

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


# --- one run (in a worker process) ----------------------------------------------------------

def read_log(path: Path) -> list[dict[str, float]]:
    with path.open(newline='') as handle:
        return [{k: float(v) for k, v in row.items() if v not in ('', None)}
                for row in csv.DictReader(handle)]


def trajectory(rows: list[dict[str, float]], tasks: list[str]) -> dict[str, list[float]]:
    """Per logged step: log-variance, batch loss and effective weight of every task."""
    result: dict[str, list[float]] = {'step': [r['step'] for r in rows]}
    for task in tasks:
        result[f'loss_{task}'] = [r[f'loss_{task}'] for r in rows]
        if f'sigma_{task}' in rows[0]:
            result[f'log_variance_{task}'] = [2.0 * math.log(r[f'sigma_{task}']) for r in rows]
        if f'weight_{task}' in rows[0]:
            result[f'weight_{task}'] = [r[f'weight_{task}'] for r in rows]
    return result


def train_and_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one run, evaluate it on validation and test, and return its record."""
    from mtl_perception.core.checkpoint import load_checkpoint
    from mtl_perception.core.config import CLASSIFICATION_TASKS
    from mtl_perception.core.data import build_dataset
    from mtl_perception.tools.train import evaluate, run, TrainConfig
    import torch

    torch.set_num_threads(int(spec['train']['threads']))
    config = TrainConfig(**{**spec['train'], 'tasks': tuple(spec['train']['tasks'])})
    start = time.perf_counter()
    model_path = run(config)
    train_s = time.perf_counter() - start
    checkpoint = load_checkpoint(model_path)
    model = checkpoint.build_model().eval()
    prep = checkpoint.preprocessing
    scale = float(spec['depth_target_scale'])
    record = {k: v for k, v in spec.items() if k not in ('train', 'evaluation')}
    for split in ('val', 'test'):
        dataset = build_dataset(config.data_root, split, checkpoint.class_set.name,
                                size=(prep.input_width, prep.input_height), augment=False,
                                f_canon=prep.f_canon, mean=prep.mean, std=prep.std,
                                depth_target_scale=scale)
        metrics = evaluate(model, dataset, checkpoint.class_set.names, torch.device('cpu'),
                           batch_size=16, max_frames=spec['evaluation'][f'{split}_frames'])
        values = {k: float(v) for k, v in metrics.items() if k in METRICS}
        if 'inverse_depth_mean_error' in values:  # back to unscaled units (stress test)
            values['inverse_depth_mean_error'] /= scale
        record[split] = values
    rows = read_log(Path(config.out) / 'log.csv')
    tasks = list(spec['tasks'])
    path = trajectory(rows, tasks)
    record['log_variances'] = dict(checkpoint.log_variances)
    record['sigmas'] = checkpoint.sigmas
    record['final_losses'] = {t: float(trailing_mean(path[f'loss_{t}'], 10)[-1]) for t in tasks}
    record['final_weights'] = {t: path[f'weight_{t}'][-1] for t in tasks
                               if f'weight_{t}' in path}
    if spec['weighting'] == 'uncertainty':
        record['equilibrium'] = {
            t: equilibrium(path['step'], path[f'log_variance_{t}'], path[f'loss_{t}'],
                           t in CLASSIFICATION_TASKS).to_dict() for t in tasks}
    record['trajectory'] = path
    record['steps'] = int(config.max_steps)
    record['train_s'] = train_s
    record['wall_s'] = time.perf_counter() - start
    record['finished_at'] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec='seconds')
    return record


def with_delta_m(record: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    """Add Delta_m against the single-task runs finished so far (the report recomputes it)."""
    record = dict(record)
    pool = records + [record]
    record['delta_m'] = {}
    for split in ('val', 'test'):
        baseline = single_task_baseline(pool, split)
        shared = [k for k in record[split] if k in baseline]
        record['delta_m'][split] = delta_m(record[split], baseline) if shared else None
    return record


# --- the scheduler --------------------------------------------------------------------------

Runner = Callable[[dict[str, Any]], dict[str, Any]]


def utc_deadline(text: str | None) -> float | None:
    """``HH:MM`` (UTC, today) as a Unix time; None for no deadline."""
    if not text:
        return None
    hours, minutes = (int(part) for part in text.split(':'))
    now = datetime.datetime.now(datetime.timezone.utc)
    moment = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    return moment.timestamp()


def execute(profile: Profile, out_root: Path, store: ResultsFile, runner: Runner,
            jobs: int, deadline: float | None = None, max_runs: int | None = None) -> int:
    """
    Run what is not yet in ``store``, ``jobs`` at a time, appending each record when it ends.

    Plans again after every finished run, because some arms (best grid cell, frozen weights)
    become ready only then. Returns the number of runs finished in this session.
    """
    finished, failed = 0, set()
    in_flight: dict[Future, dict[str, Any]] = {}
    started = 0
    pool = (ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('spawn'))
            if jobs > 1 else None)

    def estimate_s(records: list[dict[str, Any]], spec: dict[str, Any]) -> float:
        alike = [r['wall_s'] for r in records if len(r['tasks']) == len(spec['tasks'])]
        walls = alike or [r['wall_s'] for r in records if 'wall_s' in r]
        return float(max(walls)) if walls else 0.0

    try:
        while True:
            records = of_profile(store.load(), profile)
            running = {(s['arm'], s['seed'], s['config_hash']) for s in in_flight.values()}
            ready, waiting = ready_specs(profile, records, out_root, running | failed)
            allowed = max_runs is None or started < max_runs
            while ready and len(in_flight) < jobs and allowed:
                expected_end = time.time() + estimate_s(records, ready[0])
                if deadline is not None and expected_end > deadline:
                    LOGGER.info('deadline: not starting %d more run(s)', len(ready))
                    ready = []
                    break
                spec = ready.pop(0)
                started += 1
                allowed = max_runs is None or started < max_runs
                LOGGER.info('start %s seed %d (%s)', spec['arm'], spec['seed'],
                            spec['config_hash'])
                if pool is None:
                    future: Future = Future()
                    try:
                        future.set_result(runner(spec))
                    except Exception as error:  # noqa: BLE001 - recorded, study goes on
                        future.set_exception(error)
                else:
                    future = pool.submit(runner, spec)
                in_flight[future] = spec
            if not in_flight:
                if waiting and not ready:
                    LOGGER.info('%d run(s) wait on runs that did not finish', waiting)
                return finished
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                spec = in_flight.pop(future)
                key = (spec['arm'], spec['seed'], spec['config_hash'])
                try:
                    record = future.result()
                except Exception as error:  # noqa: BLE001 - one failed run must not stop all
                    LOGGER.error('run %s seed %d failed: %s', spec['arm'], spec['seed'], error)
                    failed.add(key)
                    continue
                store.append(with_delta_m(record, of_profile(store.load(), profile)))
                finished += 1
                LOGGER.info('done %s seed %d in %.0f s: test %s', spec['arm'], spec['seed'],
                            record.get('wall_s', float('nan')), record['test'])
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# --- statistics and the report --------------------------------------------------------------

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


def per_seed(records: list[dict[str, Any]], arm: str, split: str,
             baseline: dict[str, float], key: str = 'delta_m') -> dict[int, float]:
    """``{seed: value}`` of one arm: Delta_m against ``baseline`` or one metric."""
    values = {}
    for record in records:
        if record['arm'] != arm:
            continue
        if key == 'delta_m':
            values[int(record['seed'])] = delta_m(record[split], baseline)
        elif key in record[split]:
            values[int(record['seed'])] = float(record[split][key])
    return values


def summary_rows(records: list[dict[str, Any]], split: str, names: list[str]
                 ) -> list[dict[str, Any]]:
    baseline = single_task_baseline(records, split)
    rows = []
    for name in names:
        runs = [r for r in records if r['arm'] == name]
        if not runs:
            continue
        row: dict[str, Any] = {'arm': name, 'runs': len(runs), 'weighting': runs[0]['weighting'],
                               'weights': runs[0]['weights']}
        for key in METRICS:
            values = [r[split][key] for r in runs if key in r[split]]
            row[key] = mean_interval(values)
        row['delta_m'] = mean_interval(list(per_seed(records, name, split, baseline).values()))
        rows.append(row)
    return rows


def _pm(interval: Interval, scale: float, digits: int, signed: bool = False) -> str:
    """``mean ± half-width`` of a 95 % interval (just the mean for one run)."""
    if interval.count == 0 or math.isnan(interval.mean):
        return '-'
    sign = '+' if signed else ''
    text = f'{interval.mean * scale:{sign}.{digits}f}'
    if interval.count >= 2:
        text += f' ± {(interval.high - interval.mean) * scale:.{digits}f}'
    return text


def weights_text(row: dict[str, Any]) -> str:
    if row['weighting'] == 'uncertainty':
        return 'learned'
    if row['weighting'] == 'equal':
        return 'equal' if not row['arm'].startswith('single') else '1 (one task)'
    return ' / '.join(f'{row["weights"][t]:.3g}' if t in row['weights'] else '-'
                      for t in TASKS3)


def metric_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ['| arm | weights (sem / inst / depth) | seg mIoU % | instance err px | '
             'inv. depth err (1/m) | Delta_m % | seeds |', '|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append(
            f'| {row["arm"]} | {weights_text(row)} | {_pm(row["semantic_miou"], 100, 1)} | '
            f'{_pm(row["instance_mean_error_px"], 1, 2)} | '
            f'{_pm(row["inverse_depth_mean_error"], 1, 4)} | '
            f'{_pm(row["delta_m"], 1, 1, signed=True)} | {row["runs"]} |')
    return lines


def paired_table(records: list[dict[str, Any]], split: str, subject: str,
                 others: list[str]) -> list[str]:
    """Paired differences ``subject - other`` over shared seeds: Delta_m and each metric."""
    baseline = single_task_baseline(records, split)
    lines = [f'| {subject} minus | Delta_m points | seg mIoU points | instance err px | '
             'inv. depth err (1/m) | paired seeds |', '|---|---|---|---|---|---|']
    mine = {key: per_seed(records, subject, split, baseline, key)
            for key in ['delta_m', *METRICS]}
    for other in others:
        theirs = {key: per_seed(records, other, split, baseline, key)
                  for key in ['delta_m', *METRICS]}
        difference = {key: paired_difference(mine[key], theirs[key]) for key in mine}
        if difference['delta_m'].count == 0 and all(d.count == 0 for d in difference.values()):
            continue
        count = max(d.count for d in difference.values())
        lines.append(
            f'| {other} | {difference["delta_m"].text(1, 1, True)} | '
            f'{difference["semantic_miou"].text(100, 1, True)} | '
            f'{difference["instance_mean_error_px"].text(1, 2, True)} | '
            f'{difference["inverse_depth_mean_error"].text(1, 4, True)} | {count} |')
    return lines


def stress_table(records: list[dict[str, Any]], split: str) -> list[str]:
    """Per metric: relative change of the x100 run against the same arm unscaled, paired."""
    lines = ['| arm: x100 vs unscaled | seg mIoU change % | instance err change % | '
             'inv. depth err change % | paired seeds |', '|---|---|---|---|---|']
    for stressed, plain in (('stress_equal_depth_x100', 'equal_3task'),
                            ('stress_uncertainty_depth_x100', 'uncertainty_3task')):
        cells, count = [], 0
        for key in METRICS:
            a = per_seed(records, stressed, split, {}, key)
            b = per_seed(records, plain, split, {}, key)
            common = sorted(set(a) & set(b))
            change = mean_interval([100.0 * (a[s] - b[s]) / b[s] for s in common])
            count = max(count, change.count)
            cells.append(change.text(1, 1, True))
        if count:
            lines.append(f'| {stressed} vs {plain} | ' + ' | '.join(cells) + f' | {count} |')
    return lines


def equilibrium_table(records: list[dict[str, Any]], arms: list[str]) -> list[str]:
    lines = ['| arm | task | final s = log sigma^2 | final s* (log L or log 2L) | '
             'held within 10 % from step (median) | runs held to the end / runs | '
             'second half within 10 % |', '|---|---|---|---|---|---|---|']
    for arm in arms:
        runs = [r for r in records if r['arm'] == arm and r.get('equilibrium')]
        if not runs:
            continue
        for task in runs[0]['equilibrium']:
            entries = [r['equilibrium'][task] for r in runs]
            held = [e['held_from'] for e in entries if e['held_from'] is not None]
            last = entries[0]['last_step']
            held_text = f'{int(np.median(held))} of {last}' if held else 'never'
            lines.append(
                f'| {arm} | {task} | '
                f'{_pm(mean_interval([e["final_log_variance"] for e in entries]), 1, 2)} | '
                f'{_pm(mean_interval([e["final_optimum"] for e in entries]), 1, 2)} | '
                f'{held_text} | {len(held)} / {len(entries)} | '
                f'{100 * np.mean([e["fraction_second_half"] for e in entries]):.0f} % |')
    return lines


def grid_table(records: list[dict[str, Any]], grid: str) -> list[str]:
    cells = [c.name for c in grid_arms()[grid]]
    rows = summary_rows(records, 'val', cells)
    return metric_table(rows)


def export_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat record per (run, split) with Delta_m against the final baselines."""
    baselines = {split: single_task_baseline(records, split) for split in ('val', 'test')}
    flat = []
    for record in sorted(records, key=lambda r: (r['arm'], r['seed'])):
        for split in ('val', 'test'):
            entry = {'arm': record['arm'], 'seed': record['seed'], 'split': split,
                     'group': record['group'], 'tasks': record['tasks'],
                     'weighting': record['weighting'], 'weights': record['weights'],
                     'depth_target_scale': record['depth_target_scale'],
                     'config_hash': record['config_hash']}
            for key in METRICS:
                entry[key] = record[split].get(key)
            entry['delta_m'] = delta_m(record[split], baselines[split])
            entry['log_variances'] = record.get('log_variances', {})
            entry['final_losses'] = record.get('final_losses', {})
            entry['wall_s'] = record.get('wall_s')
            flat.append(entry)
    return flat


def existing_findings(path: Path) -> str:
    """Return the hand-written findings block of the current report (kept on rewrite)."""
    if path.exists():
        text = path.read_text()
        if FINDINGS_BEGIN in text and FINDINGS_END in text:
            return text.split(FINDINGS_BEGIN, 1)[1].split(FINDINGS_END, 1)[0].strip('\n')
    return ('_To be written by whoever ran the study, from the numbers above, including where '
            'the learned weights lose._')


def write_marked_section(path: Path, name: str, section: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``:end``; keep the rest of the file."""
    begin, end = f'<!-- {name}:begin -->', f'<!-- {name}:end -->'
    block = f'{begin}\n{section.rstrip(chr(10))}\n{end}'
    text = path.read_text() if path.exists() else '# Results\n'
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip('\n') + '\n\n' + block + '\n'
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def frames_text(profile: Profile) -> str:
    if not profile.val_frames and not profile.test_frames:
        return 'every validation and test frame'
    return (f'the first {profile.val_frames or "all"} validation and '
            f'{profile.test_frames or "all"} test frames')


def report(records: list[dict[str, Any]], profile_name: str, profile: Profile,
           command: str, hardware: str, wall_s: float, findings: str,
           pictures: list[str]) -> str:
    """Write the study section of docs/results.md from the records alone."""
    main = [a.name for a in CORE_ARMS] + ['best_fixed_3task']
    ablation = ['uncertainty_3task', 'uncertainty_3task_lvlr0.1', 'uncertainty_3task_lvlr10',
                'uncertainty_3task_shared_lr', 'fixed_from_uncertainty_3task']
    two_task = [a.name for a in TWO_TASK_ARMS]
    seeds = sorted({int(r['seed']) for r in records if r['arm'] == 'uncertainty_3task'})
    best = [r for r in records if r['arm'] == 'best_fixed_3task']
    total_s = sum(r.get('wall_s', 0.0) for r in records)
    lines = [
        '## Reproducing the paper: learned uncertainty weighting vs fixed weights', '',
        f'- command: `{command}`',
        f'- hardware: {hardware}; {len(records)} finished runs, {total_s / 60:.0f} run-minutes '
        f'({wall_s / 60:.0f} min wall-clock over all sessions); date '
        f'{datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes")}',
        f'- profile `{profile_name}`: `{profile.preset}` preset from scratch at '
        f'{profile.width}x{profile.height}, {profile.steps} steps of batch {profile.batch_size}'
        f' per run, AdamW lr {profile.lr:g} (warm-up {profile.warmup_steps} steps + cosine), '
        f'log-variances lr {profile.log_variance_lr:g} constant, no weight decay, start '
        f"s = 0, paper's classification form; {profile.seeds} paired seeds planned per main "
        f'arm (finished for uncertainty_3task: {len(seeds)}), grid cells on '
        f'{profile.grid_seeds} seed(s) (seeds 100+), selection on validation only.',
        f'- data: `{profile.data_root}` (`mtl_synth`, fixed train/val/test splits); metrics '
        f'on {frames_text(profile)}; raw per-run records: `docs/results.json`.',
        '- cells: mean ± half-width of the Student-t 95 % interval over seeds; Delta_m in % '
        "against the single-task models' mean (sign flipped for errors) over the tasks an "
        'arm trains.',
        '',
        '### Test split: main arms', '',
    ] + metric_table(summary_rows(records, 'test', main))
    if best:
        lines += ['', f'`best_fixed_3task` retrains the 3-task grid cell with the best '
                  f'validation Delta_m: weights {best[0]["weights"]}.']
    lines += ['', '### Paired differences on the test split (95 % t interval over shared seeds)',
              '', 'Positive Delta_m and mIoU differences and negative error differences favour '
              'uncertainty_3task.', '']
    lines += paired_table(records, 'test', 'uncertainty_3task',
                          ['equal_3task', 'best_fixed_3task', 'fixed_from_uncertainty_3task',
                           'single_semantic', 'single_instance', 'single_depth',
                           'uncertainty_3task_lvlr0.1', 'uncertainty_3task_lvlr10',
                           'uncertainty_3task_shared_lr'])
    lines += ['', '### Stress test: depth targets x100 (errors in unscaled units, test split)',
              '']
    lines += stress_table(records, 'test')
    lines += ['', '### Ablations (test split)', '']
    lines += metric_table(summary_rows(records, 'test', ablation + [
        a.name for a in STRESS_ARMS]))
    lines += ['', '### Equilibrium of the learned log-variances', '',
              "At the optimum of each task's term s* = log L (regression) or log 2L "
              '(classification, semantic), L the task loss averaged over the last 10 logged '
              'batches (one every 10 steps). "Within 10 %": |s - s*| <= 0.1 max(|s*|, 1).', '']
    lines += equilibrium_table(records, ['uncertainty_3task', 'uncertainty_3task_lvlr0.1',
                                         'uncertainty_3task_lvlr10',
                                         'uncertainty_3task_shared_lr',
                                         'stress_uncertainty_depth_x100'] + two_task[:3])
    if any(r['arm'] in two_task for r in records):
        lines += ['', '### Two tasks (test split)', '']
        lines += metric_table(summary_rows(records, 'test', two_task))
    lines += ['', '### 3-task fixed-weight grid (validation split, selection only)', '']
    lines += grid_table(records, '3task')
    if any(r['group'].startswith('grid_') for r in records):
        for grid in ('sem_depth', 'inst_depth'):
            lines += ['', f'### 2-task grid {grid} (validation split)', '']
            lines += grid_table(records, grid)
    if pictures:
        lines += ['', 'Pictures: ' + ', '.join(f'`{p}`' for p in pictures) + '.']
    lines += ['', '### Findings', '', FINDINGS_BEGIN, findings, FINDINGS_END, '']
    return '\n'.join(lines)


# --- pictures -------------------------------------------------------------------------------

def plot_sigmas(records: list[dict[str, Any]], target: Path) -> bool:
    """s_i and s*_i = log(c L_i) over training, per uncertainty arm (rows) and task."""
    from mtl_perception.core.config import CLASSIFICATION_TASKS

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


# --- entry point ----------------------------------------------------------------------------

def hardware_line() -> str:
    from mtl_perception.core.report import cpu_model

    return f'{cpu_model()} (lscpu), no GPU'


def write_outputs(args: argparse.Namespace, profile: Profile, records: list[dict[str, Any]],
                  wall_s: float) -> None:
    docs = Path(args.results).parent
    pictures = []
    if plot_sigmas(records, docs / 'sigmas.png'):
        pictures.append('docs/sigmas.png')
    if plot_grid(records, docs / 'grid.png'):
        pictures.append('docs/grid.png')
    command = args.command or ('python experiments/reproduce_paper.py '
                               + shlex.join(sys.argv[1:]))
    section = report(records, args.profile, profile, command, hardware_line(), wall_s,
                     existing_findings(Path(args.results)), pictures)
    write_marked_section(Path(args.results), MARKER, section)
    Path(args.records).write_text(json.dumps(export_records(records), indent=1,
                                             allow_nan=True) + '\n')
    LOGGER.info('wrote %s and %s from %d runs', args.results, args.records, len(records))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='runs/reproduce',
                        help='study folder: results.jsonl and one folder per run')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu')
    parser.add_argument('--data-root', default=None, help="override the profile's data")
    parser.add_argument('--seeds', type=int, default=None)
    parser.add_argument('--grid-seeds', type=int, default=None)
    parser.add_argument('--steps', type=int, default=None)
    parser.add_argument('--jobs', type=int, default=None)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--deadline', default=None,
                        help='HH:MM UTC: start no run that would not finish by then')
    parser.add_argument('--max-runs', type=int, default=None,
                        help='start at most this many runs in this session')
    parser.add_argument('--report-only', action='store_true',
                        help='write the tables from the finished runs; train nothing')
    parser.add_argument('--no-report', action='store_true')
    parser.add_argument('--results', default=str(REPO / 'docs' / 'results.md'))
    parser.add_argument('--records', default=str(REPO / 'docs' / 'results.json'))
    parser.add_argument('--command', default=None, help='command line to print in the report')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    args = parse_args(argv)
    overrides = {'seeds': args.seeds, 'grid_seeds': args.grid_seeds, 'steps': args.steps,
                 'jobs': args.jobs, 'threads': args.threads, 'data_root': args.data_root}
    profile = replace(PROFILES[args.profile],
                      **{k: v for k, v in overrides.items() if v is not None})
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / 'profile.json').write_text(json.dumps(
        {'profile': args.profile, **asdict(profile)}, indent=2))
    store = ResultsFile(out_root / 'results.jsonl')
    sessions = out_root / 'sessions.jsonl'
    if not args.report_only:
        os.environ.setdefault('OMP_NUM_THREADS', str(profile.threads))
        start = time.time()
        count = execute(profile, out_root, store, train_and_evaluate, profile.jobs,
                        utc_deadline(args.deadline), args.max_runs)
        with sessions.open('a') as handle:
            handle.write(json.dumps({'start': start, 'end': time.time(), 'runs': count}) + '\n')
        if store.skipped_lines:
            LOGGER.warning('%d damaged line(s) in %s were skipped', store.skipped_lines,
                           store.path)
    if args.no_report:
        return 0
    wall_s = 0.0
    if sessions.exists():
        for line in sessions.read_text().splitlines():
            entry = json.loads(line)
            wall_s += entry['end'] - entry['start']
    records = current_records(of_profile(store.load(), profile), profile, out_root)
    write_outputs(args, profile, records, wall_s)
    return 0


if __name__ == '__main__':
    sys.exit(main())
