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
``mtl_eval_bag BAG --out DIR``: replay a recorded drive through the model and judge it.

The evaluation is :func:`mtl_perception.ros.bag_evaluation.evaluate_bag` (metrics, report,
pictures and an output bag with the node's topics); ``--live`` instead plays the camera into
a running node over DDS (:func:`mtl_perception.ros.live_replay.live_replay`).
"""

import argparse
import logging
from pathlib import Path
import sys

from mtl_perception.bag.io import BagError
from mtl_perception.core.pipeline import add_pipeline_arguments, pipeline_config_from_args

LOGGER = logging.getLogger('mtl_eval_bag')


def build_parser() -> argparse.ArgumentParser:
    """Return the command line of ``mtl_eval_bag``."""
    parser = argparse.ArgumentParser(prog='mtl_eval_bag', description=__doc__.split('\n\n')[0])
    parser.add_argument('bag', help='rosbag2 folder or .mcap file')
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--model', default=None, help='default: the shipped model')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--every', type=int, default=1, help='use every n-th frame')
    parser.add_argument('--max-frames', type=int, default=0)
    parser.add_argument('--mosaics', type=int, default=4)
    parser.add_argument('--no-output-bag', action='store_true')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    parser.add_argument('--live', action='store_true',
                        help='publish the camera into a running node over DDS instead, and '
                        'report dropped frames and end-to-end latency')
    parser.add_argument('--start-node', action='store_true',
                        help='with --live: start mtl_perception_node (with --model) first')
    parser.add_argument('--rate', type=float, default=1.0, help='with --live: replay speed')
    parser.add_argument('--namespace', default='/mtl', help="with --live: the node's namespace")
    for name in ('image', 'camera-info', 'label', 'depth', 'instance'):
        parser.add_argument(f'--{name}-topic', default=None)
    add_pipeline_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.every < 1:
        parser.error('--every must be >= 1')
    names = {'image': args.image_topic, 'camera_info': args.camera_info_topic,
             'labels': args.label_topic, 'depth': args.depth_topic,
             'instances': args.instance_topic}
    if args.live:
        from mtl_perception.ros.live_replay import live_replay

        try:
            summary = live_replay(args.bag, args.out, args.model, args.rate, args.namespace,
                                  args.start_node, names, log=LOGGER.info)
        except (BagError, ValueError, RuntimeError) as error:
            LOGGER.error('%s', error)
            return 2
        LOGGER.info('live: %d published, %d answered, %d dropped; latency p50 %.1f ms',
                    summary['frames_published'], summary['frames_answered'],
                    summary['frames_dropped'], summary['latency_p50_ms'])
        return 0
    from mtl_perception.ros.bag_evaluation import evaluate_bag

    try:
        metrics = evaluate_bag(args.bag, args.out, args.model, args.device, args.every,
                               args.max_frames, args.mosaics, not args.no_output_bag,
                               args.storage, names, pipeline_config_from_args(args))
    except (BagError, ValueError, FileNotFoundError) as error:
        LOGGER.error('%s', error)
        return 2
    LOGGER.info('%d frames; report: %s', metrics['frames_evaluated'], args.out / 'report.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
