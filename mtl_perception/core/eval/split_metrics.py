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
The paper's metrics of one checkpoint on one data split, with mosaics and a markdown table.

What ``mtl_evaluate`` reports: semantic mIoU and per-class IoU, instance mean error in px and
panoptic quality of thing classes, inverse-depth mean error, depth abs-rel and RMSE in metres;
PNG mosaics (input | semantic | instances | depth) of the first frames; optionally the official
Cityscapes scores (:mod:`.cityscapes_scoring`) and depth on real stereo photos
(:mod:`.real_stereo`). Instances are clustered at the network's resolution exactly as the node
does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mtl_perception.core.checkpoint import load_checkpoint
from mtl_perception.core.data import build_dataset
from mtl_perception.core.eval.cityscapes_format import write_cityscapes_results
from mtl_perception.core.eval.cityscapes_scoring import score_cityscapes_results, write_scores
from mtl_perception.core.eval.real_stereo import evaluate_real_stereo
from mtl_perception.core.instance_metrics import PanopticQualityAccumulator
from mtl_perception.core.metrics import MultiTaskMetrics
from mtl_perception.core.pipeline import cluster_network_instances, PipelineConfig
from mtl_perception.core.predictor import Predictor, resolve_device
from mtl_perception.core.report import metric_table
from mtl_perception.core.training import make_loader, move_batch
from mtl_perception.core.visualize import (
    colorize_instances,
    colorize_inverse_depth,
    colorize_semantic,
    mosaic,
    write_png,
)
import numpy as np
import torch

LOGGER = logging.getLogger('mtl_evaluate')


def denormalize(image: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]
                ) -> np.ndarray:
    """Return a (3, H, W) normalised tensor as an (H, W, 3) uint8 RGB image."""
    array = image.detach().cpu().float().numpy().transpose(1, 2, 0)
    return np.clip((array * np.asarray(std) + np.asarray(mean)) * 255.0, 0, 255).astype(
        np.uint8)


@torch.no_grad()
def evaluate_checkpoint(checkpoint_path: str | Path, data_root: str | Path, split: str,
                        out: Path | None = None, device: str = 'auto', batch_size: int = 4,
                        max_frames: int = 0, mosaics: int = 4,
                        pipeline_config: PipelineConfig | None = None,
                        workers: int = 0, depth_target_scale: float = 1.0) -> dict[str, Any]:
    """
    Metrics of one checkpoint on one split; writes files to ``out`` when given.

    Instances are clustered at the network's resolution with ``pipeline_config`` (default: the
    node's defaults), exactly as the node does.

    ``depth_target_scale`` must match the one the model was trained with (stress tests only).
    """
    checkpoint = load_checkpoint(checkpoint_path)
    torch_device = resolve_device(device)
    model = checkpoint.build_model().to(torch_device).eval()
    prep = checkpoint.preprocessing
    class_set = checkpoint.class_set
    dataset = build_dataset(data_root, split, class_set.name,
                            size=(prep.input_width, prep.input_height), augment=False,
                            f_canon=prep.f_canon, mean=prep.mean, std=prep.std,
                            depth_target_scale=depth_target_scale)
    count = len(dataset) if not max_frames else min(max_frames, len(dataset))
    indices = list(range(count))
    batches = [indices[i:i + batch_size] for i in range(0, count, batch_size)]
    metrics = MultiTaskMetrics(class_set.num_classes, class_names=class_set.names)
    panoptic = PanopticQualityAccumulator(thing_ids=class_set.thing_ids,
                                          num_classes=class_set.num_classes)
    thing_table = class_set.is_thing()
    per_frame: list[dict[str, Any]] = []
    written: list[str] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    frame = 0
    tasks = checkpoint.model_config.tasks
    for batch in make_loader(dataset, batches, workers):
        batch = move_batch(batch, torch_device)
        outputs = model(batch['image'])
        metrics.update(outputs, batch)
        for b in range(batch['image'].shape[0]):
            record: dict[str, Any] = {'frame': frame, 'path': batch['path'][b]}
            semantic = (outputs['semantic_logits'][b].argmax(0).to(torch.uint8).cpu().numpy()
                        if 'semantic' in tasks else None)
            instance_ids = None
            if semantic is not None and 'instance' in tasks:
                offsets = outputs['instance_offsets'][b].float().cpu().numpy()
                result = cluster_network_instances(semantic, offsets, thing_table,
                                                   pipeline_config or PipelineConfig())
                instance_ids = result.instance_ids
                record['instances'] = int(len(result.class_ids))
                panoptic.update(result.instance_ids, result.class_ids,
                                batch['instance_ids'][b].cpu().numpy(),
                                batch['semantic'][b].cpu().numpy())
            if out is not None and frame < mosaics:
                image = denormalize(batch['image'][b], prep.mean, prep.std)
                panels = [('input', image)]
                if semantic is not None:
                    panels.append(('semantic', colorize_semantic(semantic, class_set)))
                if instance_ids is not None:
                    panels.append(('instances', colorize_instances(instance_ids, image)))
                if 'depth' in tasks:
                    inverse = outputs['inverse_depth'][b, 0].float().cpu().numpy()
                    target = batch['inverse_depth'][b, 0].float().cpu().numpy()
                    top = float(np.nanpercentile(target, 99)) or None
                    panels.append(('inverse depth', colorize_inverse_depth(inverse, top)))
                    panels.append(('true inverse depth', colorize_inverse_depth(target, top)))
                path = out / f'mosaic_{frame:04d}.png'
                write_png(str(path), mosaic(panels))
                written.append(path.name)
            per_frame.append(record)
            frame += 1
    result = metrics.compute()
    if 'instance' in checkpoint.model_config.tasks and 'semantic' in tasks:
        result.update({f'instance_{k}': v for k, v in panoptic.compute().items()
                       if not isinstance(v, dict)})
    result['frames'] = frame
    result['checkpoint'] = str(checkpoint_path)
    result['split'] = split
    if out is not None:
        (out / 'metrics.json').write_text(json.dumps(
            {'metrics': result, 'frames': per_frame, 'mosaics': written}, indent=2,
            default=float))
        (out / 'metrics.md').write_text(metrics_table(result, class_set.names))
    return result


def metrics_table(metrics: dict[str, Any], class_names: tuple[str, ...]) -> str:
    """Return the metrics as a markdown table, then the per-class IoU table."""
    rows = [('semantic mIoU (%)', 'semantic_miou', 100.0),
            ('instance mean error (px)', 'instance_mean_error_px', 1.0),
            ('instance PQ things (%)', 'instance_pq', 100.0),
            ('inverse depth mean error (1/m)', 'inverse_depth_mean_error', 1.0),
            ('depth abs rel', 'depth_abs_rel', 1.0),
            ('depth RMSE (m)', 'depth_rmse_m', 1.0)]
    lines = metric_table(metrics, rows)
    per_class = metrics.get('semantic_iou_per_class')
    if per_class:
        lines += ['', '| class | IoU (%) |', '|---|---|']
        lines += [f'| {name} | {per_class.get(name, float("nan")) * 100:.1f} |'
                  for name in class_names]
    return '\n'.join(lines) + '\n'


def official_cityscapes_scores(checkpoint_path: str | Path, data_root: str | Path, split: str,
                               results_dir: Path, device: str = 'auto', max_frames: int = 0,
                               pipeline_config: PipelineConfig | None = None
                               ) -> dict[str, Any]:
    """Write Cityscapes-format results to ``results_dir`` and score them with cityscapesScripts."""
    write_cityscapes_results(checkpoint_path, data_root, split, results_dir,
                             device=str(resolve_device(device)), max_frames=max_frames,
                             pipeline_config=pipeline_config)
    scores = score_cityscapes_results(data_root, split, results_dir)
    write_scores(scores, results_dir / 'cityscapes_scores.json')
    LOGGER.info('official Cityscapes scores: class IoU %.1f %%, iIoU %.1f %%, AP %.1f %%, '
                'AP50 %.1f %%', 100 * scores['class_iou'], 100 * scores['class_iiou'],
                100 * scores['instance_ap'], 100 * scores['instance_ap50'])
    return scores


def real_stereo_report(checkpoint: str, device: str, out: Path | None) -> dict:
    """Score the model's depth on the shipped real photos; log a table, write JSON + PNG."""
    predictor = Predictor(checkpoint, device=device)
    results = evaluate_real_stereo(predictor, out_dir=out)
    for name, entry in results.items():
        model, prior = entry['model'], entry['row_prior']
        LOGGER.info('%s: Spearman(inverse depth, disparity) %.3f (row prior %.3f), '
                    'scale-invariant log error %.3f (row prior %.3f)', name, model['spearman'],
                    prior['spearman'], model['silog'], prior['silog'])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / 'real_stereo.json').write_text(json.dumps(results, indent=2) + '\n')
    return results
