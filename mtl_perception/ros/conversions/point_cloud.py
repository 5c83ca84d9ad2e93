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
``sensor_msgs/PointCloud2`` <-> NumPy structured arrays, and the PointField tables behind both.

The one home of the PointField datatype table: the dtype of a field list (offsets, padding and
``point_step`` kept, so a message's bytes view as it without copying) and the field list of a
dtype. Mixed field types survive and bad layouts raise a helpful ``ValueError``, never
``assert``; no Python loop runs over points. Pattern: ros2/common_interfaces
``sensor_msgs_py/point_cloud2.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtl_perception.ros.conversions._common import (
    bytes_of,
    header_or_default,
    NATIVE_BIG_ENDIAN,
    new_message,
    require_fields,
    uint8_buffer,
)
from mtl_perception.ros.conversions.text import quoted
import numpy as np
from sensor_msgs.msg import PointCloud2, PointField

_POINTFIELD_DTYPES: dict[int, np.dtype] = {
    PointField.INT8: np.dtype('i1'),
    PointField.UINT8: np.dtype('u1'),
    PointField.INT16: np.dtype('i2'),
    PointField.UINT16: np.dtype('u2'),
    PointField.INT32: np.dtype('i4'),
    PointField.UINT32: np.dtype('u4'),
    PointField.FLOAT32: np.dtype('f4'),
    PointField.FLOAT64: np.dtype('f8'),
}
_DATATYPE_BY_KIND_SIZE = {(dtype.kind, dtype.itemsize): datatype
                          for datatype, dtype in _POINTFIELD_DTYPES.items()}
_POINTFIELD_NAMES = {PointField.INT8: 'INT8', PointField.UINT8: 'UINT8',
                     PointField.INT16: 'INT16', PointField.UINT16: 'UINT16',
                     PointField.INT32: 'INT32', PointField.UINT32: 'UINT32',
                     PointField.FLOAT32: 'FLOAT32', PointField.FLOAT64: 'FLOAT64'}


def pointfields_from_dtype(dtype: np.dtype) -> list[PointField]:
    """
    Return the ``PointField`` list describing a structured dtype (offsets kept).

    A sub-array field such as ``('normal', 'f4', (3,))`` becomes one field with count 3.
    """
    dtype = np.dtype(dtype)
    if dtype.names is None:
        raise ValueError(
            f'a point cloud needs a structured dtype such as '
            f"[('x', 'f4'), ('y', 'f4'), ('z', 'f4')], got {dtype}")
    fields = []
    for name in dtype.names:
        field_dtype, offset = dtype.fields[name][:2]
        count = 1
        if field_dtype.subdtype is not None:
            field_dtype, shape = field_dtype.subdtype
            count = int(np.prod(shape))
        datatype = _DATATYPE_BY_KIND_SIZE.get((field_dtype.kind, field_dtype.itemsize))
        if datatype is None or field_dtype.names is not None:
            raise ValueError(
                f'point field {quoted(name)} has dtype {field_dtype}, which PointField cannot '
                'describe; use int8/16/32, uint8/16/32, float32 or float64')
        if count < 1:
            raise ValueError(f'point field {quoted(name)} has no elements')
        fields.append(PointField(name=name, offset=int(offset), datatype=datatype, count=count))
    return fields


def _field_tuple(point_field: Any) -> tuple[str, int, int, int]:
    if isinstance(point_field, (tuple, list)):
        if len(point_field) not in (3, 4):
            raise ValueError(
                f'a field tuple is (name, offset, datatype[, count]), got {quoted(point_field)}')
        name, offset, datatype = point_field[:3]
        count = point_field[3] if len(point_field) == 4 else 1
    else:
        require_fields(point_field, ('name', 'offset', 'datatype', 'count'),
                       'sensor_msgs/PointField')
        name, offset = point_field.name, point_field.offset
        datatype, count = point_field.datatype, point_field.count
    return str(name), int(offset), int(datatype), int(count)


def dtype_from_pointfields(fields: Sequence[Any], point_step: int | None = None,
                           *, big_endian: bool = False) -> np.dtype:
    """
    Return the structured dtype of points laid out as ``fields`` describe.

    ``fields`` holds ``PointField`` messages or ``(name, offset, datatype, count)`` tuples.
    The dtype's itemsize is ``point_step`` (default: the end of the last field), so padding
    between points is kept; a field with count > 1 becomes a sub-array. Fields without a name
    are called ``unnamed_<index>``.
    """
    names, formats, offsets = [], [], []
    end = 0
    for index, point_field in enumerate(fields):
        name, offset, datatype, count = _field_tuple(point_field)
        base = _POINTFIELD_DTYPES.get(datatype)
        if base is None:
            raise ValueError(
                f'point field {quoted(name)} has datatype {datatype}, not one of the '
                'PointField types '
                f'{", ".join(f"{v}={k}" for k, v in _POINTFIELD_NAMES.items())}')
        if count < 1:
            raise ValueError(
                f'point field {quoted(name)} has count {count}; it must be at least 1')
        if offset < 0:
            raise ValueError(f'point field {quoted(name)} has a negative offset {offset}')
        name = name or f'unnamed_{index}'
        if name in names:
            raise ValueError(f'point field {quoted(name)} appears twice')
        base = base.newbyteorder('>' if big_endian else '<')
        names.append(name)
        formats.append(base if count == 1 else np.dtype((base, (count,))))
        offsets.append(offset)
        end = max(end, offset + base.itemsize * count)
    if point_step is None:
        point_step = end
    elif end > point_step:
        raise ValueError(
            f'point fields end at byte {end} but point_step is {point_step}: the fields '
            'do not fit in one point')
    return np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                     'itemsize': int(point_step)})


def _native(dtype: np.dtype) -> np.dtype:
    """Return a structured dtype with every field in native byte order (same layout)."""
    if all(dtype.fields[name][0].base.isnative for name in dtype.names):
        return dtype
    formats = []
    for name in dtype.names:
        field_dtype = dtype.fields[name][0]
        if field_dtype.subdtype is not None:
            base, shape = field_dtype.subdtype
            formats.append(np.dtype((base.newbyteorder('='), shape)))
        else:
            formats.append(field_dtype.newbyteorder('='))
    return np.dtype({'names': list(dtype.names), 'formats': formats,
                     'offsets': [dtype.fields[name][1] for name in dtype.names],
                     'itemsize': dtype.itemsize})


def _is_dense(points: np.ndarray) -> bool:
    names = [name for name in ('x', 'y', 'z') if name in points.dtype.names]
    if not names:
        names = list(points.dtype.names)
    return all(bool(np.isfinite(points[name]).all()) for name in names
               if points.dtype.fields[name][0].base.kind == 'f')


def structured_to_pointcloud2(points: np.ndarray, header: Any | None = None,
                              fields: Sequence[Any] | None = None, *,
                              is_dense: bool | None = None) -> PointCloud2:
    """
    Return a ``sensor_msgs/PointCloud2`` holding a structured array of points.

    A 1-D array of N points gives height 1, width N; a 2-D (H, W) array an organised cloud.
    Without ``fields`` they are derived from the dtype, keeping its offsets and itemsize
    (``point_step``), so padding survives. With ``fields`` (``PointField`` messages or
    ``(name, offset, datatype, count)`` tuples) the points are repacked into that layout;
    every field must exist in ``points`` and cast safely (same kind). ``is_dense`` defaults to
    "x, y and z are all finite" (all float fields when there is no x, y, z). The header is
    copied, never restamped; data is in this machine's byte order.
    """
    if not isinstance(points, np.ndarray):
        raise TypeError(f'points must be a structured numpy.ndarray, got {type(points).__name__}')
    if points.dtype.names is None:
        raise ValueError(
            f'points must have a structured dtype such as '
            f"[('x', 'f4'), ('y', 'f4'), ('z', 'f4')], got {points.dtype}; see "
            'numpy.lib.recfunctions.unstructured_to_structured')
    if points.ndim not in (1, 2):
        raise ValueError(f'points must be 1-D (N,) or organised 2-D (H, W), got shape '
                         f'{points.shape}')
    if fields is None:
        dtype = _native(points.dtype)
        point_fields = pointfields_from_dtype(dtype)
        packed = points if dtype == points.dtype else points.astype(dtype)
    else:
        dtype = dtype_from_pointfields(fields, big_endian=NATIVE_BIG_ENDIAN)
        point_fields = pointfields_from_dtype(dtype)
        packed = np.zeros(points.shape, dtype=dtype)
        for name in dtype.names:
            if name not in points.dtype.names:
                raise ValueError(f'field {quoted(name)} is not in the points dtype '
                                 f'(fields: {", ".join(points.dtype.names)})')
            source, target = points.dtype.fields[name][0], dtype.fields[name][0]
            if source.shape != target.shape or not np.can_cast(source.base, target.base,
                                                               'same_kind'):
                raise ValueError(
                    f'field {quoted(name)} of dtype {source} cannot be stored safely as {target}')
            packed[name] = points[name]
    height, width = packed.shape if packed.ndim == 2 else (1, packed.shape[0])
    if is_dense is None:
        is_dense = _is_dense(packed)
    return new_message(
        PointCloud2,
        header=header_or_default(header),
        height=int(height),
        width=int(width),
        fields=point_fields,
        is_bigendian=NATIVE_BIG_ENDIAN,
        point_step=int(dtype.itemsize),
        row_step=int(dtype.itemsize * width),
        data=bytes_of(packed),
        is_dense=bool(is_dense),
    )


def pointcloud2_to_structured(msg: PointCloud2, *, organized: bool = False,
                              copy: bool = False) -> np.ndarray:
    """
    Return the points of a ``sensor_msgs/PointCloud2`` as a structured array.

    The dtype has one field per ``PointField`` at its offset (count > 1 gives a sub-array
    field) and itemsize ``point_step``, so any cloud whose fields use the standard datatypes
    reads without copying, padding included; big-endian clouds are byte-swapped (a copy).
    The shape is (height * width,), or (height, width) with ``organized``. Rows padded beyond
    ``width * point_step`` (``row_step``) are skipped. Without ``copy`` the result may be a
    view of ``msg.data``.
    """
    require_fields(msg, ('height', 'width', 'fields', 'is_bigendian', 'point_step',
                         'row_step', 'data'), 'sensor_msgs/PointCloud2')
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    shape = (height, width) if organized else (height * width,)
    if height * width == 0:
        if not msg.fields:
            return np.zeros(shape, dtype=np.dtype([]))
        return np.zeros(shape, dtype=_native(dtype_from_pointfields(msg.fields,
                                                                    point_step or None)))
    if not msg.fields:
        raise ValueError(f'PointCloud2 has {height * width} points but no fields')
    if point_step <= 0:
        raise ValueError(f'PointCloud2.point_step is {point_step}; it must be positive')
    dtype = dtype_from_pointfields(msg.fields, point_step, big_endian=bool(msg.is_bigendian))
    row_bytes = width * point_step
    if row_step < row_bytes:
        raise ValueError(
            f'PointCloud2.row_step is {row_step} bytes but {width} points of {point_step} '
            f'bytes need {row_bytes}')
    expected = height * row_step
    buffer = uint8_buffer(msg.data, 'PointCloud2.data')
    if buffer.size < expected:
        raise ValueError(
            f'PointCloud2.data is too short: expected height * row_step = {height} * '
            f'{row_step} = {expected} bytes, got {buffer.size} bytes')
    rows = buffer[:expected].reshape(height, row_step)[:, :row_bytes]  # (H, W * point_step)
    points = rows.view(dtype).reshape(shape)  # a view unless rows are padded
    native = _native(dtype)
    if native != dtype:
        return points.astype(native)
    return np.array(points, order='C') if copy else points
