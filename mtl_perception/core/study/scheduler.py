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
Run what a study has not finished yet, several runs at a time, resumable at any moment.

Plans again after every finished run, because some arms (best grid cell, frozen weights)
become ready only then; ``deadline`` stops starting runs that would not finish in time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
import datetime
import logging
import multiprocessing
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.study.planning import (
    of_profile,
    ready_specs,
)
from mtl_perception.core.study.protocol import (
    Profile,
)
from mtl_perception.core.study.records import ResultsFile
from mtl_perception.core.study.stats import (
    delta_m,
    single_task_baseline,
)

LOGGER = logging.getLogger('reproduce_paper')


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
