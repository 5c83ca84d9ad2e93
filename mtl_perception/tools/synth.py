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
rather than mixing two kinds of frames. Layout and encodings: ``synth/writer.py``;
the run itself: ``synth/generate.py``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import re
import sys

from mtl_perception.synth import SceneSequence
from mtl_perception.synth.generate import generate, SynthJob
from mtl_perception.synth.writer import CITYSCAPES_BASELINE_M
from tqdm import tqdm

LOGGER = logging.getLogger('mtl_synth')
MAX_SIZE_PX = 4096
_SPLIT_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


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
    except (ValueError, RuntimeError) as error:
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
