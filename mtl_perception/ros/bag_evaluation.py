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
Replay a recorded drive through the node's pipeline and judge it (``mtl_eval_bag``).

Reads a rosbag2 (sqlite3 or MCAP folder, or one ``.mcap`` file), finds the camera, CameraInfo
and optional ground-truth topics by type and name, runs the same
:class:`~mtl_perception.core.pipeline.ScenePipeline` as the node on every frame and writes:

- ``metrics.json`` and ``report.md``: with ground truth the paper's metrics (mIoU and per-class
  IoU, panoptic quality of thing classes, the depth errors of
  :class:`~mtl_perception.core.metrics.DepthErrors`) overall and per frame; without it,
  output statistics; per-stage latency percentiles and frames/s;
- PNG mosaics (input | semantic | instances | depth) and plots (per-frame metrics, latency);
- ``outputs`` bag: the input topics plus the node's output topics under
  :data:`OUTPUT_NAMESPACE`, built by :func:`mtl_perception.ros.outputs.scene_messages` (the
  node's own function) with the input headers.

Outputs are appended to the output bag frame by frame; the bag's image and ground-truth
messages are read into memory first (to pair them by stamp), so use ``every`` or
``max_frames`` for very long drives. Messages and frames that cannot be decoded are counted
and skipped. An MCAP file cut short is read up to the cut and evaluated in part; a damaged
sqlite3 bag stops with a :class:`~mtl_perception.bag.io.BagError` that says which bag and why.
"""

from __future__ import annotations

from collections import Counter, defaultdict
import json
import logging
from pathlib import Path
import time
from typing import Any

from mtl_perception.bag.io import BagError, BagWriter, detect_topics, open_bag_lenient
from mtl_perception.core.classes import ClassSet
from mtl_perception.core.instance_metrics import PanopticQualityAccumulator
from mtl_perception.core.metrics import ConfusionMatrix, DepthErrors, percentile
from mtl_perception.core.pipeline import PipelineConfig, ScenePipeline
from mtl_perception.core.predictor import default_model_path, Predictor
from mtl_perception.core.report import metric_table
from mtl_perception.core.visualize import (
    colorize_instances,
    colorize_inverse_depth,
    colorize_semantic,
    mosaic,
    write_png,
)
from mtl_perception.ros import conversions, outputs
from mtl_perception.ros.parameters import PARAMETERS
import numpy as np
from rclpy.serialization import serialize_message
from tqdm import tqdm

LOGGER = logging.getLogger('mtl_eval_bag')
OUTPUT_NAMESPACE = '/mtl'
"""Where the output bag puts the node's topics: the namespace the launch file gives it."""
COLOR_BLEND = next(spec.default for spec in PARAMETERS if spec.name == 'color_blend')
OUTPUT_RESOLUTION = 'input'  # the evaluator judges the outputs at the camera's resolution


BAG_OUTPUTS = {output.key: (f'{OUTPUT_NAMESPACE}/{output.topic}', output)
               for output in outputs.output_topics(OUTPUT_RESOLUTION)}
"""Per output key: its topic in the output bag (the node's, under the namespace) and its row."""


def _stamp(message: Any) -> tuple[int, int]:
    return (int(message.header.stamp.sec), int(message.header.stamp.nanosec))


def read_frames(reader: Any, topics: Any, every: int, max_frames: int,
                counters: Counter) -> list[dict[str, Any]]:
    """Image messages with the CameraInfo and ground truth of the same stamp."""
    wanted = {t for t in (topics.image, topics.camera_info, topics.labels, topics.depth,
                          topics.instances) if t}
    connections = [c for c in reader.connections if c.topic in wanted]
    by_topic: dict[str, dict[tuple[int, int], Any]] = defaultdict(dict)
    images: list[tuple[tuple[int, int], str, Any]] = []
    try:
        for connection, _, raw in reader.messages(connections=connections):
            try:
                message = reader.deserialize(raw, connection.msgtype)
            except Exception:  # noqa: BLE001 - a corrupt record must not end the evaluation
                counters['undecodable_messages'] += 1
                continue
            if connection.topic == topics.image:
                images.append((_stamp(message), connection.msgtype, message))
            else:
                by_topic[connection.topic][_stamp(message)] = message
    except Exception as error:  # noqa: BLE001 - truncated bags end early; keep what was read
        counters['read_error'] += 1
        LOGGER.warning('the bag ends early (%s: %s); evaluating the %d frames read',
                       type(error).__name__, error, len(images))
    frames = []
    for index, (stamp, msgtype, message) in enumerate(images):
        if index % every:
            continue
        frames.append({'stamp': stamp, 'msgtype': msgtype, 'image': message,
                       'info': by_topic[topics.camera_info].get(stamp)
                       if topics.camera_info else None,
                       **{key: by_topic[getattr(topics, key)].get(stamp)
                          for key in ('labels', 'depth', 'instances') if getattr(topics, key)}})
        if max_frames and len(frames) >= max_frames:
            break
    return frames


def evaluate_bag(bag: str | Path, out: Path, model: str | Path | None = None,
                 device: str = 'auto', every: int = 1, max_frames: int = 0, mosaics: int = 4,
                 write_output_bag: bool = True, storage: str = 'mcap',
                 topic_names: dict[str, str | None] | None = None,
                 pipeline_config: PipelineConfig | None = None) -> dict[str, Any]:
    """Evaluate one bag; ``pipeline_config`` defaults to the node's."""
    model_path = Path(model) if model else default_model_path()
    predictor = Predictor(model_path, device=device)
    pipeline = ScenePipeline(predictor, pipeline_config)
    class_set = predictor.class_set
    counters: Counter = Counter()
    reader = open_bag_lenient(bag)
    if type(reader).__name__ == 'TruncatedMcapReader':
        counters['truncated_file'] = 1
        LOGGER.warning('%s has no MCAP summary (cut short?); reading it front to back', bag)
    try:
        topics = detect_topics(reader, **(topic_names or {}))
        if topics.camera_info is None:
            raise BagError(f'{bag} has no sensor_msgs/CameraInfo topic: metric depth and point '
                           'clouds need the intrinsics; record the camera_info topic too or '
                           'name it with --camera-info-topic')
        frames = read_frames(reader, topics, every, max_frames, counters)
        input_topics = {c.topic: c.msgtype for c in reader.connections}
    finally:
        reader.close()
    if not frames:
        raise BagError(f'no image frames on {topics.image} in {bag}')
    out.mkdir(parents=True, exist_ok=True)
    confusion = ConfusionMatrix(class_set.num_classes)
    panoptic = PanopticQualityAccumulator(class_set.thing_ids, class_names=class_set.names)
    depth_errors = DepthErrors()
    timings: dict[str, list[float]] = defaultdict(list)
    per_frame: list[dict[str, Any]] = []
    class_histogram = np.zeros(class_set.num_classes, np.int64)
    chosen = set(np.linspace(0, len(frames) - 1, min(mosaics, len(frames))).astype(int).tolist()
                 ) if mosaics else set()
    results = []  # only the frames chosen for mosaics: a long bag must not fill the memory
    writer = open_output_bag(bag, out / 'outputs', input_topics, storage) if write_output_bag \
        else None
    sigmas = predictor.sigmas  # latched on the node: written once, with the first frame
    for index, frame in enumerate(tqdm(frames, desc='frames', disable=None)):
        start = time.perf_counter()
        try:
            if frame['msgtype'].endswith('CompressedImage'):
                image = conversions.compressed_image_to_numpy(frame['image'])
            else:
                image = conversions.image_to_rgb(frame['image'], copy=True)
            K = (conversions.camera_info_to_intrinsics(frame['info']).K
                 if frame['info'] is not None else None)
        except (ValueError, TypeError) as error:
            counters['undecodable_frames'] += 1
            LOGGER.warning('frame %s skipped: %s', frame['stamp'], error)
            continue
        decode_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        result = pipeline.process(image, K)
        total_ms = decode_ms + (time.perf_counter() - start) * 1e3
        timings['decode'].append(decode_ms)
        for stage, value in result.timings_ms.items():
            timings[stage].append(value)
        timings['total'].append(total_ms)
        semantic = result.prediction.semantic
        class_histogram += np.bincount(semantic.ravel(), minlength=class_set.num_classes)[
            :class_set.num_classes]
        record: dict[str, Any] = {'stamp': f'{frame["stamp"][0]}.{frame["stamp"][1]:09d}',
                                  'instances': len(result.instances.class_ids),
                                  'total_ms': total_ms}
        finite = result.depth_m[np.isfinite(result.depth_m)]
        if finite.size:
            record['depth_min_m'], record['depth_max_m'] = float(finite.min()), float(
                finite.max())
        if frame.get('labels') is not None:
            truth = conversions.image_to_numpy(frame['labels'])
            frame_confusion = ConfusionMatrix(class_set.num_classes)
            frame_confusion.update(semantic, truth)
            confusion.matrix += frame_confusion.matrix
            record['semantic_miou'] = frame_confusion.mean_iou()
            if frame.get('instances') is not None:
                gt_ids = conversions.image_to_numpy(frame['instances']).astype(np.int64)
                panoptic.update(result.instances.instance_ids, result.instances.class_ids,
                                np.where(gt_ids >= 1000, gt_ids, 0), truth)
        if frame.get('depth') is not None:
            frame_abs_rel = depth_errors.update(
                result.depth_m, conversions.depth_image_to_metres(frame['depth']))
            if np.isfinite(frame_abs_rel):
                record['depth_abs_rel'] = frame_abs_rel
        per_frame.append(record)
        if index in chosen:
            results.append((index, image, result))
        if writer is not None:
            write_outputs(writer, frame, image, result, class_set, sigmas)
            sigmas = None
    if writer is not None:
        writer.close()
    metrics: dict[str, Any] = {'frames_evaluated': len(per_frame), **counters}
    if confusion.matrix.sum():
        metrics['semantic_miou'] = confusion.mean_iou()
        metrics['semantic_iou_per_class'] = {n: float(v) for n, v in
                                             zip(class_set.names, confusion.iou())}
        metrics.update({f'instance_{k}': v for k, v in panoptic.compute().items()
                        if k in ('pq', 'sq', 'rq')})
    metrics.update(depth_errors.compute())
    metrics['class_histogram'] = {n: int(v) for n, v in zip(class_set.names, class_histogram)}
    metrics['instances_per_frame'] = float(np.mean([r['instances'] for r in per_frame]))
    metrics['latency_ms'] = {stage: {q: percentile(values, int(q[1:]))
                                     for q in ('p50', 'p90', 'p99')}
                             for stage, values in timings.items() if values}
    metrics['frames_per_second'] = 1000.0 / float(np.median(timings['total']))
    metrics.update({'model': str(model_path), 'bag': str(bag), 'topics': vars(topics),
                    'pipeline': pipeline.config.to_parameters()})
    (out / 'metrics.json').write_text(json.dumps({'metrics': metrics, 'frames': per_frame},
                                                 indent=2, default=float))
    pictures = write_pictures(results, per_frame, timings, class_set, out)
    (out / 'report.md').write_text(report(metrics, pictures, write_output_bag))
    return metrics


def open_output_bag(bag: str | Path, path: Path, input_topics: dict[str, str],
                    storage: str) -> BagWriter:
    """Return a new bag holding a copy of the inputs; outputs are appended frame by frame."""
    output_types = {topic: output.type_name for topic, output in BAG_OUTPUTS.values()}
    writer = BagWriter(path, {**input_topics, **output_types}, storage, overwrite=True)
    reader = open_bag_lenient(bag)
    try:
        for connection, timestamp, raw in reader.messages():
            writer.write(connection.topic, timestamp, bytes(raw))
    except Exception:  # noqa: BLE001 - copy what a damaged bag holds, evaluation goes on
        LOGGER.warning('could not copy every input message into the output bag')
    finally:
        reader.close()
    return writer


def write_outputs(writer: BagWriter, frame: dict[str, Any], image: np.ndarray, result: Any,
                  class_set: ClassSet, sigmas: dict[str, float] | None = None) -> None:
    """Append one frame's node outputs (and ``sigmas``, once) with the input image's header."""
    stamp_ns = frame['stamp'][0] * 1_000_000_000 + frame['stamp'][1]
    messages = outputs.scene_messages(result, frame['image'].header, class_set, image,
                                      COLOR_BLEND)
    if sigmas is not None:
        messages[outputs.SIGMAS.key] = outputs.sigmas_message(sigmas)
    for key, message in messages.items():
        writer.write(BAG_OUTPUTS[key][0], stamp_ns, serialize_message(message))


def write_pictures(results: list, per_frame: list, timings: dict, class_set: ClassSet,
                   out: Path) -> list[str]:
    """Mosaics of the kept frames, per-frame metrics and the latency histogram."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = []
    for index, image, result in results:
        with np.errstate(divide='ignore'):
            inverse = np.nan_to_num(1.0 / result.depth_m)
        panels = [('input', image),
                  ('semantic', colorize_semantic(result.prediction.semantic, class_set)),
                  ('instances', colorize_instances(result.instances.instance_ids, image)),
                  ('depth', colorize_inverse_depth(inverse))]
        name = f'mosaic_{index:04d}.png'
        write_png(str(out / name), mosaic(panels))
        names.append(name)
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    for key in ('semantic_miou', 'depth_abs_rel'):
        values = [r.get(key, np.nan) for r in per_frame]
        if np.isfinite(values).any():
            axes[0].plot(values, label=key)
    axes[0].set(title='per frame', xlabel='frame')
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend()
    axes[1].hist(timings['total'], bins=30)
    axes[1].set(title='latency per frame', xlabel='ms')
    figure.tight_layout()
    figure.savefig(out / 'plots.png', dpi=90)
    plt.close(figure)
    return names + ['plots.png']


def report(metrics: dict[str, Any], pictures: list[str], with_bag: bool) -> str:
    """Return ``report.md``: the metrics table, stage latencies and the pictures."""
    lines = ['# Bag evaluation', '', f'- bag: `{metrics["bag"]}`',
             f'- model: `{metrics["model"]}`',
             f'- topics: {metrics["topics"]}',
             f'- frames evaluated: {metrics["frames_evaluated"]}'
             + ''.join(f', {k.replace("_", " ")}: {metrics[k]}' for k in
                       ('undecodable_frames', 'undecodable_messages', 'read_error',
                        'truncated_file')
                       if metrics.get(k)), '']
    rows = [('semantic mIoU (%)', 'semantic_miou', 100), ('PQ things (%)', 'instance_pq', 100),
            ('depth abs rel', 'depth_abs_rel', 1), ('depth RMSE (m)', 'depth_rmse_m', 1),
            ('inverse depth mean error (1/m)', 'inverse_depth_mean_error_metric', 1),
            ('depth within 1.25x (%)', 'depth_delta_1_25', 100),
            ('instances per frame', 'instances_per_frame', 1),
            ('frames/s (median total)', 'frames_per_second', 1)]
    lines += metric_table(metrics, rows)
    lines += ['', '| stage | p50 ms | p90 ms | p99 ms |', '|---|---|---|---|']
    for stage, values in metrics['latency_ms'].items():
        lines.append(f'| {stage} | {values["p50"]:.1f} | {values["p90"]:.1f} | '
                     f'{values["p99"]:.1f} |')
    lines += [''] + [f'![{name}]({name})' for name in pictures]
    if with_bag:
        lines += ['', 'Outputs with the input headers: `outputs/` (play it with '
                  '`ros2 bag play outputs`).']
    return '\n'.join(lines) + '\n'
