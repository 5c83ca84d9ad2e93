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
``mtl_benchmark_instances``: speed and panoptic quality of the instance clustering methods.

Clusters frames whose ground truth is known exactly (synthetic shapes, or PyBullet-rendered
scenes) with every method, on the ground-truth semantic labels, so the numbers measure the
clustering alone: per-frame time and thing panoptic quality. The frames, the measurement and
the section are library code (:mod:`mtl_perception.core.benchmark.clustering`).

Example (``mtl_benchmark_instances`` once installed as an entry point)::

    python -m mtl_perception.tools.benchmark_instances --write-docs docs/benchmarks.md

prints a markdown section and replaces the part of ``docs/benchmarks.md`` between
``<!-- instances:begin -->`` and ``<!-- instances:end -->`` (creating the file if needed).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import shlex
import sys

from mtl_perception.core.benchmark import (
    clustering_section,
    Frame,
    frame_from_instances,
    MethodResult,
    run_method,
    synthetic_frame,
)
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.instances import cluster_instances, METHODS
from mtl_perception.core.report import write_marked_section
from mtl_perception.synth import render_frame
import numpy as np
import torch

LOGGER = logging.getLogger(__name__)


def rendered_frame(width: int, height: int, seed: int, noise_px: float = 1.5,
                   outlier_fraction: float = 0.02) -> Frame:
    """
    Render a PyBullet scene: exact semantics and instances, offsets with the same noise.

    Real scenes are harder than :func:`synthetic_frame`: thin robot legs, instances split by
    occluders in several places, many small objects and touching instances of one class.
    """
    rendered = render_frame(seed, width, height)
    return frame_from_instances(rendered.semantic, rendered.instance_ids, seed, noise_px,
                                outlier_fraction)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the benchmark's options."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--sizes', default='640x480,320x240',
                        help='comma-separated WIDTHxHEIGHT frame sizes')
    parser.add_argument('--methods', default='grid,optics,dbscan,hdbscan',
                        help=f'comma-separated methods out of {",".join(METHODS)}')
    parser.add_argument('--frames', type=int, default=4, help='frames per size')
    parser.add_argument('--objects', type=int, default=8, help='thing objects per frame')
    parser.add_argument('--repeats', type=int, default=20, help='grid repeats per frame')
    parser.add_argument('--slow-repeats', type=int, default=1,
                        help='repeats per frame of the scikit-learn methods')
    parser.add_argument('--source', choices=('synthetic', 'rendered'), default='synthetic',
                        help='synthetic shapes, or PyBullet-rendered scenes (mtl_synth)')
    parser.add_argument('--noise-px', type=float, default=1.5, help='offset noise sigma')
    parser.add_argument('--outlier-fraction', type=float, default=0.02,
                        help='fraction of thing pixels with random votes')
    parser.add_argument('--optics-max-points', type=int, default=None,
                        help='cluster at most this many votes per class with OPTICS')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--write-docs', type=Path, default=None, metavar='MARKDOWN',
                        help='replace the instances section of this markdown file')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the markdown section and optionally write it to a file."""
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m.strip() for m in args.methods.split(',') if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SystemExit(f'unknown methods {unknown}; choose from {METHODS}')
    command = 'python -m mtl_perception.tools.benchmark_instances ' + shlex.join(
        sys.argv[1:] if argv is None else argv)
    results: dict[str, list[MethodResult]] = {}
    thing_pixels: dict[str, float] = {}
    for size in (s.strip() for s in args.sizes.split(',') if s.strip()):
        width, height = (int(v) for v in size.lower().split('x'))
        if args.source == 'rendered':
            frames = [rendered_frame(width, height, 50_000 + args.seed + index,
                                     args.noise_px, args.outlier_fraction)
                      for index in range(args.frames)]
        else:
            frames = [synthetic_frame(width, height, seed=args.seed + index,
                                      num_objects=args.objects, noise_px=args.noise_px,
                                      outlier_fraction=args.outlier_fraction)
                      for index in range(args.frames)]
        thing_pixels[size] = float(np.mean([frame.thing_pixels for frame in frames]))
        cluster_instances(frames[0].semantic, frames[0].offsets, SYNTH_CLASSES.is_thing())
        results[size] = []
        for method in methods:
            params = ({'max_points': args.optics_max_points}
                      if method == 'optics' and args.optics_max_points else {})
            repeats = args.repeats if method == 'grid' else args.slow_repeats
            LOGGER.info('%s %s on %d frames', size, method, len(frames))
            results[size].append(run_method(frames, method, repeats, params))
    section = clustering_section(results, command, thing_pixels, args.source, args.frames,
                                 args.objects, args.noise_px, args.outlier_fraction,
                                 args.repeats, args.slow_repeats, args.optics_max_points)
    sys.stdout.write(section)
    if args.write_docs is not None:
        name = 'instances' if args.source == 'synthetic' else 'instances-rendered'
        write_marked_section(args.write_docs, name, section)
        LOGGER.info('wrote %s', args.write_docs)
    return 0


if __name__ == '__main__':
    sys.exit(main())
