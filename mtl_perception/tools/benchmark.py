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
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import multiprocessing
import os
from pathlib import Path
import shlex
import sys
import time
from typing import Any

from mtl_perception.core.checkpoint import Checkpoint, load_checkpoint, Preprocessing
from mtl_perception.core.classes import SYNTH_CLASSES
from mtl_perception.core.config import preset_config
from mtl_perception.core.model import MultiTaskNet
from mtl_perception.core.pipeline import (
    add_pipeline_arguments,
    pipeline_config_from_args,
    PipelineConfig,
    ScenePipeline,
)
from mtl_perception.core.predictor import default_model_path, Predictor, resolve_device
from mtl_perception.core.report import cpu_model, now_iso, write_marked_section
import numpy as np
import torch

LOGGER = logging.getLogger('mtl_benchmark')


def random_checkpoint(preset: str, width: int, height: int) -> Checkpoint:
    """Untrained weights: speed does not depend on the values of the weights."""
    config = preset_config(preset, SYNTH_CLASSES.num_classes)
    return Checkpoint(model_config=config, class_set=SYNTH_CLASSES,
                      preprocessing=Preprocessing(input_width=width, input_height=height),
                      state_dict=MultiTaskNet(config).state_dict())


def test_image(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Return a smooth image with some structure (blurred noise), not a constant frame."""
    import cv2

    noise = np.random.default_rng(seed).integers(0, 255, (height // 8, width // 8, 3),
                                                 dtype=np.uint8)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)


def time_calls(function, repeats: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


def bench_model(checkpoint: Checkpoint, size: tuple[int, int], device: str, precision: str,
                repeats: int, config: PipelineConfig | None = None) -> dict[str, Any]:
    predictor = Predictor(checkpoint, device=device, precision=precision, input_size=size)
    image = test_image(*size)
    tensor = predictor.preprocess(image)

    def forward() -> None:
        predictor.forward(tensor)
        predictor._synchronize()

    forward_ms = time_calls(forward, repeats)
    predict_ms = time_calls(lambda: predictor.predict(image), repeats)
    pipeline = ScenePipeline(predictor, config)
    pipeline_ms = time_calls(lambda: pipeline.process(image), repeats)
    return {'preset': checkpoint.model_config.preset, 'size': f'{size[0]}x{size[1]}',
            'device': str(predictor.device), 'precision': predictor.precision,
            'forward_ms': float(np.median(forward_ms)),
            'predict_ms': float(np.median(predict_ms)),
            'pipeline_ms': float(np.median(pipeline_ms))}


def rendered_scene(width: int, height: int, seed: int = 90_001) -> Any:
    """Return a rendered drive frame (RGB, K, ground truth) at the camera size."""
    from mtl_perception.synth import render_frame

    return render_frame(seed, width, height)


def bench_frame_path(model_path: Path, camera_size: tuple[int, int],
                     network_size: tuple[int, int], repeats: int,
                     config: PipelineConfig | None = None, device: str = 'cpu',
                     onnx_path: Path | None = None, precision: str = 'fp32',
                     backend: str = 'torch') -> dict[str, Any]:
    """
    Follow one camera frame through the pipeline: median ms per stage and the ratios.

    The trained model on a rendered scene (realistic instances), every output asked for, as
    the node does when everything is subscribed. ``non_forward_ms`` is the median total
    minus the median forward. ``backend`` other than torch runs ``onnx_path``; with the torch
    backend on the CPU and ``onnx_path``, the forward alone is also timed in onnxruntime.
    """
    frame = rendered_scene(*camera_size)
    predictor = Predictor(model_path if backend == 'torch' else onnx_path, device=device,
                          precision=precision, input_size=network_size, backend=backend)
    pipeline = ScenePipeline(predictor, config)
    stages: dict[str, list[float]] = {}
    totals = []
    for index in range(repeats + 3):
        start = time.perf_counter()
        result = pipeline.process(frame.rgb, frame.K)
        total = (time.perf_counter() - start) * 1e3
        if index < 3:
            continue
        totals.append(total)
        for stage, value in result.timings_ms.items():
            stages.setdefault(stage, []).append(value)
    row = {'camera': f'{camera_size[0]}x{camera_size[1]}', 'backend': backend,
           'precision': predictor.precision,
           'network': f'{network_size[0]}x{network_size[1]}',
           'instances': len(result.instances), 'cloud_points': int(result.cloud.size),
           'total_ms': float(np.median(totals)),
           **{f'{stage}_ms': float(np.median(values)) for stage, values in stages.items()}}
    row['non_forward_ms'] = row['total_ms'] - row['forward_ms']
    row['non_forward_ratio'] = row['non_forward_ms'] / row['forward_ms']
    if onnx_path is not None and backend == 'torch' and predictor.device.type == 'cpu':
        tensor = predictor.preprocess(frame.rgb)
        exported = Predictor(onnx_path, device=device, input_size=network_size)
        row['torch_forward_only_ms'] = float(np.median(time_calls(
            lambda: predictor.forward(tensor), repeats)))
        row['onnxruntime_forward_ms'] = float(np.median(time_calls(
            lambda: exported.forward(tensor), repeats)))
    return row


def bench_dds(model_path: Path, size: tuple[int, int], frames: int, device: str,
              precision: str, camera_hz: float = 30.0, config: PipelineConfig | None = None,
              camera_size: tuple[int, int] | None = None, image: np.ndarray | None = None,
              num_threads: int = 1) -> dict[str, Any]:
    """
    Return the node's latency and throughput over DDS, network at ``size``.

    The camera sends ``camera_size`` frames (default ``size``): ``image`` or smooth noise.
    """
    from mtl_perception.ros.conversions import numpy_to_image
    from mtl_perception.ros.processes import isolated_ros_env, start_node, stop_node, use_env
    from mtl_perception.ros.sim_camera import camera_info_message
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    env = isolated_ros_env()
    use_env(env)
    rclpy.init()
    namespace = f'/bench{os.getpid()}'
    process = start_node(namespace, {'model_path': model_path, 'device': device,
                                     'precision': precision, 'input_width': size[0],
                                     'input_height': size[1], 'num_threads': num_threads,
                                     **(config or PipelineConfig()).to_parameters()}, env,
                         remaps={'image': f'{namespace}/cam/image',
                                 'camera_info': f'{namespace}/cam/camera_info'})
    node = rclpy.create_node('bench_camera')
    # A typical driver: default QoS (reliable, keep last 10), default transports.
    image_pub = node.create_publisher(Image, f'{namespace}/cam/image', 10)
    info_pub = node.create_publisher(CameraInfo, f'{namespace}/cam/camera_info', 10)

    def spin_until(condition, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.002)
            if condition():
                return True
        return condition()

    last_topic = f'{namespace}/instances/points'
    arrivals: dict[tuple[int, int], float] = {}
    outputs = {f'{namespace}/semantic/labels': Image, f'{namespace}/depth': Image,
               last_topic: PointCloud2}
    seen: dict[tuple[int, int], set] = {}

    def on_output(topic: str):
        def callback(message: Any) -> None:
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            seen.setdefault(key, set()).add(topic)
            if len(seen[key]) == len(outputs):
                arrivals[key] = time.perf_counter()
        return callback

    for topic, kind in outputs.items():
        node.create_subscription(
            kind, topic, on_output(topic),
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        if not spin_until(lambda: image_pub.get_subscription_count() > 0, 120.0):
            raise RuntimeError('the node did not subscribe: ' + stop_node(process))
        camera = camera_size or size
        K = np.array([[camera[0], 0, camera[0] / 2 - 0.5], [0, camera[0], camera[1] / 2 - 0.5],
                      [0, 0, 1]], dtype=float)
        info: CameraInfo = camera_info_message(K, camera[0], camera[1], 'camera_optical_frame')
        image = test_image(*camera) if image is None else image
        sent: dict[tuple[int, int], float] = {}
        latencies = []
        # Latency: one frame at a time, wait for all its outputs.
        for index in range(frames + 3):
            message = numpy_to_image(image, 'rgb8', info.header)
            message.header.stamp.sec = 1000 + index
            key = (message.header.stamp.sec, message.header.stamp.nanosec)
            info.header.stamp = message.header.stamp
            info_pub.publish(info)
            sent[key] = time.perf_counter()
            image_pub.publish(message)
            if spin_until(lambda k=key: k in arrivals, 30.0) and index >= 3:
                latencies.append((arrivals[key] - sent[key]) * 1e3)
        # Throughput: a camera at camera_hz; the node keeps the newest frame, drops the rest.
        arrivals.clear()
        start = time.perf_counter()
        published = 0
        while time.perf_counter() - start < 10.0:
            message = numpy_to_image(image, 'rgb8', info.header)
            message.header.stamp.sec = 5000 + published
            info.header.stamp = message.header.stamp
            info_pub.publish(info)
            image_pub.publish(message)
            published += 1
            next_time = start + published / camera_hz
            spin_until(lambda t=next_time: time.perf_counter() >= t, 1.0)
        spin_until(lambda: False, 2.0)
        window = max(arrivals.values()) - min(arrivals.values()) if len(arrivals) > 1 else 0
        throughput = (len(arrivals) - 1) / window if window else 0.0
    finally:
        node.destroy_node()
        stop_node(process)
        rclpy.shutdown()
    return {'size': f'{size[0]}x{size[1]}',
            'camera': f'{(camera_size or size)[0]}x{(camera_size or size)[1]}',
            'latency_ms': float(np.median(latencies)),
            'latency_p90_ms': float(np.percentile(latencies, 90)),
            'throughput_fps': throughput, 'published': published,
            'processed': len(arrivals)}


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.split('x'))
    return width, height


def _bench_dds_with_profile(profile: Path | None, *args: Any) -> dict[str, Any]:
    """Run :func:`bench_dds` in this (fresh) process with or without a Fast DDS profile."""
    os.environ.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    if profile is not None:
        os.environ['FASTDDS_DEFAULT_PROFILES_FILE'] = str(profile)
    *head, num_threads = args
    return bench_dds(*head, num_threads=num_threads)


def frame_path_report(args: argparse.Namespace, config: PipelineConfig, command: str) -> int:
    """Run the frame-path benchmark and write its marked section of the docs."""
    import tempfile

    from mtl_perception.core.onnx_backend import export_onnx

    model_path = args.model or default_model_path()
    network = _size(args.network)
    device = str(resolve_device(args.device))
    onnx_path = Path(tempfile.mkdtemp()) / 'model.onnx'
    export_onnx(model_path, onnx_path, network)
    rows = []
    for backend in args.backends:
        for camera in args.cameras:
            row = bench_frame_path(model_path, _size(camera), network, args.repeats, config,
                                   device, onnx_path, args.precision, backend)
            LOGGER.info('%s', row)
            rows.append(row)
    lines = [f'## One frame through the pipeline ({device}, network {args.network})', '',
             f'- command: `{command}`',
             f'- hardware: {cpu_model()}; torch {torch.__version__}, '
             f'{torch.get_num_threads()} threads', f'- date: {now_iso()}',
             f'- model: `{Path(model_path).name}`; a rendered scene (seed 90001) at the camera '
             'size with its intrinsics; every output (labels, confidence, instances, depth, '
             f'cloud); median of {args.repeats} frames after 3 warm-up frames. non-forward = '
             'median total - median forward (preprocess = resize to the network + upload + '
             'normalise; postprocess = argmax/softmax at the network resolution, resizes to '
             'the camera size, copy to the host).']
    if args.note:
        lines.append(f'- note: {args.note}')
    lines += ['', '| camera | backend | instances | total ms | frames/s | forward ms | '
              'preprocess | postprocess | clustering | depth | cloud | non-forward ms | '
              'non-forward / forward | onnxruntime forward ms | torch forward ms |',
              '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append(
            f'| {row["camera"]} | {row["backend"]} {row["precision"]} | {row["instances"]} | '
            f'{row["total_ms"]:.1f} | {1000 / row["total_ms"]:.0f} | '
            f'{row["forward_ms"]:.1f} | {row["preprocess_ms"]:.1f} | '
            f'{row["postprocess_ms"]:.1f} | {row["clustering_ms"]:.1f} | '
            f'{row["depth_ms"]:.1f} | {row["cloud_ms"]:.1f} | {row["non_forward_ms"]:.1f} | '
            f'{100 * row["non_forward_ratio"]:.0f} % | '
            f'{row.get("onnxruntime_forward_ms", float("nan")):.1f} | '
            f'{row.get("torch_forward_only_ms", float("nan")):.1f} |')
    if args.dds:
        from mtl_perception.ros.qos import shipped_profile_path

        camera = _size(args.cameras[0])
        frame = rendered_scene(*camera)
        forward = rows[0]['forward_ms']
        pipeline_ms = rows[0]['total_ms']
        lines += ['', f'Node over DDS (camera {args.cameras[0]}, reliable keep-last-10 like a '
                  f'driver at defaults; network {args.network}, num_threads '
                  f'{args.threads or 1}; the node at its defaults, i.e. with the shipped Fast '
                  'DDS profile): end-to-end latency = image published -> labels, depth and '
                  f'instance cloud received, one frame at a time, median of {args.dds_frames}. '
                  'Second row: the camera process also uses the shipped profile (a driver '
                  'whose shared-memory segment holds a whole frame).', '',
                  '| camera process | latency ms (p50) | p90 | forward ms | pipeline ms | '
                  f'latency / forward | frames/s at {args.camera_hz:g} Hz camera |',
                  '|---|---|---|---|---|---|---|']
        for label, profile in (('Fast DDS defaults', None),
                               ('shipped profile', shipped_profile_path())):
            # A fresh process each: Fast DDS reads its profile file once per process.
            context = multiprocessing.get_context('spawn')
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                dds = pool.submit(_bench_dds_with_profile, profile, model_path, network,
                                  args.dds_frames, device, args.precision, args.camera_hz,
                                  config, camera, frame.rgb, args.threads or 1).result()
            LOGGER.info('%s: %s', label, dds)
            lines.append(f'| {label} | {dds["latency_ms"]:.1f} | '
                         f'{dds["latency_p90_ms"]:.1f} | {forward:.1f} | '
                         f'{pipeline_ms:.1f} | {dds["latency_ms"] / forward:.2f} | '
                         f'{dds["throughput_fps"]:.1f} |')
    section = '\n'.join(lines) + '\n'
    print(section)
    if args.write_docs:
        write_marked_section(args.write_docs, f'frame-path-{device}-{args.network}', section)
    return 0


def main(argv: list[str] | None = None) -> int:
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
    lines = [f'## Model and pipeline ({rows[0]["device"]}, {rows[0]["precision"]})', '',
             f'- command: `{command}`', f'- hardware: {cpu_model()}; torch '
             f'{torch.__version__}, {torch.get_num_threads()} threads'
             + (f'; GPU {torch.cuda.get_device_name()}' if torch.cuda.is_available() else ''),
             f'- date: {now_iso()}',
             f'- median of {args.repeats} frames after 3 warm-up frames; forward = network '
             'only; predict = resize, normalise, forward, argmax/upsample, copy to host; '
             'pipeline = predict + instance clustering + metric depth + point cloud. Weights '
             'are random (speed does not depend on them), except that clustering the random '
             'offsets of an untrained model finds many spurious instances, so its pipeline '
             'figure is pessimistic; the node table below uses the trained default model.', '',
             '| preset | input | forward ms | predict ms | pipeline ms | pipeline frames/s |',
             '|---|---|---|---|---|---|']
    for row in rows:
        lines.append(f'| {row["preset"]} | {row["size"]} | {row["forward_ms"]:.1f} | '
                     f'{row["predict_ms"]:.1f} | {row["pipeline_ms"]:.1f} | '
                     f'{1000 / row["pipeline_ms"]:.1f} |')
    section = '\n'.join(lines) + '\n'
    print(section)
    if args.write_docs:
        write_marked_section(args.write_docs, f'model-{rows[0]["device"]}', section)
    if args.dds:
        model_path = args.model or default_model_path()
        if not model_path.exists():
            LOGGER.error('no model at %s for the dds benchmark; pass --model', model_path)
            return 2
        preset = load_checkpoint(model_path).model_config.preset
        dds_rows = []
        for size in sizes:
            result = bench_dds(model_path, size, args.dds_frames, args.device, args.precision,
                               args.camera_hz, config)
            forward = bench_model(load_checkpoint(model_path), size, args.device,
                                  args.precision, args.repeats, config)
            result.update(forward_ms=forward['forward_ms'], pipeline_ms=forward['pipeline_ms'])
            LOGGER.info('%s', result)
            dds_rows.append(result)
        lines = [f'## Node end to end over DDS ({forward["device"]})', '',
                 f'- command: `{command}`', f'- hardware: {cpu_model()}',
                 f'- date: {now_iso()}',
                 f'- model: `{model_path.name}` ({preset} preset), network input = camera size;'
                 ' camera publisher at default QoS (reliable) and default Fast DDS transports, '
                 'node at its defaults; latency = image published -> labels, depth and '
                 f'instance cloud all received (median of {args.dds_frames}, one frame at a '
                 'time); throughput = outputs per second with the camera publishing at '
                 f'{args.camera_hz:g} Hz (the node keeps the newest frame, drops the rest).', '',
                 '| camera | latency ms (p50) | p90 | forward ms | pipeline ms | '
                 'latency / forward | frames/s | published | processed |',
                 '|---|---|---|---|---|---|---|---|---|']
        for row in dds_rows:
            lines.append(f'| {row["size"]} | {row["latency_ms"]:.1f} | '
                         f'{row["latency_p90_ms"]:.1f} | {row["forward_ms"]:.1f} | '
                         f'{row["pipeline_ms"]:.1f} | '
                         f'{row["latency_ms"] / row["forward_ms"]:.2f} | '
                         f'{row["throughput_fps"]:.1f} | {row["published"]} | '
                         f'{row["processed"]} |')
        section = '\n'.join(lines) + '\n'
        print(section)
        if args.write_docs:
            write_marked_section(args.write_docs, f'dds-{forward["device"]}', section)
    return 0


if __name__ == '__main__':
    sys.exit(main())
