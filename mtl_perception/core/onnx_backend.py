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
The Predictor backends that run an exported ONNX file (onnxruntime, TensorRT), and its metadata.

Everything a checkpoint holds except the weights (model config, class names, palette and
thing ids, preprocessing, task sigmas, metrics, provenance) is stored as JSON under
:data:`METADATA_KEY` in the model's ``metadata_props`` (written by
:func:`~mtl_perception.core.onnx_export.export_onnx`), so ``Predictor('model.onnx')`` and the
node's ``model_path`` run an ONNX file exactly like a checkpoint (:func:`load_onnx_metadata`).

Backends: ``onnxruntime`` (CPU, or CUDA through onnxruntime-gpu's CUDA provider when the
device is CUDA and the provider exists); ``tensorrt`` builds an engine from the ONNX file with
the ``tensorrt`` Python package (PyPI wheels on x86-64, JetPack's on a Jetson), fp16 when the
predictor's precision is fp16, caches it next to the ONNX file and runs it on torch CUDA
tensors. Without the package, or without CUDA, it stops with a message that says so. onnx,
onnxruntime and tensorrt are optional extras, imported only where a function needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
import logging
import os
from pathlib import Path
from typing import Any

from mtl_perception.core.checkpoint import (
    Checkpoint,
    CheckpointError,
    FORMAT,
    Preprocessing,
)
from mtl_perception.core.classes import ClassSet
from mtl_perception.core.config import ModelConfig, TASK_OUTPUTS
import numpy as np
import torch

LOGGER = logging.getLogger(__name__)

METADATA_KEY = 'mtl_perception.checkpoint'
"""``metadata_props`` key of the JSON that describes the network (a checkpoint minus weights)."""

INPUT_NAME = 'image'
"""Name of the network input, (1, 3, H, W) float32 normalised as the checkpoint says."""


def load_onnx_metadata(path: str | os.PathLike) -> Checkpoint:
    """
    Return the checkpoint description stored in an exported ONNX file (no weights).

    Every failure is a :class:`~mtl_perception.core.checkpoint.CheckpointError` that names the
    file: missing, not ONNX, or not written by ``mtl_export``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'ONNX model {path} does not exist; write one with mtl_export '
                              'MODEL.pt --out MODEL.onnx')
    try:
        import onnx
    except ImportError:
        raise CheckpointError(f'{path}: running ONNX files needs the onnx and onnxruntime '
                              "packages (pip install 'mtl_perception[onnx]')") from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf raises several unrelated types
        raise CheckpointError(f'{path} is not a readable ONNX file ({type(error).__name__}: '
                              f'{str(error)[:200]})') from None
    props = {entry.key: entry.value for entry in model.metadata_props}
    if METADATA_KEY not in props:
        raise CheckpointError(f'{path} has no {METADATA_KEY} metadata: it was not written by '
                              'mtl_export, so its classes and preprocessing are unknown')
    try:
        payload = json.loads(props[METADATA_KEY])
        if payload.get('format') != FORMAT:
            raise ValueError(f'format {payload.get("format")!r}, expected {FORMAT!r}')
        checkpoint = Checkpoint(
            model_config=ModelConfig.from_dict(payload['model_config']),
            class_set=ClassSet.from_dict(payload['class_set']),
            preprocessing=Preprocessing.from_dict(payload['preprocessing']),
            state_dict={},
            log_variances={k: float(v) for k, v in payload.get('log_variances', {}).items()},
            metrics=payload.get('metrics', {}), extra=payload.get('extra', {}))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f'{path}: its {METADATA_KEY} metadata is incomplete or '
                              f'inconsistent: {error}') from None
    checkpoint.extra['path'] = str(path)
    checkpoint.extra['onnx_inputs'] = [
        [dim.dim_value if dim.HasField('dim_value') else None
         for dim in item.type.tensor_type.shape.dim] for item in model.graph.input]
    return checkpoint


def _fixed_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """Return the ONNX file's fixed input (W, H), or None for a dynamic size."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if all(dim.HasField('dim_value') for dim in dims[2:4]):
        return int(dims[3].dim_value), int(dims[2].dim_value)
    return None


def _check_size(path: str | os.PathLike, input_size: tuple[int, int]) -> None:
    fixed = _fixed_size(path)
    if fixed is not None and tuple(fixed) != tuple(input_size):
        raise ValueError(f'{path} was exported for a {fixed[0]}x{fixed[1]} input, not '
                         f'{input_size[0]}x{input_size[1]}; export it again with that size '
                         '(mtl_export --width/--height) or with --dynamic')


class OnnxRuntimeBackend:
    """Runs an exported ONNX file with onnxruntime (CPU, or its CUDA provider on CUDA)."""

    name = 'onnxruntime'

    def __init__(self, path: str | os.PathLike, device: torch.device,
                 input_size: tuple[int, int], num_threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ValueError('backend onnxruntime needs the onnxruntime package (pip install '
                             "'mtl_perception[onnx]')") from None
        _check_size(path, input_size)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(num_threads or torch.get_num_threads())
        options.inter_op_num_threads = 1
        # Spinning worker threads would compete with the post-processing that follows each
        # forward on the same cores (measured: clustering took twice as long beside them).
        options.add_session_config_entry('session.intra_op.allow_spinning', '0')
        providers = ['CPUExecutionProvider']
        if device.type == 'cuda':
            if 'CUDAExecutionProvider' not in onnxruntime.get_available_providers():
                raise ValueError('device cuda with backend onnxruntime needs onnxruntime-gpu '
                                 '(its CUDAExecutionProvider); use backend tensorrt or torch, '
                                 'or device cpu')
            providers = [('CUDAExecutionProvider', {'device_id': device.index or 0})]
        self.device = device
        self.session: Any = onnxruntime.InferenceSession(str(path), sess_options=options,
                                                         providers=providers)
        self.outputs = {item.name for item in self.session.get_outputs()}

    def run(self, tensor: torch.Tensor, tasks: Sequence[str]) -> dict[str, torch.Tensor]:
        if self.session is None:
            raise RuntimeError('the model was released; create a new Predictor')
        names = [TASK_OUTPUTS[task] for task in tasks]
        missing = [name for name in names if name not in self.outputs]
        if missing:
            raise ValueError(f'the ONNX file has no outputs {missing}')
        feed = {INPUT_NAME: np.ascontiguousarray(tensor.detach().float().cpu().numpy())}
        # onnxruntime prunes the graph to what the asked outputs need.
        values = self.session.run(names, feed)
        return {name: torch.from_numpy(value).to(self.device)
                for name, value in zip(names, values)}

    def release(self) -> None:
        self.session = None


def engine_path(onnx_path: str | os.PathLike, input_size: tuple[int, int], precision: str,
                tensorrt_version: str) -> Path:
    """Return where the TensorRT engine for this ONNX file, size and precision is cached."""
    onnx_path = Path(onnx_path)
    stat = onnx_path.stat()
    tag = f'{input_size[0]}x{input_size[1]}.{precision}.trt{tensorrt_version}.' \
          f'{stat.st_size}-{int(stat.st_mtime)}'
    return onnx_path.with_name(f'{onnx_path.stem}.{tag}.engine')


class TensorRTBackend:
    """
    Builds (once, then cached) and runs a TensorRT engine made from the ONNX file.

    Unmeasured in this project's CI (no GPU there); the code path follows TensorRT 10's
    Python API (``execute_async_v3`` with tensor addresses on torch's current stream).
    """

    name = 'tensorrt'

    def __init__(self, path: str | os.PathLike, device: torch.device, precision: str,
                 input_size: tuple[int, int]) -> None:
        try:
            import tensorrt as trt
        except ImportError:
            raise ValueError('backend tensorrt needs the tensorrt Python package (pip install '
                             'tensorrt on x86-64 with CUDA; JetPack provides it on a Jetson); '
                             'use backend onnxruntime or torch instead') from None
        if device.type != 'cuda':
            raise ValueError('backend tensorrt needs a CUDA device; use device cuda (or auto '
                             'on a machine with a GPU)')
        _check_size(path, input_size)
        self.device = device
        self.trt = trt
        self.input_size = tuple(input_size)
        logger = trt.Logger(trt.Logger.WARNING)
        cache = engine_path(path, self.input_size, precision, trt.__version__)
        runtime = trt.Runtime(logger)
        if cache.exists():
            engine = runtime.deserialize_cuda_engine(cache.read_bytes())
        else:
            LOGGER.info('building a TensorRT %s engine for %s (once; cached as %s)', precision,
                        path, cache.name)
            serialized = self._build(trt, logger, path, precision)
            cache.write_bytes(serialized)
            engine = runtime.deserialize_cuda_engine(serialized)
        if engine is None:
            raise ValueError(f'TensorRT could not load the engine {cache}; delete it to rebuild')
        self.engine = engine
        self.context = engine.create_execution_context()
        width, height = self.input_size
        self.context.set_input_shape(INPUT_NAME, (1, 3, height, width))
        self.output_names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)
                             if engine.get_tensor_mode(engine.get_tensor_name(i))
                             == trt.TensorIOMode.OUTPUT]

    def _build(self, trt: Any, logger: Any, path: str | os.PathLike, precision: str) -> bytes:
        builder = trt.Builder(logger)
        network = builder.create_network(0)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse(Path(path).read_bytes()):
            errors = '; '.join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise ValueError(f'TensorRT cannot parse {path}: {errors}')
        config = builder.create_builder_config()
        if precision == 'fp16':
            config.set_flag(trt.BuilderFlag.FP16)
        width, height = self.input_size
        profile = builder.create_optimization_profile()
        shape = (1, 3, height, width)
        profile.set_shape(INPUT_NAME, shape, shape, shape)
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise ValueError(f'TensorRT failed to build an engine from {path}')
        return bytes(serialized)

    def run(self, tensor: torch.Tensor, tasks: Sequence[str]) -> dict[str, torch.Tensor]:
        if self.context is None:
            raise RuntimeError('the model was released; create a new Predictor')
        image = tensor.float().contiguous()
        self.context.set_tensor_address(INPUT_NAME, image.data_ptr())
        outputs = {}
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=torch.float32, device=self.device)
            self.context.set_tensor_address(name, outputs[name].data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError('TensorRT execution failed')
        return {TASK_OUTPUTS[task]: outputs[TASK_OUTPUTS[task]] for task in tasks}

    def release(self) -> None:
        self.context = None
        self.engine = None


def make_onnx_backend(backend: str, path: str | os.PathLike, device: torch.device,
                      precision: str, input_size: tuple[int, int],
                      num_threads: int | None = None) -> OnnxRuntimeBackend | TensorRTBackend:
    """Return the backend named ``backend`` for an exported ONNX file."""
    if backend == 'onnxruntime':
        if precision == 'fp16':
            LOGGER.warning('backend onnxruntime runs the exported fp32 network; fp16 is the '
                           'tensorrt backend')
        return OnnxRuntimeBackend(path, device, input_size, num_threads)
    if backend == 'tensorrt':
        return TensorRTBackend(path, device, precision, input_size)
    raise ValueError(f'unknown ONNX backend {backend!r}; choose onnxruntime or tensorrt')
