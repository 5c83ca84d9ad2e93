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
The study's section of ``docs/results.md``: profile, tables and the hand-written findings.

The section lies between the ``paper-study`` markers (:func:`mtl_perception.core.report
.write_marked_section` keeps the rest of the file); the findings block inside it is written by
hand and kept on every rewrite.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from mtl_perception.core.study.protocol import (
    CORE_ARMS,
    Profile,
    STRESS_ARMS,
    TWO_TASK_ARMS,
)
from mtl_perception.core.study.tables import (
    equilibrium_table,
    grid_table,
    metric_table,
    paired_table,
    stress_table,
    summary_rows,
)

MARKER = 'paper-study'
FINDINGS_BEGIN = '<!-- paper-study-findings:begin -->'
FINDINGS_END = '<!-- paper-study-findings:end -->'


def existing_findings(path: Path) -> str:
    """Return the hand-written findings block of the current report (kept on rewrite)."""
    if path.exists():
        text = path.read_text()
        if FINDINGS_BEGIN in text and FINDINGS_END in text:
            return text.split(FINDINGS_BEGIN, 1)[1].split(FINDINGS_END, 1)[0].strip('\n')
    return ('_To be written by whoever ran the study, from the numbers above, including where '
            'the learned weights lose._')


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
