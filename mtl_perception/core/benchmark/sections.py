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
The markdown sections ``mtl_benchmark`` writes: one section shape, one writer.

Every section is a title, the facts that make its numbers reproducible (command, hardware,
date, method) as a bullet list, and one table; :func:`markdown_section` writes that shape for
every benchmark, and :func:`mtl_perception.core.report.write_marked_section` puts it in its
place in ``docs/benchmarks.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mtl_perception.core.report import cpu_model, markdown_table, now_iso
import torch


def markdown_section(title: str, facts: Sequence[str], columns: Sequence[str],
                     rows: Iterable[Sequence[str]]) -> str:
    """Return ``## title``, the facts as a bullet list and the table, newline-terminated."""
    lines = [f'## {title}', ''] + [f'- {fact}' for fact in facts] + ['']
    return '\n'.join(lines + markdown_table(columns, rows)) + '\n'


def torch_hardware(gpu: bool = False) -> str:
    """Return the hardware line with torch's version and thread count (and the GPU)."""
    text = f'{cpu_model()}; torch {torch.__version__}, {torch.get_num_threads()} threads'
    if gpu and torch.cuda.is_available():
        text += f'; GPU {torch.cuda.get_device_name()}'
    return text


def model_section(rows: list[dict[str, Any]], command: str, repeats: int) -> str:
    """Return the section of :func:`~mtl_perception.core.benchmark.timing.bench_model` rows."""
    facts = [
        f'command: `{command}`', f'hardware: {torch_hardware(gpu=True)}', f'date: {now_iso()}',
        f'median of {repeats} frames after 3 warm-up frames; forward = network only; predict ='
        ' resize, normalise, forward, argmax/upsample, copy to host; pipeline = predict + '
        'instance clustering + metric depth + point cloud. Weights are random (speed does not '
        'depend on them), except that clustering the random offsets of an untrained model '
        'finds many spurious instances, so its pipeline figure is pessimistic; the node table '
        'below uses the trained default model.']
    columns = ['preset', 'input', 'forward ms', 'predict ms', 'pipeline ms', 'pipeline frames/s']
    cells = [[row['preset'], row['size'], f'{row["forward_ms"]:.1f}', f'{row["predict_ms"]:.1f}',
              f'{row["pipeline_ms"]:.1f}', f'{1000 / row["pipeline_ms"]:.1f}'] for row in rows]
    return markdown_section(f'Model and pipeline ({rows[0]["device"]}, {rows[0]["precision"]})',
                            facts, columns, cells)


def dds_section(rows: list[dict[str, Any]], command: str, device: str, model_name: str,
                preset: str, frames: int, camera_hz: float) -> str:
    """Return the section of the node over DDS, one row per camera size."""
    facts = [
        f'command: `{command}`', f'hardware: {cpu_model()}', f'date: {now_iso()}',
        f'model: `{model_name}` ({preset} preset), network input = camera size; camera '
        'publisher at default QoS (reliable) and default Fast DDS transports, node at its '
        'defaults; latency = image published -> labels, depth and instance cloud all received '
        f'(median of {frames}, one frame at a time); throughput = outputs per second with the '
        f'camera publishing at {camera_hz:g} Hz (the node keeps the newest frame, drops the '
        'rest).']
    columns = ['camera', 'latency ms (p50)', 'p90', 'forward ms', 'pipeline ms',
               'latency / forward', 'frames/s', 'published', 'processed']
    cells = [[row['size'], f'{row["latency_ms"]:.1f}', f'{row["latency_p90_ms"]:.1f}',
              f'{row["forward_ms"]:.1f}', f'{row["pipeline_ms"]:.1f}',
              f'{row["latency_ms"] / row["forward_ms"]:.2f}', f'{row["throughput_fps"]:.1f}',
              f'{row["published"]}', f'{row["processed"]}'] for row in rows]
    return markdown_section(f'Node end to end over DDS ({device})', facts, columns, cells)


def frame_path_section(rows: list[dict[str, Any]], command: str, device: str, network: str,
                       model_name: str, repeats: int, note: str = '') -> str:
    """Return the section of :func:`~mtl_perception.core.benchmark.timing.bench_frame_path`."""
    facts = [
        f'command: `{command}`', f'hardware: {torch_hardware()}', f'date: {now_iso()}',
        f'model: `{model_name}`; a rendered scene (seed 90001) at the camera size with its '
        'intrinsics; every output (labels, confidence, instances, depth, cloud); median of '
        f'{repeats} frames after 3 warm-up frames. non-forward = median total - median '
        'forward (preprocess = resize to the network + upload + normalise; postprocess = '
        'argmax/softmax at the network resolution, resizes to the camera size, copy to the '
        'host).']
    if note:
        facts.append(f'note: {note}')
    columns = ['camera', 'backend', 'instances', 'total ms', 'frames/s', 'forward ms',
               'preprocess', 'postprocess', 'clustering', 'depth', 'cloud', 'non-forward ms',
               'non-forward / forward', 'onnxruntime forward ms', 'torch forward ms']
    cells = [[row['camera'], f'{row["backend"]} {row["precision"]}', f'{row["instances"]}',
              f'{row["total_ms"]:.1f}', f'{1000 / row["total_ms"]:.0f}',
              f'{row["forward_ms"]:.1f}', f'{row["preprocess_ms"]:.1f}',
              f'{row["postprocess_ms"]:.1f}', f'{row["clustering_ms"]:.1f}',
              f'{row["depth_ms"]:.1f}', f'{row["cloud_ms"]:.1f}',
              f'{row["non_forward_ms"]:.1f}', f'{100 * row["non_forward_ratio"]:.0f} %',
              f'{row.get("onnxruntime_forward_ms", float("nan")):.1f}',
              f'{row.get("torch_forward_only_ms", float("nan")):.1f}'] for row in rows]
    return markdown_section(f'One frame through the pipeline ({device}, network {network})',
                            facts, columns, cells)


def frame_path_dds_table(results: list[tuple[str, dict[str, Any]]], camera: str, network: str,
                         threads: int, frames: int, camera_hz: float, forward_ms: float,
                         pipeline_ms: float) -> str:
    """Return the paragraph and table of the node over DDS, one row per camera process."""
    lines = ['', f'Node over DDS (camera {camera}, reliable keep-last-10 like a driver at '
             f'defaults; network {network}, num_threads {threads}; the node at its defaults, '
             'i.e. with the shipped Fast DDS profile): end-to-end latency = image published -> '
             'labels, depth and instance cloud received, one frame at a time, median of '
             f'{frames}. Second row: the camera process also uses the shipped profile (a '
             'driver whose shared-memory segment holds a whole frame).', '']
    columns = ['camera process', 'latency ms (p50)', 'p90', 'forward ms', 'pipeline ms',
               'latency / forward', f'frames/s at {camera_hz:g} Hz camera']
    cells = [[label, f'{dds["latency_ms"]:.1f}', f'{dds["latency_p90_ms"]:.1f}',
              f'{forward_ms:.1f}', f'{pipeline_ms:.1f}', f'{dds["latency_ms"] / forward_ms:.2f}',
              f'{dds["throughput_fps"]:.1f}'] for label, dds in results]
    return '\n'.join(lines + markdown_table(columns, cells)) + '\n'
