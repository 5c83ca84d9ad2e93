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
``mtl_benchmark``: speed of the network, the whole pipeline and the node over DDS.

Run on purpose, never in the tests. Every figure is a median over repeated frames of one run,
and every ratio compares numbers from that same run. Results go to stdout and, with
``--write-docs``, to marked sections of ``docs/benchmarks.md`` with command, hardware and date.

- ``model``: :class:`Predictor` forward time and full ``predict`` time (pre/post-processing
  included) per preset and input size; frames/s = 1000 / median ms.
- ``pipeline``: :class:`ScenePipeline` with every output (clustering, depth, point cloud).
- ``dds``: the node as a separate process, a camera publisher at default QoS; end-to-end
  latency from publishing an image to receiving its last output (frames sent one at a time),
  and throughput with frames sent as fast as the node takes them.

The measurements and the sections are library code (:mod:`mtl_perception.core.benchmark`,
:mod:`mtl_perception.ros.benchmark_dds`); this tool picks what to run and where it goes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
from pathlib import Path
import shlex
import sys
import tempfile

from mtl_perception.core.benchmark import (
    bench_frame_path,
    bench_model,
    dds_section,
    frame_path_dds_table,
    frame_path_section,
    model_section,
    random_checkpoint,
)
from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.onnx_export import export_onnx
from mtl_perception.core.pipeline import (
    add_pipeline_arguments,
    pipeline_config_from_args,
    PipelineConfig,
)
from mtl_perception.core.predictor import default_model_path, resolve_device
from mtl_perception.core.report import write_marked_section
from mtl_perception.ros.qos import shipped_profile_path
from mtl_perception.synth import render_frame
import torch

LOGGER = logging.getLogger('mtl_benchmark')


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.split('x'))
    return width, height


def publish(args: argparse.Namespace, name: str, section: str) -> None:
    """Print a section and, with ``--write-docs``, replace its marked part of the docs."""
    print(section)
    if args.write_docs:
        write_marked_section(args.write_docs, name, section)


def frame_path_report(args: argparse.Namespace, config: PipelineConfig, command: str) -> int:
    """Run the frame-path benchmark (and the node over DDS) and write its section."""
    model_path = args.model or default_model_path()
    network = _size(args.network)
    device = str(resolve_device(args.device))
    onnx_path = Path(tempfile.mkdtemp()) / 'model.onnx'
    export_onnx(model_path, onnx_path, network)
    rows = []
    for backend in args.backends:
        for camera in args.cameras:
            frame = render_frame(90_001, *_size(camera))
            row = bench_frame_path(model_path, frame.rgb, frame.K, network, args.repeats,
                                   config, device, onnx_path, args.precision, backend)
            LOGGER.info('%s', row)
            rows.append(row)
    section = frame_path_section(rows, command, device, args.network, Path(model_path).name,
                                 args.repeats, args.note)
    if args.dds:
        from mtl_perception.ros.benchmark_dds import bench_dds_with_profile

        camera = _size(args.cameras[0])
        frame = render_frame(90_001, *camera)
        results = []
        for label, profile in (('Fast DDS defaults', None),
                               ('shipped profile', shipped_profile_path())):
            # A fresh process each: Fast DDS reads its profile file once per process.
            context = multiprocessing.get_context('spawn')
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                dds = pool.submit(bench_dds_with_profile, profile, model_path, network,
                                  args.dds_frames, device, args.precision, args.camera_hz,
                                  config, camera, frame.rgb, args.threads or 1).result()
            LOGGER.info('%s: %s', label, dds)
            results.append((label, dds))
        section += frame_path_dds_table(results, args.cameras[0], args.network,
                                        args.threads or 1, args.dds_frames, args.camera_hz,
                                        rows[0]['forward_ms'], rows[0]['total_ms'])
    publish(args, f'frame-path-{device}-{args.network}', section)
    return 0


def dds_report(args: argparse.Namespace, sizes: list[tuple[int, int]], config: PipelineConfig,
               command: str) -> int:
    """Measure the node over DDS at every size (network = camera size) and write it."""
    model_path = args.model or default_model_path()
    if not model_path.exists():
        LOGGER.error('no model at %s for the dds benchmark; pass --model', model_path)
        return 2
    from mtl_perception.ros.benchmark_dds import bench_dds

    preset = load_checkpoint(model_path).model_config.preset
    rows = []
    for size in sizes:
        result = bench_dds(model_path, size, args.dds_frames, args.device, args.precision,
                           args.camera_hz, config)
        forward = bench_model(load_checkpoint(model_path), size, args.device,
                              args.precision, args.repeats, config)
        result.update(forward_ms=forward['forward_ms'], pipeline_ms=forward['pipeline_ms'])
        LOGGER.info('%s', result)
        rows.append(result)
    device = forward['device']
    publish(args, f'dds-{device}', dds_section(rows, command, device, model_path.name, preset,
                                               args.dds_frames, args.camera_hz))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks; print each section and write it to ``--write-docs``."""
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    parser = argparse.ArgumentParser(prog='mtl_benchmark', description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', type=Path, default=None,
                        help='checkpoint for the dds part (default: the shipped model)')
    parser.add_argument('--presets', nargs='+', default=['small', 'base'])
    parser.add_argument('--sizes', nargs='+', default=['320x240', '640x480'])
    parser.add_argument('--device', default='auto')
    parser.add_argument('--precision', default='fp32')
    parser.add_argument('--repeats', type=int, default=30)
    parser.add_argument('--dds', action='store_true', help='also measure the node over DDS')
    parser.add_argument('--dds-frames', type=int, default=30)
    parser.add_argument('--camera-hz', type=float, default=30.0,
                        help='camera rate of the throughput part of the dds benchmark')
    parser.add_argument('--write-docs', type=Path, default=None)
    parser.add_argument('--frame-path', action='store_true',
                        help='instead: one camera frame through the pipeline with the trained '
                        'model (cameras --cameras, network --network), stage by stage, and '
                        'with --dds the node over DDS at the first camera size')
    parser.add_argument('--cameras', nargs='+', default=['640x480', '1280x720'])
    parser.add_argument('--network', default='320x240')
    parser.add_argument('--backends', nargs='+', default=['torch'],
                        choices=('torch', 'onnxruntime', 'tensorrt'),
                        help='with --frame-path: what runs the network (ONNX exported first)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch CPU threads (default: torch's)")
    parser.add_argument('--note', default='', help='a sentence for the docs (e.g. CPU sharing)')
    add_pipeline_arguments(parser)
    args = parser.parse_args(argv)
    config = pipeline_config_from_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [tuple(int(v) for v in s.split('x')) for s in args.sizes]
    command = 'mtl_benchmark ' + shlex.join(argv if argv is not None else sys.argv[1:])
    if args.frame_path:
        return frame_path_report(args, config, command)
    rows = []
    for preset in args.presets:
        for size in sizes:
            result = bench_model(random_checkpoint(preset, *size), size, args.device,
                                 args.precision, args.repeats, config)
            LOGGER.info('%s', result)
            rows.append(result)
    publish(args, f'model-{rows[0]["device"]}', model_section(rows, command, args.repeats))
    if args.dds:
        return dds_report(args, sizes, config, command)
    return 0


if __name__ == '__main__':
    sys.exit(main())
