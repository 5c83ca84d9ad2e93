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

This script is the entry point only (arguments, output paths, sessions); the study itself is
the library :mod:`mtl_perception.core.study` (protocol, planning, scheduler, runs, report).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, replace
import json
import logging
import os
from pathlib import Path
import shlex
import sys
import time
from typing import Any

from mtl_perception.core.report import cpu_model, write_marked_section
from mtl_perception.core.study import (
    current_records,
    execute,
    existing_findings,
    export_records,
    MARKER,
    of_profile,
    plot_grid,
    plot_sigmas,
    Profile,
    PROFILES,
    report,
    ResultsFile,
    utc_deadline,
)

LOGGER = logging.getLogger('reproduce_paper')
REPO = Path(__file__).resolve().parents[1]


def hardware_line() -> str:
    """Return the hardware the study ran on, for the report."""
    return f'{cpu_model()} (lscpu), no GPU'


def write_outputs(args: argparse.Namespace, profile: Profile, records: list[dict[str, Any]],
                  wall_s: float) -> None:
    """Write the report section, the flat records and the pictures next to the results."""
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
    write_marked_section(Path(args.results), MARKER, section, heading='# Results')
    Path(args.records).write_text(json.dumps(export_records(records), indent=1,
                                             allow_nan=True) + '\n')
    LOGGER.info('wrote %s and %s from %d runs', args.results, args.records, len(records))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Return the study's options."""
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
    """Run the unfinished part of the study (unless ``--report-only``), then report."""
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
        # Training needs torch; the report alone is rebuilt from the records without it.
        from mtl_perception.core.study.runs import train_and_evaluate

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
