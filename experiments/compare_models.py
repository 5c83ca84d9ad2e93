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
Before/after table of two or more models: same data, same commands, one markdown table.

For every model it runs the project's own commands and reads their JSON:

- ``mtl_evaluate MODEL --data-root ROOT --split test`` on each test split given;
- ``mtl_evaluate MODEL --real-stereo`` (Middlebury Motorcycle, real photo);
- ``mtl_eval_bag BAG --model MODEL`` on each rendered drive (the node's pipeline at the
  bag's camera resolution), averaged over the bags of a group (``GROUP_name``).

Usage::

    python experiments/compare_models.py --model old=/tmp/old_default.pt
        --model new=models/default.pt --split data/synth2:test --split data/synth1:test
        --bags data/bags/v1_s77 data/bags/v1_s78 --out runs/compare --write docs/compare.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np

BIN = Path(sys.executable).parent


def _run(command: list[str]) -> None:
    print('$', ' '.join(command), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _tool(name: str) -> str:
    return str(BIN / name) if (BIN / name).exists() else shutil.which(name) or name


def evaluate_model(name: str, path: str, splits: list[str], bags: list[str], out: Path
                   ) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for spec in splits:
        root, split = spec.rsplit(':', 1)
        target = out / f'{name}_{Path(root).name}_{split}'
        if not (target / 'metrics.json').exists():
            _run([_tool('mtl_evaluate'), path, '--data-root', root, '--split', split,
                  '--device', 'cpu', '--out', str(target), '--mosaics', '2'])
        metrics = json.loads((target / 'metrics.json').read_text())['metrics']
        rows[f'{Path(root).name}:{split}'] = metrics
    target = out / f'{name}_real'
    if not (target / 'real_stereo.json').exists():
        _run([_tool('mtl_evaluate'), path, '--real-stereo', '--device', 'cpu', '--out',
              str(target)])
    real = json.loads((target / 'real_stereo.json').read_text())
    for photo, entry in real.items():
        rows[f'real:{photo}'] = {'spearman': entry['model']['spearman'],
                                 'silog': entry['model']['silog'],
                                 'prior_spearman': entry['row_prior']['spearman']}
    groups: dict[str, list[dict[str, float]]] = {}
    for bag in bags:
        target = out / f'{name}_bag_{Path(bag).name}'
        if not (target / 'metrics.json').exists():
            _run([_tool('mtl_eval_bag'), bag, '--model', path, '--device', 'cpu', '--out',
                  str(target), '--no-output-bag', '--mosaics', '1'])
        # Bags named <group>_<anything> are averaged per group (e.g. v1_s77, v1_s78).
        group = Path(bag).name.split('_')[0]
        groups.setdefault(group, []).append(
            json.loads((target / 'metrics.json').read_text())['metrics'])
    for group, metrics in groups.items():
        rows[f'bags:{group} (x{len(metrics)})'] = {
            key: float(np.mean([m[key] for m in metrics]))
            for key in ('semantic_miou', 'instance_pq', 'depth_abs_rel')}
    return rows


def table(results: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    names = list(results)
    lines = ['| data | metric | ' + ' | '.join(names) + ' |',
             '|---|---|' + '---|' * len(names)]
    first = results[names[0]]
    for data in first:
        keys = [('semantic_miou', 'mIoU %', 100), ('instance_pq', 'PQ things %', 100),
                ('depth_abs_rel', 'depth abs-rel', 1), ('spearman', 'Spearman', 1),
                ('silog', 'scale-inv. log err', 1), ('prior_spearman', 'row prior Spearman', 1)]
        for key, label, scale in keys:
            if key not in first[data]:
                continue
            values = [results[n].get(data, {}).get(key) for n in names]
            cells = ['-' if v is None else f'{v * scale:.3f}' if scale == 1 else
                     f'{v * scale:.1f}' for v in values]
            lines.append(f'| {data} | {label} | ' + ' | '.join(cells) + ' |')
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', action='append', required=True, metavar='NAME=PATH')
    parser.add_argument('--split', action='append', default=[], metavar='ROOT:SPLIT')
    parser.add_argument('--bags', nargs='*', default=[])
    parser.add_argument('--out', type=Path, default=Path('runs/compare'))
    parser.add_argument('--write', type=Path, default=None, help='write the table here')
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for spec in args.model:
        name, path = spec.split('=', 1)
        results[name] = evaluate_model(name, path, args.split, args.bags, args.out)
    lines = table(results)
    print('\n'.join(lines))
    (args.out / 'compare.json').write_text(json.dumps(results, indent=2, default=str))
    if args.write is not None:
        args.write.write_text('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
