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
The demo behind ``mtl_demo`` (``make demo``): node, synthetic camera and recorder on one host.

:func:`run_demo` starts ``mtl_perception_node`` as its own process with the given model, a
synthetic camera (the PyBullet scene renderer publishing ``image`` and ``camera_info`` with
ground truth on ``gt/*``) and a recorder; after a fixed number of frames it writes a rosbag2
with the camera, ground-truth and every output topic, PNG mosaics and ``summary.md`` with
frames/s, latency and the live accuracy (:func:`evaluate_recording`, the depth errors of
:class:`~mtl_perception.core.metrics.DepthErrors`).
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import logging
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.metrics import ConfusionMatrix, DepthErrors, percentile
from mtl_perception.core.visualize import (
    colorize_instances,
    colorize_inverse_depth,
    mosaic,
    write_png,
)
from mtl_perception.ros import outputs
from mtl_perception.ros.conversions import image_to_numpy, image_to_rgb
from mtl_perception.ros.processes import isolated_ros_env, start_node, stop_node, use_env
from mtl_perception.ros.recording import TopicRecorder
from mtl_perception.ros.sim_camera import SyntheticCamera
import numpy as np
import rclpy
from rclpy.executors import MultiThreadedExecutor
from sensor_msgs.msg import CameraInfo, Image

LOGGER = logging.getLogger('mtl_demo')


@dataclass(frozen=True)
class DemoSettings:
    """What ``mtl_demo`` runs: the synthetic camera and what to write."""

    out: Path = Path('demo_output')
    frames: int = 40
    rate_hz: float = 4.0
    width: int = 320
    height: int = 240
    seed: int = 7
    mosaics: int = 4
    storage: str = 'mcap'


def run_demo(settings: DemoSettings, model: Path) -> dict:
    """Run the node, the synthetic camera and a recorder; write the bag and the summary."""
    settings.out.mkdir(parents=True, exist_ok=True)
    env = isolated_ros_env()
    use_env(env)
    camera_ns, node_ns = '/camera', '/mtl'
    started = time.monotonic()
    process = start_node(node_ns, {'model_path': str(model)}, env,
                         remaps={'image': f'{camera_ns}/image_raw',
                                 'camera_info': f'{camera_ns}/camera_info'})
    rclpy.init(args=['--ros-args', '-r', f'__ns:={camera_ns}',
                     '-p', f'width:={settings.width}', '-p', f'height:={settings.height}',
                     '-p', f'rate_hz:={settings.rate_hz}', '-p', f'seed:={settings.seed}',
                     '-p', f'max_frames:={settings.frames}', '-p', 'publish_ground_truth:=true'])
    camera = SyntheticCamera()
    publish_times: dict[tuple[int, int], float] = {}
    publish_next = camera.publish_next

    def publish_and_time() -> None:
        if not camera.max_frames or camera.frames_published < camera.max_frames:
            publish_next()
            stamp = camera.last_frame[0]
            publish_times[(stamp.sec, stamp.nanosec)] = time.monotonic()

    camera.timer.cancel()
    recorder_node = rclpy.create_node('mtl_demo_recorder')
    node_outputs = {f'{node_ns}/{output.topic}': output.msg_type
                    for output in outputs.FRAME_OUTPUTS}
    inputs = {f'{camera_ns}/image_raw': Image, f'{camera_ns}/camera_info': CameraInfo,
              f'{camera_ns}/gt/labels': Image, f'{camera_ns}/gt/depth': Image,
              f'{camera_ns}/gt/instances': Image}
    recorder = TopicRecorder(recorder_node, {**inputs, **node_outputs})
    arrivals: dict[tuple[int, int], float] = {}

    def on_depth(message: Image) -> None:
        arrivals[(message.header.stamp.sec, message.header.stamp.nanosec)] = time.monotonic()

    recorder_node.create_subscription(Image, f'{node_ns}/depth', on_depth, 50)
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(camera)
    executor.add_node(recorder_node)
    try:
        deadline = time.monotonic() + 120.0
        while camera.count_subscribers(f'{camera_ns}/image_raw') < 2:  # the node and the recorder
            executor.spin_once(timeout_sec=0.1)
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the node did not start:\n' + stop_node(process))
        LOGGER.info('node up after %.1f s; publishing %d frames at %g Hz (%dx%d)',
                    time.monotonic() - started, settings.frames, settings.rate_hz, settings.width,
                    settings.height)
        timer = camera.create_timer(1.0 / settings.rate_hz, publish_and_time)
        first_publish = time.monotonic()
        while camera.frames_published < settings.frames:
            executor.spin_once(timeout_sec=0.05)
        drain_end = time.monotonic() + 3.0
        while time.monotonic() < drain_end and len(arrivals) < len(publish_times):
            executor.spin_once(timeout_sec=0.05)
        duration = max(arrivals.values(), default=first_publish) - first_publish
        timer.cancel()
    finally:
        node_log = stop_node(process)
        executor.shutdown()
        camera.destroy_node()
        recorder_node.destroy_node()
        rclpy.try_shutdown()
    (settings.out / 'node.log').write_text(node_log)
    bag = recorder.write_bag(settings.out / 'demo_bag', storage=settings.storage)
    latencies = [(arrivals[k] - publish_times[k]) * 1e3 for k in arrivals if k in publish_times]
    accuracy = evaluate_recording(recorder, camera_ns, node_ns, model)
    mosaics = write_mosaics(recorder, camera_ns, node_ns, model, settings.out, settings.mosaics)
    summary = {
        'frames_published': len(publish_times), 'frames_processed': len(arrivals),
        'processed_fps': (len(arrivals) - 1) / duration if duration > 0 else 0.0,
        'camera_rate_hz': settings.rate_hz,
        'camera_effective_hz': ((len(publish_times) - 1)
                                / (max(publish_times.values()) - min(publish_times.values()))
                                if len(publish_times) > 1 else 0.0),
        'latency_p50_ms': percentile(latencies, 50),
        'latency_p90_ms': percentile(latencies, 90),
        'wall_s': time.monotonic() - started, 'image_size': f'{settings.width}x{settings.height}',
        'model': str(model), **accuracy,
        'files': [str(bag.relative_to(settings.out)), 'summary.md', 'summary.json', 'node.log']
        + mosaics,
    }
    (settings.out / 'summary.json').write_text(json.dumps(summary, indent=2))
    (settings.out / 'summary.md').write_text(summary_markdown(summary))
    return summary


def _by_stamp(messages: list) -> dict[tuple[int, int], Any]:
    result = {}
    for record in messages:
        message = record.message()
        result[(message.header.stamp.sec, message.header.stamp.nanosec)] = message
    return result


def evaluate_recording(recorder: TopicRecorder, camera_ns: str, node_ns: str,
                       model: Path) -> dict:
    """Accuracy of what the live node published, against the renderer's exact ground truth."""
    class_set = load_checkpoint(model).class_set
    labels = _by_stamp(recorder.of_topic(f'{node_ns}/semantic/labels'))
    depth = _by_stamp(recorder.of_topic(f'{node_ns}/depth'))
    gt_labels = _by_stamp(recorder.of_topic(f'{camera_ns}/gt/labels'))
    gt_depth = _by_stamp(recorder.of_topic(f'{camera_ns}/gt/depth'))
    confusion = ConfusionMatrix(class_set.num_classes)
    depth_errors = DepthErrors()
    for stamp, message in labels.items():
        if stamp in gt_labels:
            confusion.update(image_to_numpy(message), image_to_numpy(gt_labels[stamp]))
    for stamp, message in depth.items():
        if stamp in gt_depth:
            depth_errors.update(image_to_numpy(message), image_to_numpy(gt_depth[stamp]))
    return {'semantic_miou': confusion.mean_iou(), 'depth_abs_rel': float('nan'),
            'depth_within_10_percent': float('nan'), **depth_errors.compute()}


def write_mosaics(recorder: TopicRecorder, camera_ns: str, node_ns: str, model: Path,
                  out: Path, count: int) -> list[str]:
    """Write mosaics (input | semantic | instances | depth | true depth) of a few frames."""
    images = _by_stamp(recorder.of_topic(f'{camera_ns}/image_raw'))
    colour = _by_stamp(recorder.of_topic(f'{node_ns}/semantic/color'))
    instances = _by_stamp(recorder.of_topic(f'{node_ns}/instances/ids'))
    depth = _by_stamp(recorder.of_topic(f'{node_ns}/depth'))
    gt_depth = _by_stamp(recorder.of_topic(f'{camera_ns}/gt/depth'))
    stamps = sorted(set(images) & set(colour) & set(instances) & set(depth))
    if not stamps:
        return []
    chosen = [stamps[int(i)] for i in np.linspace(0, len(stamps) - 1, min(count, len(stamps)))]
    folder = out / 'mosaics'
    folder.mkdir(exist_ok=True)
    names = []
    for index, stamp in enumerate(chosen):
        image = image_to_rgb(images[stamp], copy=True)
        with np.errstate(divide='ignore'):
            inverse = 1.0 / image_to_numpy(depth[stamp])
            true_inverse = 1.0 / image_to_numpy(gt_depth[stamp]) if stamp in gt_depth else None
        top = float(np.nanpercentile(true_inverse, 99)) if true_inverse is not None else None
        panels = [('input', image), ('semantic', image_to_rgb(colour[stamp], copy=True)),
                  ('instances', colorize_instances(image_to_numpy(instances[stamp]), image)),
                  ('depth', colorize_inverse_depth(inverse, top))]
        if true_inverse is not None:
            panels.append(('true depth', colorize_inverse_depth(true_inverse, top)))
        path = folder / f'mosaic_{index:02d}.png'
        write_png(str(path), mosaic(panels))
        names.append(str(path.relative_to(out)))
    return names


def summary_markdown(summary: dict) -> str:
    """Return ``summary.md`` of the demo."""
    lines = ['# mtl_perception demo', '',
             f'- model: `{summary["model"]}`',
             f'- synthetic camera: {summary["image_size"]} at {summary["camera_rate_hz"]:g} Hz '
             f'asked, {summary["camera_effective_hz"]:.1f} Hz achieved (rendering shares this '
             'process), '
             f'{summary["frames_published"]} frames published, '
             f'{summary["frames_processed"]} processed by the node',
             f'- processed frames/s: {summary["processed_fps"]:.1f}',
             f'- latency, image published -> depth received: median '
             f'{summary["latency_p50_ms"]:.0f} ms, p90 {summary["latency_p90_ms"]:.0f} ms '
             '(the recorder shares a process with the renderer, so this includes waiting for '
             'it; `mtl_benchmark --dds` measures the node alone)',
             f"- live accuracy against the renderer's ground truth: semantic mIoU "
             f'{100 * summary["semantic_miou"]:.1f} %, depth abs-rel '
             f'{summary["depth_abs_rel"]:.3f} ({100 * summary["depth_within_10_percent"]:.0f} % '
             'of pixels within 10 %)',
             f'- wall time: {summary["wall_s"]:.0f} s', '', '## Files', '']
    lines += [f'- `{name}`' for name in summary['files']]
    lines += ['', 'Play the bag with `ros2 bag play demo_bag` (or open it in Foxglove) and view '
              'it in RViz with `rviz2 -d rviz/mtl_perception.rviz`.']
    return '\n'.join(lines) + '\n'
