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
``mtl_demo`` (``make demo``): the whole system on this machine, no ROS installation needed.

Starts ``mtl_perception_node`` with the shipped default model, a synthetic camera and a
recorder, and after ``--frames`` frames writes to ``--out`` a rosbag2 with every topic, PNG
mosaics and ``summary.md`` (frames/s, latency, live accuracy against the ground truth); the
work is :func:`mtl_perception.ros.demo.run_demo`.
"""

import argparse
import logging
from pathlib import Path
import sys

from mtl_perception.core.predictor import default_model_path

LOGGER = logging.getLogger('mtl_demo')


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(prog='mtl_demo', description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', type=Path, default=Path('demo_output'))
    parser.add_argument('--model', type=Path, default=None, help='default: the shipped model')
    parser.add_argument('--frames', type=int, default=40)
    parser.add_argument('--rate-hz', type=float, default=4.0)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--height', type=int, default=240)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--mosaics', type=int, default=4)
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    args = parser.parse_args(argv)
    model = args.model or default_model_path()
    if not model.exists():
        LOGGER.error('model %s does not exist; train one with mtl_train or pass --model', model)
        return 2
    from mtl_perception.ros.demo import DemoSettings, run_demo

    settings = DemoSettings(out=args.out, frames=args.frames, rate_hz=args.rate_hz,
                            width=args.width, height=args.height, seed=args.seed,
                            mosaics=args.mosaics, storage=args.storage)
    try:
        summary = run_demo(settings, model)
    except RuntimeError as error:
        LOGGER.error('%s', error)
        return 1
    LOGGER.info('demo finished: %d frames published, %d processed, %.1f frames/s, median '
                'latency %.0f ms', summary['frames_published'], summary['frames_processed'],
                summary['processed_fps'], summary['latency_p50_ms'])
    LOGGER.info('wrote %s', args.out.resolve())
    for name in summary['files']:
        LOGGER.info('  %s', name)
    return 0


if __name__ == '__main__':
    sys.exit(main())
