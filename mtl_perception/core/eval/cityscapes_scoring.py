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
Score Cityscapes-format results with the official ``cityscapesScripts`` evaluators, unchanged.

The results are written by :mod:`mtl_perception.core.eval.cityscapes_format`; this module only
runs the evaluators on them and returns their scores.

What the evaluators need and how it is provided
-----------------------------------------------
cityscapesScripts 2.3.0 (the latest release) was written as command-line scripts, so scoring:

- works on copies of their module-level ``args`` objects, set quiet, uncoloured, without
  distance-based AP, with JSON reports and the ground-truth instance cache
  (``gtInstancesFile``) inside ``results_dir``; the cache is rebuilt on every call, since
  it is keyed by file path only and would go stale silently when the frames change;
- sets ``CITYSCAPES_DATASET`` and ``CITYSCAPES_EXPORT_DIR`` while importing and running them
  (their import reads both, and fails when the latter is set to a missing folder);
- runs the instance evaluator inside ``results_dir``, because it writes ``matches.json`` to
  the current directory;
- captures what they print (logged at debug level) and turns their ``sys.exit`` on an error
  into a :class:`RuntimeError` that quotes their message;
- while they run, adapts them to NumPy 2 and restores everything afterwards: provides
  ``numpy.in1d`` (as ``numpy.isin`` on the flattened input) where NumPy no longer has it
  (NumPy 2.4 removed it, cityscapesScripts 2.3.0 still calls it; upstream pull request
  mcordts/cityscapesScripts#196), and gives their modules a ``writeDict2JSON`` that writes
  NumPy scalars as numbers (NumPy 2's ``count_nonzero`` returns NumPy integers, which their
  JSON writer, falling back to ``__dict__``, cannot serialise);
- works around upstream issue mcordts/cityscapesScripts#89: their AP code raises IndexError
  for a class that has ground truth and predictions when every prediction lies on ignored
  pixels and none matches. Scoring then repeats their AP computation one (class, overlap)
  cell at a time with their own functions and gives a crashing cell AP 0, what their code
  gives to a class with ground truth and nothing found.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
import contextlib
import copy
import io
import json
import logging
import math
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from mtl_perception.core.data.frames import find_frames, FrameFiles
from mtl_perception.core.eval.cityscapes_format import (
    INSTANCE_DIR,
    PIXEL_DIR,
    PIXEL_SUFFIX,
    result_paths,
)
import numpy as np

LOGGER = logging.getLogger(__name__)

PIXEL_REPORT = 'resultPixelLevelSemanticLabeling.json'
INSTANCE_REPORT = 'resultInstanceLevelSemanticLabeling.json'
GT_INSTANCES_CACHE = 'gtInstances.json'
INSTALL_HINT = 'pip install cityscapesScripts (or pip install mtl_perception[cityscapes])'


def _in1d(ar1: Any, ar2: Any, assume_unique: bool = False, invert: bool = False) -> np.ndarray:
    """``numpy.in1d`` as NumPy < 2.4 had it: a flat boolean array."""
    return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert)


def _json_default(value: Any) -> Any:
    """Their JSON fallback (an object's ``__dict__``), plus NumPy scalars and arrays."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    return value.__dict__


def _write_dict_to_json(data: Any, file_name: str) -> None:
    """Their ``writeDict2JSON``, able to write NumPy 2's integer scalars."""
    with open(file_name, 'w', encoding='utf-8') as handle:
        handle.write(json.dumps(data, default=_json_default, sort_keys=True, indent=4))


@contextlib.contextmanager
def _environment_variables(data_root: Path, results_dir: Path) -> Iterator[None]:
    """Point the variables their modules read to the data and the results, then restore."""
    values = {'CITYSCAPES_DATASET': str(data_root), 'CITYSCAPES_EXPORT_DIR': str(results_dir)}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _official_environment(data_root: Path, results_dir: Path,
                          modules: Sequence[ModuleType] = ()) -> Iterator[io.StringIO]:
    """
    Set what the evaluators read (see the module docstring) and restore it afterwards.

    ``modules`` (the evaluators) get the NumPy-2-safe JSON writer. Yields the buffer that
    collects what they print.
    """
    saved_writers = [(module, module.writeDict2JSON) for module in modules]
    added_in1d = not hasattr(np, 'in1d')
    saved_cwd = os.getcwd()
    buffer = io.StringIO()
    if added_in1d:
        np.in1d = _in1d
    for module, _ in saved_writers:
        module.writeDict2JSON = _write_dict_to_json
    try:
        os.chdir(results_dir)
        with _environment_variables(data_root, results_dir), \
                contextlib.redirect_stdout(buffer):
            yield buffer
    except SystemExit as error:
        lines = [line for line in buffer.getvalue().splitlines() if line.strip()]
        message = next((line for line in reversed(lines) if line.startswith('ERROR')),
                       lines[-1] if lines else f'exit status {error.code}')
        raise RuntimeError(f'a cityscapesScripts evaluator stopped: {message}') from None
    finally:
        os.chdir(saved_cwd)
        for module, writer in saved_writers:
            module.writeDict2JSON = writer
        if added_in1d:
            del np.in1d
        if buffer.getvalue().strip():
            LOGGER.debug('cityscapesScripts printed:\n%s', buffer.getvalue().rstrip())


def _import_evaluators(data_root: Path, results_dir: Path
                       ) -> tuple[ModuleType, ModuleType, ModuleType]:
    """
    Import the pixel and instance evaluators and the label table, or explain the install.

    Their import reads the environment (a stale ``CITYSCAPES_EXPORT_DIR`` makes it fail), so
    it runs with the variables pointing here.
    """
    try:
        with _environment_variables(data_root, results_dir):
            from cityscapesscripts.evaluation import (
                evalInstanceLevelSemanticLabeling,
                evalPixelLevelSemanticLabeling,
            )
            from cityscapesscripts.helpers import labels
    except ImportError as error:
        raise ImportError(f'scoring Cityscapes results needs the official cityscapesScripts: '
                          f'{INSTALL_HINT} ({error})') from error
    return evalPixelLevelSemanticLabeling, evalInstanceLevelSemanticLabeling, labels


def _pixel_args(module: ModuleType, results_dir: Path) -> Any:
    args = copy.deepcopy(module.args)
    args.evalInstLevelScore = True  # iIoU
    args.evalPixelAccuracy = False
    args.quiet = True
    args.colorized = False
    args.bold = args.nocol = ''
    args.JSONOutput = True
    args.exportFile = str(results_dir / PIXEL_REPORT)
    args.predictionPath = args.predictionWalk = None  # unused: the lists are given
    return args


def _instance_args(module: ModuleType, results_dir: Path) -> Any:
    args = copy.deepcopy(module.args)
    args.quiet = True
    args.colorized = False
    args.csv = False
    args.distanceAvailable = False  # no per-instance distance in the ground truth
    args.JSONOutput = True
    args.exportFile = str(results_dir / INSTANCE_REPORT)
    args.gtInstancesFile = str(results_dir / GT_INSTANCES_CACHE)
    # Every mask path in the text files must lie below this folder.
    args.predictionPath = os.path.abspath(results_dir / INSTANCE_DIR)
    args.predictionWalk = None
    return args


def _instance_ap_cellwise(module: ModuleType, predictions: list[str],
                          ground_truths: list[str], args: Any) -> dict[str, Any]:
    """
    Their AP, one (class, overlap) cell at a time; a cell hit by issue #89 gets AP 0.

    Mirrors their ``evaluateImgLists`` step by step with their own functions.
    """
    module.setInstanceLabels(args)
    gt_instances = module.getGtInstances(ground_truths, args)
    matches = module.matchGtWithPreds(predictions, ground_truths, gt_instances, args)
    overlaps = np.asarray(args.overlaps)
    aps = np.zeros((1, len(args.instLabels), len(overlaps)), dtype=float)
    for label_index, name in enumerate(args.instLabels):
        crashed = []
        for overlap_index, overlap in enumerate(overlaps):
            cell = copy.copy(args)
            cell.instLabels = [name]
            cell.overlaps = overlaps[overlap_index:overlap_index + 1]
            try:
                aps[:, label_index, overlap_index] = module.evaluateMatches(matches, cell)[:, 0, 0]
            except IndexError:
                crashed.append(f'{overlap:.2f}')  # the cell keeps AP 0
        if crashed:
            LOGGER.warning('%s: ground truth, but no prediction matched or counted (all on '
                           'ignored pixels) at overlaps %s; AP 0 there (cityscapesScripts '
                           'would crash, upstream issue #89)', name, ', '.join(crashed))
    averages = module.computeAverages(aps, args)
    report = module.prepareJSONDataForResults(averages, aps, args)
    module.writeDict2JSON(report, args.exportFile)
    return report


def _as_float(value: Any) -> float:
    return float(value) if value is not None else math.nan


def _paired_lists(frames: list[FrameFiles], results_dir: Path
                  ) -> tuple[list[str], list[str], list[str], list[str]]:
    """Absolute paths of predictions and ground truth of the frames that have results."""
    pixel_pred, pixel_gt, instance_pred, instance_gt = [], [], [], []
    for frame in frames:
        pixel_path, text_path = result_paths(results_dir, frame.image)
        if pixel_path.is_file():
            pixel_pred.append(os.path.abspath(pixel_path))
            pixel_gt.append(os.path.abspath(frame.label_ids))
        if text_path.is_file():
            instance_pred.append(os.path.abspath(text_path))
            instance_gt.append(os.path.abspath(frame.instance_ids))
    return pixel_pred, pixel_gt, instance_pred, instance_gt


def score_cityscapes_results(data_root: str | Path, split: str,
                             results_dir: str | Path) -> dict[str, Any]:
    """
    Score results written by :func:`write_cityscapes_results` with cityscapesScripts.

    Frames of the split that have results are scored (all of them unless the results were
    written with ``max_frames``). Returns fractions in [0, 1] (the official tables show them
    times 100): ``class_iou``, ``class_iiou``, ``category_iou``, ``category_iiou`` and the
    per-class ``class_iou_per_class`` / ``class_iiou_per_class`` of the pixel-level
    evaluator; ``instance_ap``, ``instance_ap50`` and ``instance_ap_per_class`` (``ap``,
    ``ap50``) of the instance-level one when instance results exist. Averages skip classes
    without ground truth or predictions (NaN), as the official evaluators do. Their full
    reports are written to ``results_dir``. Raises ImportError without cityscapesScripts.
    """
    data_root = Path(os.path.abspath(data_root))
    results_dir = Path(os.path.abspath(results_dir))
    pixel_module, instance_module, labels_module = _import_evaluators(data_root, results_dir)
    frames = find_frames(data_root, split, require_depth=False)
    pixel_pred, pixel_gt, instance_pred, instance_gt = _paired_lists(frames, results_dir)
    if not pixel_pred:
        raise FileNotFoundError(f'no Cityscapes results for split {split!r} in {results_dir} '
                                f'(expected {PIXEL_DIR}/<city>/<frame>{PIXEL_SUFFIX}); write '
                                'them with write_cityscapes_results first')
    if len(pixel_pred) < len(frames):
        LOGGER.info('scoring the %d of %d %s frames that have results', len(pixel_pred),
                    len(frames), split)
    evaluated = [label.name for label in labels_module.labels
                 if label.id >= 0 and not label.ignoreInEval]
    scores: dict[str, Any] = {'split': split, 'frames': len(pixel_pred),
                              'results_dir': str(results_dir)}
    modules = (pixel_module, instance_module)
    with _official_environment(data_root, results_dir, modules):
        pixel = pixel_module.evaluateImgLists(pixel_pred, pixel_gt,
                                              _pixel_args(pixel_module, results_dir))
    scores.update({
        'class_iou': _as_float(pixel['averageScoreClasses']),
        'class_iiou': _as_float(pixel['averageScoreInstClasses']),
        'category_iou': _as_float(pixel['averageScoreCategories']),
        'category_iiou': _as_float(pixel['averageScoreInstCategories']),
        'class_iou_per_class': {name: _as_float(pixel['classScores'][name])
                                for name in evaluated},
        'class_iiou_per_class': {name: _as_float(pixel['classInstScores'][name])
                                 for name in evaluated
                                 if name in pixel['classInstScores']},
    })
    if not instance_pred:
        LOGGER.info('no instance results in %s: instance AP not scored', results_dir)
        return scores
    args = _instance_args(instance_module, results_dir)
    cache = Path(args.gtInstancesFile)
    with _official_environment(data_root, results_dir, modules):
        if cache.exists():
            cache.unlink()
        try:
            report = instance_module.evaluateImgLists(instance_pred, instance_gt, args)
        except IndexError:
            report = _instance_ap_cellwise(instance_module, instance_pred, instance_gt,
                                           _instance_args(instance_module, results_dir))
    averages = report['averages']
    scores.update({
        'instance_ap': _as_float(averages['allAp']),
        'instance_ap50': _as_float(averages['allAp50%']),
        'instance_ap_per_class': {name: {'ap': _as_float(values['ap']),
                                         'ap50': _as_float(values['ap50%'])}
                                  for name, values in averages['classes'].items()},
        'instance_frames': len(instance_pred),
    })
    LOGGER.info('Cityscapes %s (%d frames): class IoU %.4f, iIoU %.4f, category IoU %.4f, '
                'instance AP %.4f, AP50 %.4f', split, len(pixel_pred), scores['class_iou'],
                scores['class_iiou'], scores['category_iou'], scores['instance_ap'],
                scores['instance_ap50'])
    return scores


def write_scores(scores: dict[str, Any], path: str | Path) -> Path:
    """Write scores as JSON (NaN as null, so other tools can read the file)."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clean(scores), indent=2) + '\n', encoding='utf-8')
    return path
