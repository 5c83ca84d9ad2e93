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
The markdown tables of the study report, computed from the finished records alone.

Cells are means with the half-width of a Student-t 95 % interval over seeds; comparisons
between arms are paired differences over the seeds both share.
"""

from __future__ import annotations

import math
from typing import Any

from mtl_perception.core.study.protocol import (
    grid_arms,
    TASKS3,
)
from mtl_perception.core.study.stats import (
    delta_m,
    Interval,
    mean_interval,
    METRICS,
    paired_difference,
    single_task_baseline,
)
import numpy as np


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
