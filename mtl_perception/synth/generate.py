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
Render one split of a data set in the Cityscapes layout, in worker processes, resumably.

Frame ``i`` of split ``S`` is rendered from a seed derived from ``(seed, S, i)`` only, so any
number of workers, in any order, writes byte-identical files, and a second run with the same
:class:`SynthJob` skips every complete frame (resume after a kill; raise ``frames`` to extend a
split). ``manifest.json`` at the root records the generator version, the class set, the
encodings and each split's parameters; running a split again with other parameters is refused
rather than mixing two kinds of frames. Each worker owns one
:class:`~mtl_perception.synth.renderer.SceneRenderer`; files are written by ``writer.py``.
``mtl_synth`` is the command line over :func:`generate`.
"""

from __future__ import annotations

from concurrent.futures import as_completed, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
import logging
import multiprocessing
from pathlib import Path
import time
from typing import Any

from mtl_perception.core.layout import MANIFEST_NAME, read_manifest
from mtl_perception.synth.renderer import GENERATOR_VERSION, SceneRenderer
from mtl_perception.synth.writer import (
    atomic_write_json,
    CITYSCAPES_BASELINE_M,
    frame_paths,
    frame_seed,
    new_manifest,
    write_frame,
)
from tqdm import tqdm

LOGGER = logging.getLogger('mtl_synth')  # the command's name, as its log lines always had


@dataclass(frozen=True)
class SynthJob:
    """What to generate: one split of one output folder."""

    out: Path
    split: str
    frames: int
    width: int = 320
    height: int = 240
    seed: int = 0
    scenes: int = 8
    hfov_deg: float | None = None
    baseline_m: float = CITYSCAPES_BASELINE_M

    def split_record(self) -> dict[str, Any]:
        """Return the parameters that must match when a split is extended or resumed."""
        return {'width': self.width, 'height': self.height, 'seed': self.seed,
                'scenes': self.scenes, 'hfov_deg': self.hfov_deg}


# --- workers --------------------------------------------------------------------------------

_RENDERER: SceneRenderer | None = None


def _init_worker() -> None:
    """Give each worker process its own PyBullet client with the pool loaded."""
    global _RENDERER
    _RENDERER = SceneRenderer()


def _render_task(task: tuple[SynthJob, int]) -> tuple[int, int]:
    """Render and write one frame; return its index and how many thing pixels it has."""
    job, index = task
    if _RENDERER is None:
        raise RuntimeError('mtl_synth worker used before _init_worker')
    try:
        frame = _RENDERER.render_frame(frame_seed(job.seed, job.split, index), job.width,
                                       job.height, job.hfov_deg)
        write_frame(frame, frame_paths(job.out, job.split, index, job.scenes), job.baseline_m)
    except Exception as error:
        raise RuntimeError(f'frame {index} of split {job.split!r} failed: {error}') from error
    return index, sum(1 for info in frame.instances if info.pixels > 0)


# --- the run --------------------------------------------------------------------------------

def _prepare_manifest(job: SynthJob) -> dict[str, Any]:
    """Load or start the manifest and refuse to mix frames made with other parameters."""
    manifest = read_manifest(job.out)
    if manifest is None:
        return new_manifest(job.baseline_m)
    if manifest.get('generator') != GENERATOR_VERSION:
        raise ValueError(f'{job.out / MANIFEST_NAME} was written by generator '
                         f'{manifest.get("generator")!r}, this is {GENERATOR_VERSION!r}; '
                         'use another --out')
    if float(manifest.get('baseline_m', -1.0)) != job.baseline_m:
        raise ValueError(f'{job.out} holds frames with baseline {manifest.get("baseline_m")} m, '
                         f'not {job.baseline_m} m; use the same --baseline or another --out')
    previous = manifest.get('splits', {}).get(job.split)
    if previous is not None:
        expected = job.split_record()
        changed = {key: (previous.get(key), value) for key, value in expected.items()
                   if previous.get(key) != value}
        if changed:
            detail = ', '.join(f'{key}: {old} -> {new}' for key, (old, new) in changed.items())
            raise ValueError(f'split {job.split!r} in {job.out} was generated with other '
                             f'parameters ({detail}); use the same ones or another --out')
    return manifest


def _write_manifest(job: SynthJob, manifest: dict[str, Any], complete: int) -> None:
    splits = manifest.setdefault('splits', {})
    previous = splits.get(job.split, {})
    record = job.split_record()
    record['frames'] = max(job.frames, int(previous.get('frames', 0)))
    record['complete'] = complete
    splits[job.split] = record
    manifest['counts'] = {name: int(entry.get('complete', 0)) for name, entry in splits.items()}
    atomic_write_json(job.out / MANIFEST_NAME, manifest)


def generate(job: SynthJob, workers: int = 1, progress: bool = True) -> dict[str, Any]:
    """Render the missing frames of ``job`` and return a summary (counts and timings)."""
    job.out.mkdir(parents=True, exist_ok=True)
    manifest = _prepare_manifest(job)
    todo = [index for index in range(job.frames)
            if not frame_paths(job.out, job.split, index, job.scenes).complete()]
    skipped = job.frames - len(todo)
    _write_manifest(job, manifest, skipped)
    LOGGER.info('split %r: %d frames wanted, %d already complete, %d to render with %d '
                'worker(s)', job.split, job.frames, skipped, len(todo), workers)
    start = time.perf_counter()
    instances = 0
    bar = tqdm(total=len(todo), unit='frame', desc=f'mtl_synth {job.split}',
               disable=not progress or not todo)
    tasks = [(job, index) for index in todo]
    try:
        if workers <= 1 or len(todo) <= 1:
            _init_worker()
            try:
                for task in tasks:
                    instances += _render_task(task)[1]
                    bar.update(1)
            finally:
                _close_worker()
        else:
            # An executor, not multiprocessing.Pool: a worker that dies or cannot start (no
            # PyBullet, no memory) breaks it with an error, where a Pool starts another forever.
            pool = ProcessPoolExecutor(min(workers, len(todo)), initializer=_init_worker,
                                       mp_context=multiprocessing.get_context('spawn'))
            try:
                for future in as_completed([pool.submit(_render_task, t) for t in tasks]):
                    instances += future.result()[1]
                    bar.update(1)
            except BrokenProcessPool as error:
                raise RuntimeError(
                    f'a mtl_synth worker process stopped ({error}); its error is printed '
                    'above, or run with --workers 1 to see it in this process') from error
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
    finally:
        bar.close()
        complete = sum(frame_paths(job.out, job.split, index, job.scenes).complete()
                       for index in range(job.frames))
        _write_manifest(job, manifest, complete)
    seconds = time.perf_counter() - start
    return {'split': job.split, 'rendered': len(todo), 'skipped': skipped,
            'complete': complete, 'seconds': seconds,
            'frames_per_second': len(todo) / seconds if todo and seconds > 0 else 0.0,
            'visible_instances': instances}


def _close_worker() -> None:
    global _RENDERER
    if _RENDERER is not None:
        _RENDERER.close()
    _RENDERER = None
