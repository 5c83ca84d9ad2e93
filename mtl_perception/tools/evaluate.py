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
``mtl_evaluate``: the paper's metrics of a checkpoint on a data split, plus pictures.

Writes ``metrics.json`` and ``metrics.md`` (semantic mIoU and per-class IoU, instance mean
error in px and panoptic quality of thing classes, inverse-depth mean error, depth abs-rel and
RMSE in metres) and PNG mosaics (input | semantic | instances | depth) of a few frames. The
library: :mod:`mtl_perception.core.eval`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys

from mtl_perception.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mtl_perception.core.eval import (
    evaluate_checkpoint,
    metrics_table,
    official_cityscapes_scores,
    real_stereo_report,
)
from mtl_perception.core.pipeline import add_pipeline_arguments, pipeline_config_from_args

LOGGER = logging.getLogger('mtl_evaluate')


def main(argv: list[str] | None = None) -> int:
    """Evaluate one checkpoint; return 2 when the checkpoint or the data cannot be used."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(prog='mtl_evaluate', description=__doc__.split('\n\n')[0])
    parser.add_argument('checkpoint', help='model .pt written by mtl_train')
    parser.add_argument('--data-root', default=None,
                        help='Cityscapes-layout data folder (needed unless --real-stereo alone)')
    parser.add_argument('--split', default='val')
    parser.add_argument('--out', type=Path, default=None, help='folder for json, md and PNGs')
    parser.add_argument('--device', default='auto')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--max-frames', type=int, default=0)
    parser.add_argument('--mosaics', type=int, default=4)
    add_pipeline_arguments(parser)
    parser.add_argument('--cityscapes-results', type=Path, default=None, metavar='DIR',
                        help='also write predictions in the Cityscapes results format to DIR '
                        '(cityscapes class set only) and score them with the official '
                        'cityscapesScripts evaluators (pip install cityscapesScripts)')
    parser.add_argument('--real-stereo', action='store_true',
                        help='score depth on real photos with ground-truth disparity that ship '
                        'in installed packages (Middlebury 2014 Motorcycle in scikit-image): '
                        'Spearman and scale-invariant log error, beside the "lower rows are '
                        'nearer" prior; writes real_stereo.json and a picture to --out')
    parser.add_argument('--store-in-checkpoint', action='store_true',
                        help='also store the metrics in the checkpoint under the split name')
    args = parser.parse_args(argv)
    if args.data_root is None and not args.real_stereo:
        parser.error('give --data-root DIR (a Cityscapes-layout data set), --real-stereo, '
                     'or both')
    result: dict | None = None
    real: dict | None = None
    try:
        if args.data_root is not None:
            result = evaluate_checkpoint(args.checkpoint, args.data_root, args.split, args.out,
                                         args.device, args.batch_size, args.max_frames,
                                         args.mosaics, pipeline_config_from_args(args))
            if args.cityscapes_results is not None:
                official = official_cityscapes_scores(
                    args.checkpoint, args.data_root, args.split, args.cityscapes_results,
                    args.device, args.max_frames, pipeline_config_from_args(args))
                result['cityscapes_official'] = official
        if args.real_stereo:
            real = real_stereo_report(args.checkpoint, args.device, args.out)
    except (CheckpointError, FileNotFoundError, ValueError, ImportError, RuntimeError) as error:
        LOGGER.error('%s', error)
        return 2
    if result is not None:
        LOGGER.info('\n%s', metrics_table(result,
                                          tuple(result.get('semantic_iou_per_class', {}))))
    if args.store_in_checkpoint:
        checkpoint = load_checkpoint(args.checkpoint)
        if result is not None:
            checkpoint.metrics[args.split] = {k: v for k, v in result.items()
                                              if k != 'checkpoint'}
        if real is not None:
            checkpoint.metrics['real_stereo'] = {
                name: {k: v for k, v in entry.items() if k != 'figure'}
                for name, entry in real.items()}
        save_checkpoint(checkpoint, args.checkpoint)
        LOGGER.info('stored the metrics in %s', args.checkpoint)
    return 0


if __name__ == '__main__':
    sys.exit(main())
