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
RMSE in metres) and PNG mosaics (input | semantic | instances | depth) of a few frames.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import sys
from typing import Any

from mtl_perception.core.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mtl_perception.core.instance_metrics import PanopticQualityAccumulator
from mtl_perception.core.metrics import MultiTaskMetrics
from mtl_perception.core.pipeline import (
    add_pipeline_arguments,
    cluster_network_instances,
    pipeline_config_from_args,
    PipelineConfig,
)
from mtl_perception.core.predictor import Predictor, resolve_device
from mtl_perception.core.real_stereo import evaluate_real_stereo
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
    """(3, H, W) normalised tensor -> (H, W, 3) uint8 RGB."""
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
    from mtl_perception.core.data import build_dataset
    from mtl_perception.tools.train import make_loader, move_batch

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
    for batch in make_loader(dataset, batches, workers):
        batch = move_batch(batch, torch_device)
        outputs = model(batch['image'])
        metrics.update(outputs, batch)
        tasks = checkpoint.model_config.tasks
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
    rows = [('semantic mIoU (%)', 'semantic_miou', 100.0),
            ('instance mean error (px)', 'instance_mean_error_px', 1.0),
            ('instance PQ things (%)', 'instance_pq', 100.0),
            ('inverse depth mean error (1/m)', 'inverse_depth_mean_error', 1.0),
            ('depth abs rel', 'depth_abs_rel', 1.0),
            ('depth RMSE (m)', 'depth_rmse_m', 1.0)]
    lines = ['| metric | value |', '|---|---|']
    for title, key, scale in rows:
        if key in metrics:
            lines.append(f'| {title} | {metrics[key] * scale:.4g} |')
    per_class = metrics.get('semantic_iou_per_class')
    if per_class:
        lines += ['', '| class | IoU (%) |', '|---|---|']
        lines += [f'| {name} | {per_class.get(name, float("nan")) * 100:.1f} |'
                  for name in class_names]
    return '\n'.join(lines) + '\n'


def official_cityscapes_scores(args: argparse.Namespace) -> dict[str, Any]:
    """Write Cityscapes-format results and score them with cityscapesScripts."""
    from mtl_perception.tools.cityscapes_results import (
        score_cityscapes_results,
        write_cityscapes_results,
        write_scores,
    )

    write_cityscapes_results(args.checkpoint, args.data_root, args.split,
                             args.cityscapes_results, device=str(resolve_device(args.device)),
                             max_frames=args.max_frames,
                             pipeline_config=pipeline_config_from_args(args))
    scores = score_cityscapes_results(args.data_root, args.split, args.cityscapes_results)
    write_scores(scores, args.cityscapes_results / 'cityscapes_scores.json')
    LOGGER.info('official Cityscapes scores: class IoU %.1f %%, iIoU %.1f %%, AP %.1f %%, '
                'AP50 %.1f %%', 100 * scores['class_iou'], 100 * scores['class_iiou'],
                100 * scores['instance_ap'], 100 * scores['instance_ap50'])
    return scores


def main(argv: list[str] | None = None) -> int:
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
                official = official_cityscapes_scores(args)
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


if __name__ == '__main__':
    sys.exit(main())
