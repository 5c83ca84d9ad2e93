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
``mtl_synth``: render random PyBullet scenes with exact ground truth in the Cityscapes layout.

    mtl_synth --out data/synth --split train --frames 2000 --workers 4
    mtl_synth --out data/synth --split val --frames 200 --workers 4

Frame ``i`` of split ``S`` is rendered from a seed derived from ``(--seed, S, i)`` only, so any
number of workers, in any order, writes byte-identical files, and a second run with the same
arguments skips every complete frame (resume after a kill; raise ``--frames`` to extend a
split). ``manifest.json`` at the root records the generator version, the class set, the
encodings and each split's parameters; running a split again with other parameters is refused
rather than mixing two kinds of frames. Layout and encodings: ``synth/writer.py``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import logging
import multiprocessing
from pathlib import Path
import re
import sys
import time
from typing import Any

from mtl_perception.core.layout import MANIFEST_NAME, read_manifest
from mtl_perception.synth import GENERATOR_VERSION, SceneRenderer, SceneSequence
from mtl_perception.synth.writer import (
    atomic_write_json,
    CITYSCAPES_BASELINE_M,
    frame_paths,
    frame_seed,
    new_manifest,
    write_frame,
)
from tqdm import tqdm

LOGGER = logging.getLogger('mtl_synth')
MAX_SIZE_PX = 4096
_SPLIT_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


@dataclass(frozen=True)
class SynthJob:
    """What to generate: one split of one output folder."""

    out: Path
    split: str
    frames: int
    width: int = 320
    height: int = 240
    seed: int = 0
    scenes: int = 8
    hfov_deg: float | None = None
    baseline_m: float = CITYSCAPES_BASELINE_M

    def split_record(self) -> dict[str, Any]:
        """Return the parameters that must match when a split is extended or resumed."""
        return {'width': self.width, 'height': self.height, 'seed': self.seed,
                'scenes': self.scenes, 'hfov_deg': self.hfov_deg}


# --- workers --------------------------------------------------------------------------------

_RENDERER: SceneRenderer | None = None


def _init_worker() -> None:
    """Give each worker process its own PyBullet client with the pool loaded."""
    global _RENDERER
    _RENDERER = SceneRenderer()


def _render_task(task: tuple[SynthJob, int]) -> tuple[int, int]:
    """Render and write one frame; return its index and how many thing pixels it has."""
    job, index = task
    if _RENDERER is None:
        raise RuntimeError('mtl_synth worker used before _init_worker')
    try:
        frame = _RENDERER.render_frame(frame_seed(job.seed, job.split, index), job.width,
                                       job.height, job.hfov_deg)
        write_frame(frame, frame_paths(job.out, job.split, index, job.scenes), job.baseline_m)
    except Exception as error:
        raise RuntimeError(f'frame {index} of split {job.split!r} failed: {error}') from error
    return index, sum(1 for info in frame.instances if info.pixels > 0)


# --- the run --------------------------------------------------------------------------------

def _prepare_manifest(job: SynthJob) -> dict[str, Any]:
    """Load or start the manifest and refuse to mix frames made with other parameters."""
    manifest = read_manifest(job.out)
    if manifest is None:
        return new_manifest(job.baseline_m)
    if manifest.get('generator') != GENERATOR_VERSION:
        raise ValueError(f'{job.out / MANIFEST_NAME} was written by generator '
                         f'{manifest.get("generator")!r}, this is {GENERATOR_VERSION!r}; '
                         'use another --out')
    if float(manifest.get('baseline_m', -1.0)) != job.baseline_m:
        raise ValueError(f'{job.out} holds frames with baseline {manifest.get("baseline_m")} m, '
                         f'not {job.baseline_m} m; use the same --baseline or another --out')
    previous = manifest.get('splits', {}).get(job.split)
    if previous is not None:
        expected = job.split_record()
        changed = {key: (previous.get(key), value) for key, value in expected.items()
                   if previous.get(key) != value}
        if changed:
            detail = ', '.join(f'{key}: {old} -> {new}' for key, (old, new) in changed.items())
            raise ValueError(f'split {job.split!r} in {job.out} was generated with other '
                             f'parameters ({detail}); use the same ones or another --out')
    return manifest


def _write_manifest(job: SynthJob, manifest: dict[str, Any], complete: int) -> None:
    splits = manifest.setdefault('splits', {})
    previous = splits.get(job.split, {})
    record = job.split_record()
    record['frames'] = max(job.frames, int(previous.get('frames', 0)))
    record['complete'] = complete
    splits[job.split] = record
    manifest['counts'] = {name: int(entry.get('complete', 0)) for name, entry in splits.items()}
    atomic_write_json(job.out / MANIFEST_NAME, manifest)


def generate(job: SynthJob, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Render the missing frames of ``job`` and return a summary (counts and timings)."""
    job.out.mkdir(parents=True, exist_ok=True)
    manifest = _prepare_manifest(job)
    todo = [index for index in range(job.frames)
            if not frame_paths(job.out, job.split, index, job.scenes).complete()]
    skipped = job.frames - len(todo)
    _write_manifest(job, manifest, skipped)
    LOGGER.info('split %r: %d frames wanted, %d already complete, %d to render with %d '
                'worker(s)', job.split, job.frames, skipped, len(todo), workers)
    start = time.perf_counter()
    instances = 0
    bar = tqdm(total=len(todo), unit='frame', desc=f'mtl_synth {job.split}',
               disable=not progress or not todo)
    tasks = [(job, index) for index in todo]
    try:
        if workers <= 1 or len(todo) <= 1:
            _init_worker()
            try:
                for task in tasks:
                    instances += _render_task(task)[1]
                    bar.update(1)
            finally:
                _close_worker()
        else:
            context = multiprocessing.get_context('spawn')
            with context.Pool(min(workers, len(todo)), initializer=_init_worker) as pool:
                for _, count in pool.imap_unordered(_render_task, tasks, chunksize=1):
                    instances += count
                    bar.update(1)
    finally:
        bar.close()
        complete = sum(frame_paths(job.out, job.split, index, job.scenes).complete()
                       for index in range(job.frames))
        _write_manifest(job, manifest, complete)
    seconds = time.perf_counter() - start
    return {'split': job.split, 'rendered': len(todo), 'skipped': skipped,
            'complete': complete, 'seconds': seconds,
            'frames_per_second': len(todo) / seconds if todo and seconds > 0 else 0.0,
            'visible_instances': instances}


def _close_worker() -> None:
    global _RENDERER
    if _RENDERER is not None:
        _RENDERER.close()
    _RENDERER = None


# --- command line ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='mtl_synth',
        description='Render random PyBullet scenes with exact semantic, instance and depth '
                    'ground truth in the Cityscapes layout (see synth/writer.py).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', required=True, type=Path, help='output root folder')
    parser.add_argument('--split', default='train', help='split name (train, val, test, ...)')
    parser.add_argument('--frames', type=int, default=100, help='frames in the split')
    parser.add_argument('--width', type=int, default=320, help='image width in pixels')
    parser.add_argument('--height', type=int, default=240, help='image height in pixels')
    parser.add_argument('--seed', type=int, default=0, help='global seed')
    parser.add_argument('--workers', type=int, default=1,
                        help='worker processes, each with its own PyBullet client')
    parser.add_argument('--scenes', type=int, default=8,
                        help='scene folders per split (frame i goes to folder i mod scenes)')
    parser.add_argument('--hfov', type=float, default=None,
                        help='fixed horizontal field of view in degrees; none: random '
                             '42-95 per frame')
    parser.add_argument('--baseline', type=float, default=CITYSCAPES_BASELINE_M,
                        help='virtual stereo baseline in metres for the disparity PNGs')
    parser.add_argument('--bag', choices=('mcap', 'sqlite3'), default=None,
                        help='instead of the Cityscapes layout, write a rosbag2 drive (one '
                             'scene, a swaying camera) to --out: camera image, camera_info '
                             'and ground-truth topics, for mtl_eval_bag and ros2 bag play')
    parser.add_argument('--rate-hz', type=float, default=10.0, help='frame rate of --bag')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--quiet', action='store_true', help='log warnings only')
    return parser


def parse_job(argv: list[str] | None = None) -> tuple[SynthJob, argparse.Namespace]:
    """Parse and check the command line; bad values end in ``parser.error`` (exit status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f'--out {args.out} exists and is not a folder')
    if not _SPLIT_NAME.match(args.split):
        parser.error(f'--split must be a plain name (letters, digits, _ . -), got {args.split!r}')
    for name in ('width', 'height'):
        value = getattr(args, name)
        if not 0 < value <= MAX_SIZE_PX:
            parser.error(f'--{name} must be in 1..{MAX_SIZE_PX}, got {value}')
    for name in ('frames', 'workers', 'scenes'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if args.frames > 999_999:
        parser.error(f'--frames must be <= 999999 (six-digit frame numbers), got {args.frames}')
    if args.seed < 0:
        parser.error(f'--seed must be >= 0, got {args.seed}')
    if args.hfov is not None and not 1.0 <= args.hfov <= 170.0:
        parser.error(f'--hfov must be in 1..170 degrees, got {args.hfov}')
    if not args.baseline > 0:
        parser.error(f'--baseline must be positive, got {args.baseline}')
    job = SynthJob(out=args.out, split=args.split, frames=args.frames, width=args.width,
                   height=args.height, seed=args.seed, scenes=args.scenes, hfov_deg=args.hfov,
                   baseline_m=args.baseline)
    return job, args


def write_drive_bag(job: SynthJob, args: argparse.Namespace) -> int:
    """``--bag``: one scene seen by a moving camera, as a rosbag2 with ground truth."""
    from mtl_perception.ros.recording import write_synthetic_bag

    sequence = SceneSequence(job.seed, job.width, job.height, job.hfov_deg)
    frames = tqdm(sequence.frames(job.frames, args.rate_hz), total=job.frames,
                  disable=args.no_progress, desc='rendering')
    try:
        path = write_synthetic_bag(job.out, frames, args.rate_hz, storage=args.bag)
    except ValueError as error:
        LOGGER.error('%s', error)
        return 1
    LOGGER.info('wrote %s (%d frames at %g Hz, %s)', path, job.frames, args.rate_hz, args.bag)
    return 0


def main(argv: list[str] | None = None) -> int:
    job, args = parse_job(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format='%(name)s: %(message)s')
    if args.bag:
        return write_drive_bag(job, args)
    try:
        summary = generate(job, workers=args.workers, progress=not args.no_progress)
    except ValueError as error:
        LOGGER.error('%s', error)
        return 1
    except KeyboardInterrupt:
        LOGGER.warning('interrupted; run the same command again to resume')
        return 130
    LOGGER.info('split %r: rendered %d, skipped %d, %d/%d complete in %s; %.1f s, '
                '%.2f frames/s, %d visible instances', summary['split'], summary['rendered'],
                summary['skipped'], summary['complete'], job.frames, job.out,
                summary['seconds'], summary['frames_per_second'],
                summary['visible_instances'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
