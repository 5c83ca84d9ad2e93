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
``mtl_stress fuzz|overload|soak``: the long reliability runs, written into docs/reliability.md.

    mtl_stress fuzz --per-topic 1000        # hostile Image / CompressedImage / CameraInfo
    mtl_stress overload --seconds 60 --factor 3
    mtl_stress soak --minutes 10 --rate 30

Each command starts the node (default: the shipped model) in a private ROS domain, runs,
prints the figures and replaces its own section of the report (``--report``), so the three
can run at different times. Exit code 1 when a target is missed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
import json
import logging
import os
from pathlib import Path
import platform
import re
import sys
from typing import Any

LOGGER = logging.getLogger('mtl_stress')
DEFAULT_REPORT = Path('docs/reliability.md')


def _fuzz_section(result: dict[str, Any], when: str) -> tuple[str, bool]:
    from mtl_perception.ros.stress import summarise_counts

    lines = [f'## Fuzz ({when})', '',
             f'{result["per_topic"]} seeded hostile messages per input topic (seed '
             f'{result["seed"]}; `mtl_perception.ros.fuzz`: every mutation at least once, then '
             "random ones), each followed by the node's answer or its count in /diagnostics.",
             '', '| node | messages sent | valid frames answered | counters equal to sent '
             '| crashes | tracebacks | resting RSS | peak RSS | peak / resting |',
             '|---|---|---|---|---|---|---|---|---|']
    ok = True
    categories = []
    for run in result['runs']:
        sent = summarise_counts(run['sent'])
        ratio = run['peak_rss_mb'] / run['resting_rss_mb']
        equal = 'yes' if not run['mismatches'] else f'no: {run["mismatches"]}'
        lines.append(
            f'| {run["node"]} | {", ".join(f"{t}: {n}" for t, n in sent.items())} | '
            f'{run["valid_answered"]} / {run["valid_sent"]} | {equal} | {run["crashed"]} | '
            f'{run["tracebacks"]} | {run["resting_rss_mb"]:.0f} MB | {run["peak_rss_mb"]:.0f} MB'
            f' | {ratio:.2f} |')
        ok &= (not run['mismatches'] and run['valid_answered'] == run['valid_sent']
               and not run['crashed'] and not run['tracebacks'] and ratio <= 1.5)
        for (topic, category), count in sorted(run['sent'].items()):
            categories.append(f'{topic}/{category}: {count}')
    lines += ['', 'Counters reported by the node (difference over the run):', '']
    for run in result['runs']:
        lines.append(f'- {run["node"]}: ' + ', '.join(f'{k} {v}' for k, v in
                                                      sorted(run['counters'].items()) if v))
    lines += ['', 'Messages per mutation: ' + '; '.join(categories), '']
    return '\n'.join(lines), ok


def _overload_section(result: dict[str, Any], when: str) -> tuple[str, bool]:
    counters = result['counters']
    unanswered = result['sent'] - result['answered']
    counted = counters.get('frames_dropped', 0) + counters.get('frames_rejected', 0)
    ok = counted == unanswered and not result['crashed'] and not result['tracebacks']
    lines = [
        f'## Overload ({when})', '',
        f'The node answered {result["rate_hz"]:.1f} frames/s (320x240 rgb8, one at a time, '
        f'labels + depth + points subscribed); then {result["factor"]:g}x that rate for '
        f'{result["seconds"]:.0f} s.', '',
        '| sent | answered | sent - answered | dropped (diagnostics) | of which in DDS | '
        'rejected | latency p50 / p99 | resting RSS | peak RSS | crashes |',
        '|---|---|---|---|---|---|---|---|---|---|',
        f'| {result["sent"]} | {result["answered"]} | {unanswered} | '
        f'{counters.get("frames_dropped", 0)} | {counters.get("frames_dropped_dds", 0)} | '
        f'{counters.get("frames_rejected", 0)} | {result["latency_p50_ms"]:.0f} / '
        f'{result["latency_p99_ms"]:.0f} ms | {result["resting_rss_mb"]:.0f} MB | '
        f'{result["peak_rss_mb"]:.0f} MB | {result["crashed"]} |', '',
        f'Drops counted by diagnostics {"equal" if ok else "DO NOT equal"} the frames sent '
        'minus answered (minus rejected).', '']
    return '\n'.join(lines), ok


def _soak_section(result: dict[str, Any], when: str, note: str) -> tuple[str, bool]:
    rows = result['per_minute']
    first, last = rows[0], rows[-1]
    p99_ratio = last['p99_ms'] / first['p99_ms'] if first['p99_ms'] else float('nan')
    ok = (result['rss_growth_pct'] < 5.0 and p99_ratio <= 1.5 and not result['crashed']
          and not result['tracebacks'])
    counters = result['counters']
    lines = [
        f'## Soak ({when})', '',
        f'{result["minutes"]:.1f} minutes at {result["rate_hz"]:g} Hz (320x240 rgb8; labels, '
        'depth, points and markers subscribed). ' + note, '',
        f'Sent {result["sent"]}, answered {result["answered"]}; diagnostics: processed '
        f'{counters.get("frames_processed", 0)}, dropped {counters.get("frames_dropped", 0)} '
        f'(in DDS {counters.get("frames_dropped_dds", 0)}), rejected '
        f'{counters.get("frames_rejected", 0)}. Crashes {result["crashed"]}, tracebacks '
        f'{result["tracebacks"]}.', '',
        f'RSS: resting {result["resting_rss_mb"]:.0f} MB, first minute '
        f'{result["rss_first_minute_mb"]:.1f} MB, last minute '
        f'{result["rss_last_minute_mb"]:.1f} MB (growth {result["rss_growth_pct"]:+.2f} %), '
        f'peak {result["peak_rss_mb"]:.0f} MB. Latency p99 last / first minute: '
        f'{p99_ratio:.2f}.', '',
        '| minute | answered | latency p50 | latency p99 | RSS |', '|---|---|---|---|---|']
    lines += [f'| {row["minute"]} | {row["answered"]} | {row["p50_ms"]:.0f} ms | '
              f'{row["p99_ms"]:.0f} ms | {row["rss_mb"]:.1f} MB |' for row in rows]
    lines.append('')
    return '\n'.join(lines), ok


def write_section(report: Path, mode: str, text: str) -> None:
    """Replace (or append) the ``mode`` section of the report, between its markers."""
    begin, end = f'<!-- mtl_stress:{mode} -->', f'<!-- /mtl_stress:{mode} -->'
    if report.exists():
        content = report.read_text()
    else:
        content = ('# Reliability\n\nWritten by `mtl_stress` (mtl_perception/tools/stress.py); '
                   'each section is replaced by its own command.\n\n')
    block = f'{begin}\n{text}\n{end}'
    pattern = re.compile(re.escape(begin) + '.*?' + re.escape(end), re.S)
    content = pattern.sub(lambda _: block, content) if pattern.search(content) else (
        content.rstrip('\n') + '\n\n' + block + '\n')
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(content)


def _plain(value: Any) -> Any:
    """Return ``value`` with tuple keys (topic, category) joined, so that JSON can hold it."""
    if isinstance(value, dict):
        return {'/'.join(k) if isinstance(k, tuple) else k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='mtl_stress', description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default=None, help='checkpoint; default: the shipped model')
    parser.add_argument('--report', type=Path, default=DEFAULT_REPORT)
    parser.add_argument('--json', type=Path, default=None, help='also write the raw figures')
    parser.add_argument('--note', default='', help='a sentence for the report (e.g. CPU load)')
    commands = parser.add_subparsers(dest='mode', required=True)
    fuzz = commands.add_parser('fuzz', help='hostile messages on every input topic')
    fuzz.add_argument('--per-topic', type=int, default=1000)
    fuzz.add_argument('--seed', type=int, default=0)
    overload = commands.add_parser('overload', help='a multiple of the rate the node keeps up')
    overload.add_argument('--seconds', type=float, default=60.0)
    overload.add_argument('--factor', type=float, default=3.0)
    soak = commands.add_parser('soak', help='a long run at a camera rate')
    soak.add_argument('--minutes', type=float, default=10.0)
    soak.add_argument('--rate', type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(message)s')
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    # Imported only now: torch (under both) reads OMP_NUM_THREADS when it is first imported.
    from mtl_perception.core.predictor import default_model_path
    from mtl_perception.ros import stress

    model = str(Path(args.model or default_model_path()).resolve())
    if not Path(model).exists():
        LOGGER.error('model %s does not exist', model)
        return 2
    when = (f'{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node() or "host"}, '
            f'{os.cpu_count()} CPUs, model {Path(model).name}')
    try:
        if args.mode == 'fuzz':
            result = stress.run_fuzz(model, args.per_topic, args.seed, LOGGER.info)
            text, ok = _fuzz_section(result, when)
        elif args.mode == 'overload':
            result = stress.run_overload(model, args.seconds, args.factor, LOGGER.info)
            text, ok = _overload_section(result, when)
        else:
            result = stress.run_soak(model, args.minutes, args.rate, LOGGER.info)
            text, ok = _soak_section(result, when, args.note)
    except RuntimeError as error:
        LOGGER.error('%s', error)
        return 1
    if args.note and args.mode != 'soak':
        text += f'\n{args.note}\n'
    write_section(args.report, args.mode, text)
    if args.json:
        args.json.write_text(json.dumps(_plain(result), default=str, indent=1))
    LOGGER.info('%s\n%s: %s', text, args.mode, 'targets met' if ok else 'TARGETS MISSED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
