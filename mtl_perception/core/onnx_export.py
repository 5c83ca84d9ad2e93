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
Export a checkpoint's network as an ONNX file, and check the file against the checkpoint.

:func:`export_onnx` writes the network of a checkpoint in eval mode with the TorchScript
exporter (opset 17 by default), which folds every BatchNorm into its convolution; the file
then holds ``Conv`` / ``Relu`` / ``Resize`` ... and no ``BatchNormalization`` (checked and
reported). The input ``image`` is (1, 3, H, W) float32, normalised as the checkpoint says; the
outputs are the heads' outputs under their ``config.TASK_OUTPUTS`` names, at the input
resolution, in the checkpoint's units. The input size is fixed (the checkpoint's, or one
given) unless ``dynamic`` is asked. The checkpoint minus its weights goes into the file's
metadata, which :func:`~mtl_perception.core.onnx_backend.load_onnx_metadata` reads back.
:func:`compare_with_checkpoint` runs both through the
:class:`~mtl_perception.core.predictor.Predictor` and reports the gaps (``mtl_export`` prints
them). onnx is imported only when a file is written.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import logging
import os
from pathlib import Path
from typing import Any
import warnings

import cv2
from mtl_perception.core.checkpoint import Checkpoint, load_checkpoint
from mtl_perception.core.config import TASK_OUTPUTS
from mtl_perception.core.onnx_backend import INPUT_NAME, METADATA_KEY
from mtl_perception.core.predictor import Predictor
import numpy as np
import torch

LOGGER = logging.getLogger(__name__)

DEFAULT_OPSET = 17


class _Heads(torch.nn.Module):
    """The network with a tuple output in task order (what ONNX export needs)."""

    def __init__(self, model: torch.nn.Module, tasks: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.tasks = tuple(tasks)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(image, tasks=self.tasks)
        return tuple(outputs[TASK_OUTPUTS[task]] for task in self.tasks)


def _metadata(checkpoint: Checkpoint) -> str:
    payload = checkpoint.to_dict()
    payload.pop('state_dict')
    return json.dumps(payload, default=lambda value: value if isinstance(value, (int, float))
                      else str(value))


def export_onnx(checkpoint: str | os.PathLike | Checkpoint, out: str | os.PathLike,
                input_size: tuple[int, int] | None = None, dynamic: bool = False,
                opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """
    Write the checkpoint's network to ``out`` as ONNX; return a summary of what was written.

    ``input_size`` (W, H) defaults to the checkpoint's preprocessing size; ``dynamic`` makes
    height and width free (the file then runs at any multiple of 8). ``opset`` must be >= 17.
    """
    import onnx

    if int(opset) < 17:
        raise ValueError(f'opset {opset} is too old; use 17 or newer')
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    prep = checkpoint.preprocessing
    width, height = input_size or (prep.input_width, prep.input_height)
    if width % 8 or height % 8 or min(width, height) < 32:
        raise ValueError(f'input size {width}x{height} must be multiples of 8, >= 32')
    tasks = checkpoint.model_config.tasks
    module = _Heads(checkpoint.build_model().eval().float(), tasks)
    names = [TASK_OUTPUTS[task] for task in tasks]
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {INPUT_NAME: {2: 'height', 3: 'width'},
                        **{name: {2: 'height', 3: 'width'} for name in names}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, height, width)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter('ignore')  # tracer warnings about shape-dependent Python code
        # The TorchScript exporter: eval-mode BatchNorm is folded into the convolutions.
        torch.onnx.export(module, (example,), str(out), opset_version=int(opset),
                          input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True, dynamo=False)
    model = onnx.load(str(out))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, _metadata(checkpoint)
    model.producer_name = 'mtl_perception'
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
    operators = [node.op_type for node in model.graph.node]
    batch_norms = operators.count('BatchNormalization')
    if batch_norms:
        LOGGER.warning('%d BatchNormalization nodes were not folded into convolutions',
                       batch_norms)
    return {'path': str(out), 'opset': int(opset), 'input_size': None if dynamic
            else (width, height), 'outputs': names, 'nodes': len(operators),
            'batch_norm_nodes': batch_norms, 'bytes': out.stat().st_size}


def compare_with_checkpoint(checkpoint: str | os.PathLike | Checkpoint,
                            onnx_path: str | os.PathLike,
                            input_size: tuple[int, int] | None = None, seed: int = 0
                            ) -> dict[str, float]:
    """
    Run the checkpoint (torch) and the ONNX file (onnxruntime) on one image; return the gaps.

    Keys: ``max_abs_<output>`` per head (network outputs, same units) and
    ``equal_labels`` (share of pixels with the same argmax class). The image is smooth noise
    at the input size, normalised as the checkpoint says.
    """
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load_checkpoint(checkpoint)
    reference = Predictor(checkpoint, device='cpu', input_size=input_size)
    exported = Predictor(onnx_path, device='cpu', input_size=reference.input_size)
    width, height = reference.input_size
    noise = np.random.default_rng(seed).integers(0, 255, (height // 4, width // 4, 3),
                                                 dtype=np.uint8)
    image = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    tensor = reference.preprocess(image)
    expected = reference.forward(tensor)
    found = exported.forward(tensor.contiguous())
    gaps = {f'max_abs_{name}': float((expected[name] - found[name]).abs().max())
            for name in expected}
    if TASK_OUTPUTS['semantic'] in expected:
        name = TASK_OUTPUTS['semantic']
        gaps['equal_labels'] = float((expected[name].argmax(1) == found[name].argmax(1))
                                     .float().mean())
    return gaps
