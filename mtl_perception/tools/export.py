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
``mtl_export MODEL.pt --out MODEL.onnx``: the network as ONNX, runnable like the checkpoint.

The file carries the checkpoint's config, classes, palette, preprocessing and sigmas in its
metadata, so ``Predictor('MODEL.onnx')`` and the node's ``model_path`` run it with
onnxruntime (or ``backend: tensorrt`` on a GPU). After writing, the export is checked against
the checkpoint on one image: the largest difference per head and the share of equal labels
are printed (library code: ``mtl_perception/core/onnx_export.py``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys

from mtl_perception.core.checkpoint import CheckpointError
from mtl_perception.core.onnx_export import compare_with_checkpoint, export_onnx

LOGGER = logging.getLogger('mtl_export')


def main(argv: list[str] | None = None) -> int:
    """Export one checkpoint to ONNX and check it; return 2 on an export error."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(prog='mtl_export', description=__doc__.split('\n\n')[0])
    parser.add_argument('model', type=Path, help='checkpoint (.pt) written by mtl_train')
    parser.add_argument('--out', type=Path, required=True, help='ONNX file to write')
    parser.add_argument('--width', type=int, default=None,
                        help="fixed input width (default: the checkpoint's)")
    parser.add_argument('--height', type=int, default=None,
                        help="fixed input height (default: the checkpoint's)")
    parser.add_argument('--dynamic', action='store_true',
                        help='free input height and width instead of a fixed size')
    parser.add_argument('--opset', type=int, default=17)
    parser.add_argument('--no-check', action='store_true',
                        help='skip the torch vs onnxruntime comparison')
    args = parser.parse_args(argv)
    if (args.width is None) != (args.height is None):
        parser.error('give both --width and --height, or neither')
    size = (args.width, args.height) if args.width else None
    try:
        summary = export_onnx(args.model, args.out, size, args.dynamic, args.opset)
        LOGGER.info('wrote %s (opset %d, input %s, %d nodes, %d unfolded BatchNorm, %.1f MB)',
                    summary['path'], summary['opset'], summary['input_size'] or 'dynamic',
                    summary['nodes'], summary['batch_norm_nodes'], summary['bytes'] / 1e6)
        if not args.no_check:
            parity = compare_with_checkpoint(args.model, args.out, size)
            LOGGER.info('torch vs onnxruntime: %s', ', '.join(
                f'{key} {value:.3g}' for key, value in parity.items()))
    except (CheckpointError, ValueError, ImportError, OSError) as error:
        LOGGER.error('%s', error)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
