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

- single-task baselines: semantic, instance, depth;
- the unweighted sum (equal weights, 1/3 each);
- fixed-weight grids: the paper's 2-task grids (semantic+depth, instance+depth: w / 1-w) and a
  log grid of 3-task ratios; grid cells run on ``--grid-seeds`` seeds, the best cell of each
  grid is chosen on the VALIDATION split and retrained on fresh seeds;
- learned uncertainty weighting: the three 2-task pairs and all 3 tasks;
- a stress test: depth targets x100, unweighted sum vs uncertainty weighting.

Main arms run on ``--seeds`` paired seeds (seed s of every arm shares its initialisation and
data order). Test metrics are reported as mean +- std with the multi-task gain

    Delta_m = mean over tasks i of (-1)^l_i (M_i - M_single,i) / M_single,i   (in %)

where l_i = 1 for lower-is-better metrics (instance error, inverse-depth error) and M_single,i
is the single-task model's mean (Maninis et al., CVPR 2019). Results, the command, hardware,
wall time and date go to ``docs/results.md``; learned sigmas over training to
``docs/sigmas.png``.

Profiles: ``gpu`` is the protocol of issue 3 (8 seeds, 2 grid seeds, full budget) for one
H100 with several runs sharing the GPU; ``cpu`` is a reduced protocol that fits a 2-core CPU
(fewer seeds, smaller images, shorter runs) and says so in the report.
"""

from __future__ import annotations

import argparse
from concurrent.futures import as_completed, ProcessPoolExecutor
import csv
from dataclasses import dataclass, field, replace
import json
import logging
import math
from pathlib import Path
import shlex
import sys
import time
from typing import Any

import numpy as np

LOGGER = logging.getLogger('reproduce_paper')
REPO = Path(__file__).resolve().parents[1]

METRICS = {  # key in evaluate_checkpoint's result, task, lower is better
    'semantic_miou': ('semantic', False),
    'instance_mean_error_px': ('instance', True),
    'inverse_depth_mean_error': ('depth', True),
}


@dataclass(frozen=True)
class Profile:
    seeds: int
    grid_seeds: int
    steps: int
    batch_size: int
    width: int
    height: int
    preset: str
    jobs: int
    threads: int
    val_frames: int
    test_frames: int


PROFILES = {
    'gpu': Profile(seeds=8, grid_seeds=2, steps=3000, batch_size=16, width=256, height=128,
                   preset='small', jobs=8, threads=2, val_frames=0, test_frames=0),
    'cpu': Profile(seeds=3, grid_seeds=1, steps=250, batch_size=8, width=160, height=120,
                   preset='small', jobs=2, threads=1, val_frames=64, test_frames=150),
}


@dataclass(frozen=True)
class Arm:
    name: str
    tasks: tuple[str, ...]
    weighting: str
    weights: dict[str, float] = field(default_factory=dict)
    depth_target_scale: float = 1.0
    group: str = 'main'

    def key(self, seed: int) -> str:
        return f'{self.name}_s{seed}'


def main_arms() -> list[Arm]:
    return [
        Arm('single_semantic', ('semantic',), 'equal'),
        Arm('single_instance', ('instance',), 'equal'),
        Arm('single_depth', ('depth',), 'equal'),
        Arm('equal_3task', ('semantic', 'instance', 'depth'), 'equal'),
        Arm('uncertainty_sem_inst', ('semantic', 'instance'), 'uncertainty'),
        Arm('uncertainty_sem_depth', ('semantic', 'depth'), 'uncertainty'),
        Arm('uncertainty_inst_depth', ('instance', 'depth'), 'uncertainty'),
        Arm('uncertainty_3task', ('semantic', 'instance', 'depth'), 'uncertainty'),
    ]


def grid_arms() -> dict[str, list[Arm]]:
    """Return the fixed-weight grids: the paper's two 2-task grids and a 3-task log grid."""
    two = [0.1, 0.3, 0.5, 0.7, 0.85, 0.9]
    grids = {
        'sem_depth': [Arm(f'fixed_sem_depth_{w:g}', ('semantic', 'depth'), 'fixed',
                          {'semantic': w, 'depth': round(1 - w, 4)}, group='grid')
                      for w in two],
        'inst_depth': [Arm(f'fixed_inst_depth_{w:g}', ('instance', 'depth'), 'fixed',
                           {'instance': w, 'depth': round(1 - w, 4)}, group='grid')
                       for w in (0.1, 0.2, 0.5, 0.8, 0.9)],
    }
    three = []
    for instance in (0.01, 0.1, 1.0):
        for depth in (0.1, 1.0, 10.0):
            total = 1.0 + instance + depth
            weights = {'semantic': round(1 / total, 4), 'instance': round(instance / total, 4),
                       'depth': round(depth / total, 4)}
            three.append(Arm(f'fixed_3task_i{instance:g}_d{depth:g}',
                             ('semantic', 'instance', 'depth'), 'fixed', weights, group='grid'))
    # The paper's "approximately optimal" fixed weights, for reference.
    three.append(Arm('fixed_3task_paper', ('semantic', 'instance', 'depth'), 'fixed',
                     {'semantic': 0.89, 'instance': 0.01, 'depth': 0.1}, group='grid'))
    grids['3task'] = three
    return grids


def stress_arms() -> list[Arm]:
    tasks = ('semantic', 'instance', 'depth')
    return [Arm('stress_equal_depth_x100', tasks, 'equal', depth_target_scale=100.0,
                group='stress'),
            Arm('stress_uncertainty_depth_x100', tasks, 'uncertainty', depth_target_scale=100.0,
                group='stress')]


def run_one(arm: Arm, seed: int, profile: Profile, data_root: str, out_root: str
            ) -> dict[str, Any]:
    """Train one arm on one seed and evaluate it on validation and test (in a subprocess)."""
    import torch

    torch.set_num_threads(profile.threads)
    from mtl_perception.tools.evaluate import evaluate_checkpoint
    from mtl_perception.tools.train import run, TrainConfig

    out = Path(out_root) / arm.key(seed)
    result_path = out / 'result.json'
    if result_path.exists():
        return json.loads(result_path.read_text())
    config = TrainConfig(
        data_root=data_root, tasks=arm.tasks, weighting=arm.weighting,
        fixed_weights=dict(arm.weights), preset=profile.preset, width=profile.width,
        height=profile.height, epochs=10_000, max_steps=profile.steps,
        batch_size=profile.batch_size, warmup_steps=min(100, profile.steps // 10),
        depth_target_scale=arm.depth_target_scale, workers=0, seed=seed, out=str(out),
        checkpoint_every_steps=max(50, profile.steps // 4), eval_every_epochs=10_000,
        val_split='', threads=profile.threads, log_every_steps=10)
    start = time.perf_counter()
    model = run(config)
    train_s = time.perf_counter() - start
    result = {'arm': arm.name, 'seed': seed, 'group': arm.group, 'tasks': list(arm.tasks),
              'weighting': arm.weighting, 'weights': arm.weights,
              'depth_target_scale': arm.depth_target_scale, 'train_s': train_s}
    for split, frames in (('val', profile.val_frames), ('test', profile.test_frames)):
        metrics = evaluate_checkpoint(model, data_root, split, out=None, device='cpu',
                                      batch_size=16, max_frames=frames, mosaics=0,
                                      depth_target_scale=arm.depth_target_scale)
        result[split] = {k: v for k, v in metrics.items() if k in METRICS}
    from mtl_perception.core.checkpoint import load_checkpoint

    result['sigmas'] = load_checkpoint(model).sigmas
    result_path.write_text(json.dumps(result, indent=2))
    return result


def run_many(jobs: list[tuple[Arm, int]], profile: Profile, data_root: str, out_root: str
             ) -> list[dict[str, Any]]:
    results = []
    with ProcessPoolExecutor(max_workers=profile.jobs) as pool:
        futures = {pool.submit(run_one, arm, seed, profile, data_root, out_root): (arm, seed)
                   for arm, seed in jobs}
        for future in as_completed(futures):
            arm, seed = futures[future]
            result = future.result()
            LOGGER.info('done %s seed %d: test %s', arm.name, seed, result['test'])
            results.append(result)
    return results


def scale_free(result: dict[str, Any], split: str) -> dict[str, float]:
    """Metrics in the units of the unscaled task (the stress test divides depth error back)."""
    metrics = dict(result[split])
    if 'inverse_depth_mean_error' in metrics:
        metrics['inverse_depth_mean_error'] /= result['depth_target_scale']
    return metrics


def delta_m(metrics: dict[str, float], baseline: dict[str, float]) -> float:
    terms = []
    for key, (_, lower) in METRICS.items():
        if key in metrics and key in baseline and baseline[key]:
            sign = -1.0 if lower else 1.0
            terms.append(sign * (metrics[key] - baseline[key]) / baseline[key])
    return 100.0 * float(np.mean(terms)) if terms else float('nan')


def summarise(results: list[dict[str, Any]], split: str) -> dict[str, dict[str, Any]]:
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_arm.setdefault(result['arm'], []).append(result)
    baseline = {}
    for key, (task, _) in METRICS.items():
        values = [scale_free(r, split)[key] for r in by_arm.get(f'single_{task}', [])]
        if values:
            baseline[key] = float(np.mean(values))
    summary = {}
    for arm, runs in by_arm.items():
        row: dict[str, Any] = {'runs': len(runs), 'weights': runs[0]['weights'],
                               'group': runs[0]['group']}
        per_seed_delta = []
        for run in runs:
            per_seed_delta.append(delta_m(scale_free(run, split), baseline))
        for key in METRICS:
            values = [scale_free(r, split)[key] for r in runs if key in r[split]]
            if values:
                row[key] = (float(np.mean(values)), float(np.std(values)))
        row['delta_m'] = (float(np.mean(per_seed_delta)), float(np.std(per_seed_delta)))
        sigmas = [r['sigmas'] for r in runs if r.get('sigmas')]
        if sigmas:
            row['sigmas'] = {t: float(np.mean([s[t] for s in sigmas])) for t in sigmas[0]}
        summary[arm] = row
    return summary


def choose_best(grid: list[Arm], results: list[dict[str, Any]]) -> Arm:
    """Return the grid cell with the best validation Delta_m (never looks at test)."""
    summary = summarise(results, 'val')
    scored = [(summary[arm.name]['delta_m'][0], arm) for arm in grid if arm.name in summary]
    return max(scored, key=lambda item: item[0])[1]


def _cell(row: dict[str, Any], key: str, scale: float, digits: int) -> str:
    if key not in row:
        return '-'
    mean, std = row[key]
    return f'{mean * scale:.{digits}f} +- {std * scale:.{digits}f}'


def table(summary: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    lines = ['| arm | weights (sem / inst / depth) | seg mIoU % | instance err px | '
             'inv. depth err (1/m) | Delta_m % | runs |', '|---|---|---|---|---|---|---|']
    for name in names:
        if name not in summary:
            continue
        row = summary[name]
        weights = row['weights']
        if 'uncertainty' in name:
            text = 'learned'
        elif name.startswith('equal') or name.startswith('stress_equal'):
            text = 'equal'
        elif name.startswith('single'):
            text = '1 (one task)'
        else:
            text = ' / '.join(f'{weights.get(t, "-")}' for t in ('semantic', 'instance',
                                                                 'depth'))

        delta = row['delta_m']
        delta_text = '-' if math.isnan(delta[0]) else f'{delta[0]:+.1f} +- {delta[1]:.1f}'
        lines.append(f'| {name} | {text} | {_cell(row, "semantic_miou", 100, 1)} | '
                     f'{_cell(row, "instance_mean_error_px", 1, 2)} | '
                     f'{_cell(row, "inverse_depth_mean_error", 1, 4)} | {delta_text} | '
                     f'{row["runs"]} |')
    return lines


def plot_sigmas(out_root: Path, target: Path) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    logs = sorted(out_root.glob('uncertainty_3task_s*/log.csv'))
    if not logs:
        return
    figure, axis = plt.subplots(figsize=(7, 4))
    colours = {'semantic': 'tab:blue', 'instance': 'tab:orange', 'depth': 'tab:green'}
    for index, path in enumerate(logs):
        with path.open(newline='') as handle:
            rows = list(csv.DictReader(handle))
        steps = [float(r['step']) for r in rows]
        for task, colour in colours.items():
            if f'sigma_{task}' in rows[0]:
                axis.plot(steps, [float(r[f'sigma_{task}']) for r in rows], color=colour,
                          alpha=0.6, label=task if index == 0 else None)
    axis.set(xlabel='step', ylabel='learned sigma', yscale='log',
             title='3-task uncertainty weighting: learned sigma per task (all seeds)')
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(target, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default='data/synth')
    parser.add_argument('--out', default='runs/reproduce')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu')
    parser.add_argument('--seeds', type=int, default=None)
    parser.add_argument('--grid-seeds', type=int, default=None)
    parser.add_argument('--steps', type=int, default=None)
    parser.add_argument('--jobs', type=int, default=None)
    parser.add_argument('--skip-grid', action='store_true')
    parser.add_argument('--skip-stress', action='store_true')
    parser.add_argument('--results', default=str(REPO / 'docs' / 'results.md'))
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    profile = replace(profile, **{k: v for k, v in {'seeds': args.seeds,
                                                    'grid_seeds': args.grid_seeds,
                                                    'steps': args.steps,
                                                    'jobs': args.jobs}.items()
                                  if v is not None})
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    seeds = list(range(profile.seeds))
    main_results = run_many([(arm, s) for arm in main_arms() for s in seeds], profile,
                            args.data_root, str(out_root))
    chosen: dict[str, Arm] = {}
    grid_results: list[dict[str, Any]] = []
    retrained: list[dict[str, Any]] = []
    if not args.skip_grid:
        grids = grid_arms()
        grid_seeds = [100 + s for s in range(profile.grid_seeds)]
        grid_results = run_many([(arm, s) for grid in grids.values() for arm in grid
                                 for s in grid_seeds], profile, args.data_root, str(out_root))
        for name, grid in grids.items():
            best = choose_best(grid, grid_results + main_results)
            chosen[name] = replace(best, name=f'best_fixed_{name}', group='main')
        fresh = [200 + s for s in range(profile.seeds)]
        retrained = run_many([(arm, s) for arm in chosen.values() for s in fresh], profile,
                             args.data_root, str(out_root))
    stress_results: list[dict[str, Any]] = []
    if not args.skip_stress:
        stress_results = run_many([(arm, s) for arm in stress_arms() for s in seeds], profile,
                                  args.data_root, str(out_root))
    wall_s = time.perf_counter() - start
    report = write_report(args, profile, main_results, grid_results, retrained, chosen,
                          stress_results, wall_s)
    plot_sigmas(out_root, Path(args.results).with_name('sigmas.png'))
    Path(args.results).write_text(report)
    (out_root / 'all_results.json').write_text(json.dumps(
        main_results + grid_results + retrained + stress_results, indent=2))
    LOGGER.info('wrote %s (%.0f s)', args.results, wall_s)
    return 0


def write_report(args: argparse.Namespace, profile: Profile, main_results: list,
                 grid_results: list, retrained: list, chosen: dict[str, Arm],
                 stress_results: list, wall_s: float) -> str:
    from mtl_perception.tools.report import cpu_model, now_iso

    summary = summarise(main_results + retrained, 'test')
    names = [a.name for a in main_arms()[:4]] + [f'best_fixed_{g}' for g in chosen] + [
        a.name for a in main_arms()[4:]]
    lines = [
        '# Reproducing the paper: learned uncertainty weighting vs fixed weights',
        '',
        f'- command: `python {Path(__file__).relative_to(REPO)} '
        f'{shlex.join(sys.argv[1:])}`',
        f'- hardware: {cpu_model()}; wall time {wall_s / 60:.1f} min; date {now_iso()}',
        f'- profile `{args.profile}`: {profile.preset} preset at {profile.width}x'
        f'{profile.height}, {profile.steps} steps of batch {profile.batch_size} per run, '
        f'{profile.seeds} paired seeds per main arm, grid cells on {profile.grid_seeds} '
        f'seed(s), best cells retrained on {profile.seeds} fresh seeds; test metrics on '
        f'{profile.test_frames or "all"} test frames, selection on '
        f'{profile.val_frames or "all"} validation frames.',
        f'- data: `{args.data_root}` (generated by `mtl_synth`, fixed train/val/test splits).',
        '- Delta_m: mean relative change against the single-task models over the tasks an '
        'arm trains (sign flipped for lower-is-better metrics), in %; mean +- std over seeds.',
        '',
        '## Test split',
        '',
    ] + table(summary, names)
    if chosen:
        lines += ['', 'Best fixed weights chosen on validation: ' + ', '.join(
            f'{name}: {arm.weights}' for name, arm in chosen.items()) + '.']
    if grid_results:
        grid_summary = summarise(grid_results + main_results, 'val')
        lines += ['', '## Fixed-weight grids (validation split, used for selection only)', '']
        lines += table(grid_summary, sorted(n for n in grid_summary if n.startswith('fixed')))
    if stress_results:
        stress = summarise(stress_results + main_results, 'test')
        lines += ['', '## Stress test: depth targets x100 (errors in unscaled units)', '']
        lines += table(stress, ['equal_3task', 'uncertainty_3task', 'stress_equal_depth_x100',
                                'stress_uncertainty_depth_x100'])
    unc = summary.get('uncertainty_3task', {}).get('sigmas')
    if unc:
        lines += ['', 'Learned sigmas of the 3-task model (mean over seeds): ' + ', '.join(
            f'{t} {v:.3g}' for t, v in unc.items()) + '. Plot: `docs/sigmas.png`.']
    lines += ['', '## Findings', '',
              '_To be written by whoever ran this, after reading the numbers: what they say, '
              'honestly, including where the learned weights lose._', '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
