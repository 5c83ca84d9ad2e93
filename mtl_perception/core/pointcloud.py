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
Packed point clouds of instances, laid out as a ``sensor_msgs/PointCloud2`` would carry them.

A cloud is a 1-D NumPy structured array. Its bytes (``cloud.tobytes()``), the field list from
:func:`pointcloud_fields` and ``point_step = cloud.dtype.itemsize`` describe a PointCloud2
completely: height 1, width N, ``row_step = N * point_step``, ``is_bigendian = False`` (every
field is stored little-endian, explicitly, whatever the machine), ``is_dense = True`` (only
finite points are kept).

Layout (byte offsets):

=====  ======  =========================  ================================================
 off   type    field                      meaning
=====  ======  =========================  ================================================
  0    float32 x, y, z (0, 4, 8)          metres, camera optical frame (z forward, y down)
 12    float32 rgb                        0x00RRGGBB bits as PCL and RViz read them
 16    uint32  instance                   1..N, as in ``InstanceResult.instance_ids``
 20    float32 depth_uncertainty          optional: present only in the 28-byte layout
 20/24 uint16  label                      semantic class id
=====  ======  =========================  ================================================

``point_step`` is 24 (22 bytes used) or 28 (26 used). The 2 bytes after ``label`` are
padding, listed in no field and always zero; putting the only 2-byte field last keeps every
4-byte field aligned without holes in the middle.

``rgb`` is a float32 whose bits are the packed colour, the PCL convention RViz's "RGB8" colour
transformer expects. Such a float must never go through arithmetic (some patterns are
denormals that a flush-to-zero unit would clear); copy it, view it, or unpack it with
:func:`unpack_rgb`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mtl_perception.core import geometry
import numpy as np

# sensor_msgs/PointField datatype constants.
INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)

_DATATYPE_TO_DTYPE: dict[int, np.dtype] = {
    INT8: np.dtype('<i1'), UINT8: np.dtype('<u1'), INT16: np.dtype('<i2'),
    UINT16: np.dtype('<u2'), INT32: np.dtype('<i4'), UINT32: np.dtype('<u4'),
    FLOAT32: np.dtype('<f4'), FLOAT64: np.dtype('<f8'),
}
_KIND_SIZE_TO_DATATYPE = {(dtype.kind, dtype.itemsize): code
                          for code, dtype in _DATATYPE_TO_DTYPE.items()}

CLOUD_DTYPE = np.dtype({
    'names': ['x', 'y', 'z', 'rgb', 'instance', 'label'],
    'formats': ['<f4', '<f4', '<f4', '<f4', '<u4', '<u2'],
    'offsets': [0, 4, 8, 12, 16, 20],
    'itemsize': 24,
})
"""Instance cloud points without uncertainty (point_step 24)."""

CLOUD_DTYPE_WITH_UNCERTAINTY = np.dtype({
    'names': ['x', 'y', 'z', 'rgb', 'instance', 'depth_uncertainty', 'label'],
    'formats': ['<f4', '<f4', '<f4', '<f4', '<u4', '<f4', '<u2'],
    'offsets': [0, 4, 8, 12, 16, 20, 24],
    'itemsize': 28,
})
"""Instance cloud points with a per-point depth uncertainty in metres (point_step 28)."""


def cloud_dtype(with_uncertainty: bool = False) -> np.dtype:
    """Return the cloud dtype, with or without the ``depth_uncertainty`` field."""
    return CLOUD_DTYPE_WITH_UNCERTAINTY if with_uncertainty else CLOUD_DTYPE


def pointcloud_fields(dtype: np.dtype) -> list[tuple[str, int, int, int]]:
    """
    Return ``(name, offset, datatype, count)`` per field, ordered by offset.

    ``datatype`` is the ``sensor_msgs/PointField`` constant (INT8 = 1 ... FLOAT64 = 8); a
    sub-array field ``('f4', (3,))`` gives count 3. Raises ``ValueError`` for a type
    PointField cannot describe (e.g. int64, bool, nested records) or a big-endian field.
    """
    dtype = np.dtype(dtype)
    if dtype.names is None:
        raise ValueError(f'a point cloud needs a structured dtype, got {dtype}')
    fields = []
    for name in dtype.names:
        field_dtype, offset = dtype.fields[name][:2]
        base, count = field_dtype.base, int(np.prod(field_dtype.shape, dtype=np.int64))
        if base.byteorder == '>' or (base.byteorder == '=' and not _little_endian_host()):
            raise ValueError(f'field {name!r} is big-endian ({base}); clouds are little-endian')
        code = _KIND_SIZE_TO_DATATYPE.get((base.kind, base.itemsize))
        if code is None:
            raise ValueError(f'field {name!r} has type {base}, which PointField cannot '
                             f'describe; use one of int8/16/32, uint8/16/32, float32/64')
        fields.append((str(name), int(offset), code, count))
    return sorted(fields, key=lambda field: field[1])


def dtype_from_fields(fields: Sequence[Any], point_step: int) -> np.dtype:
    """
    Return the little-endian structured dtype a field list and ``point_step`` describe.

    ``fields`` are ``(name, offset, datatype, count)`` tuples or objects with those attributes
    (``sensor_msgs/PointField``). Bytes not covered by a field stay padding, so the dtype's
    itemsize is ``point_step`` and raw message bytes view as it without copying.
    """
    names, formats, offsets = [], [], []
    for field in fields:
        if isinstance(field, tuple | list):
            name, offset, datatype, count = field
        else:
            name, offset, datatype, count = (field.name, field.offset, field.datatype,
                                             field.count)
        if int(datatype) not in _DATATYPE_TO_DTYPE:
            raise ValueError(f'field {name!r} has unknown PointField datatype {datatype}')
        base = _DATATYPE_TO_DTYPE[int(datatype)]
        count = int(count)
        if count < 1:
            raise ValueError(f'field {name!r} has count {count}; it must be at least 1')
        end = int(offset) + base.itemsize * count
        if int(offset) < 0 or end > point_step:
            raise ValueError(f'field {name!r} (offset {offset}, {count} x {base}) does not fit '
                             f'in point_step {point_step}')
        names.append(str(name))
        formats.append(base if count == 1 else (base, (count,)))
        offsets.append(int(offset))
    return np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                     'itemsize': int(point_step)})


def _little_endian_host() -> bool:
    return np.little_endian


def pack_rgb(rgb: np.ndarray) -> np.ndarray:
    """Return float32 values (shape ``rgb.shape[:-1]``) holding ``0x00RRGGBB`` as their bits."""
    rgb = np.asarray(rgb)
    if rgb.shape[-1:] != (3,):
        raise ValueError(f'rgb must have a last axis of 3 (R, G, B), got shape {rgb.shape}')
    if rgb.dtype != np.uint8:
        raise ValueError(f'rgb must be uint8, got {rgb.dtype}')
    channels = rgb.astype(np.uint32)
    packed = (channels[..., 0] << 16) | (channels[..., 1] << 8) | channels[..., 2]
    return packed.astype('<u4').view('<f4')


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """Return (..., 3) uint8 R, G, B from float32 values packed by :func:`pack_rgb`."""
    packed = np.asarray(packed)
    if packed.dtype.kind != 'f' or packed.dtype.itemsize != 4:
        raise ValueError(f'packed colours must be float32 (their bits are the colour), got '
                         f'{packed.dtype}; a cast would change the bits')
    bits = packed.astype('<f4', copy=False).view('<u4')  # same item size: any strides
    return np.stack([(bits >> 16) & 0xFF, (bits >> 8) & 0xFF, bits & 0xFF],
                    axis=-1).astype(np.uint8)


def build_instance_cloud(points: np.ndarray, rgb: np.ndarray | None, semantic: np.ndarray,
                         instance_ids: np.ndarray, stride: int = 1,
                         voxel_size_m: float | None = None, max_range_m: float | None = None,
                         depth_uncertainty: np.ndarray | None = None) -> np.ndarray:
    """
    Return the (N,) packed cloud of instance pixels with finite points.

    ``points`` (H, W, 3) float from :func:`~mtl_perception.core.geometry.backproject`;
    ``rgb`` (H, W, 3) uint8 or None (black); ``semantic`` (H, W) class ids; ``instance_ids``
    (H, W), 0 = none; ``depth_uncertainty`` (H, W) metres or None (then the 24-byte layout).

    Only pixels with ``instance_ids > 0``, finite x, y, z and ``z <= max_range_m`` are kept.
    ``stride`` keeps every stride-th row and column first. ``voxel_size_m`` then keeps one
    point per cube of that size per instance (the first in raster order, so the result is
    deterministic), found by one ``np.unique`` over integer voxel keys. Points stay in raster
    order. Frames without such points give an empty array of the same dtype.
    """
    points = np.asarray(points)
    height, width = np.shape(instance_ids)[:2]
    expected = {'points': (height, width, 3), 'semantic': (height, width)}
    arrays = {'points': points, 'semantic': np.asarray(semantic)}
    if rgb is not None:
        expected['rgb'] = (height, width, 3)
        arrays['rgb'] = np.asarray(rgb)
    if depth_uncertainty is not None:
        expected['depth_uncertainty'] = (height, width)
        arrays['depth_uncertainty'] = np.asarray(depth_uncertainty)
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f'{name} must have shape {shape} to match instance_ids, got '
                             f'{arrays[name].shape}')
    if rgb is not None and arrays['rgb'].dtype != np.uint8:
        raise ValueError(f'rgb must be uint8, got {arrays["rgb"].dtype}')
    if int(stride) < 1:
        raise ValueError(f'stride must be at least 1, got {stride}')
    dtype = cloud_dtype(depth_uncertainty is not None)

    step = (slice(None, None, int(stride)), slice(None, None, int(stride)))
    ids = np.asarray(instance_ids)[step].reshape(-1)
    xyz = points[step].reshape(-1, 3)
    keep = (ids > 0) & np.isfinite(xyz).all(1)
    if max_range_m is not None:
        with np.errstate(invalid='ignore'):
            keep &= xyz[:, 2] <= max_range_m
    index = np.flatnonzero(keep)
    if index.size and voxel_size_m:
        index = _one_per_voxel(xyz[index], ids[index].astype(np.int64), float(voxel_size_m),
                               index)

    if index.size == 0:
        return np.zeros(0, dtype=dtype)
    return _fill(dtype, xyz[index],
                 arrays['rgb'][step].reshape(-1, 3)[index] if rgb is not None else None,
                 ids[index], arrays['semantic'][step].reshape(-1)[index],
                 arrays['depth_uncertainty'][step].reshape(-1)[index]
                 if depth_uncertainty is not None else None)


def _fill(dtype: np.dtype, xyz: np.ndarray, rgb: np.ndarray | None, ids: np.ndarray,
          labels: np.ndarray, depth_uncertainty: np.ndarray | None) -> np.ndarray:
    """Pack the chosen points' fields into a cloud of ``dtype`` (one implementation)."""
    cloud = np.zeros(xyz.shape[0], dtype=dtype)  # zeros: padding bytes are defined
    if xyz.shape[0] == 0:
        return cloud
    chosen = xyz.astype(np.float32, copy=False)
    cloud['x'], cloud['y'], cloud['z'] = chosen[:, 0], chosen[:, 1], chosen[:, 2]
    if rgb is not None:
        cloud['rgb'] = pack_rgb(rgb)
    cloud['instance'] = ids
    cloud['label'] = labels
    if depth_uncertainty is not None:
        cloud['depth_uncertainty'] = depth_uncertainty
    return cloud


def instance_cloud_from_depth(depth_m: np.ndarray, camera_matrix: np.ndarray,
                              rgb: np.ndarray | None, semantic: np.ndarray,
                              instance_ids: np.ndarray, stride: int = 1,
                              voxel_size_m: float | None = None,
                              max_range_m: float | None = None) -> np.ndarray:
    """
    Return the same cloud as :func:`build_instance_cloud` from a depth image and ``K``.

    Chooses the pixels first (every ``stride``-th row and column, ``instance_ids > 0``,
    finite positive depth within ``max_range_m``) and back-projects only those, with ray
    tables cached per camera (:func:`~mtl_perception.core.geometry.pixel_rays`): a cloud keeps
    a few percent of a frame's pixels, so this is several times cheaper than back-projecting
    the whole frame. ``depth_m``, ``semantic``, ``instance_ids`` (H, W), ``rgb`` (H, W, 3)
    uint8 or None.
    """
    depth = np.asarray(depth_m)
    ids_image = np.asarray(instance_ids)
    height, width = ids_image.shape[:2]
    if depth.shape != (height, width) or np.shape(semantic) != (height, width):
        raise ValueError(f'depth_m {depth.shape} and semantic {np.shape(semantic)} must have '
                         f'the shape of instance_ids {ids_image.shape}')
    if rgb is not None and (np.shape(rgb) != (height, width, 3) or rgb.dtype != np.uint8):
        raise ValueError(f'rgb must be uint8 of shape {(height, width, 3)}, got '
                         f'{np.shape(rgb)} {getattr(rgb, "dtype", None)}')
    if int(stride) < 1:
        raise ValueError(f'stride must be at least 1, got {stride}')
    stride = int(stride)
    sub_rows, sub_columns = np.nonzero(ids_image[::stride, ::stride] > 0)
    rows, columns = sub_rows * stride, sub_columns * stride
    z = depth[rows, columns].astype(np.float32, copy=False)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(z) & (z > 0)
        if max_range_m is not None:
            valid &= z <= max_range_m
    rows, columns, z = rows[valid], columns[valid], z[valid]
    xyz = geometry.backproject_pixels(rows, columns, z, camera_matrix, width, height)
    ids = ids_image[rows, columns]
    if ids.size and voxel_size_m:
        keep = _one_per_voxel(xyz, ids.astype(np.int64), float(voxel_size_m),
                              np.arange(ids.size))
        rows, columns, xyz, ids = rows[keep], columns[keep], xyz[keep], ids[keep]
    return _fill(cloud_dtype(False), xyz, rgb[rows, columns] if rgb is not None else None,
                 ids, np.asarray(semantic)[rows, columns], None)


def _one_per_voxel(xyz: np.ndarray, ids: np.ndarray, voxel_size_m: float,
                   index: np.ndarray) -> np.ndarray:
    """Return the entries of ``index`` that are the first point of their (instance, voxel)."""
    if not voxel_size_m > 0:
        raise ValueError(f'voxel_size_m must be positive, got {voxel_size_m}')
    cells = np.floor(xyz / voxel_size_m).astype(np.int64)  # (n, 3)
    cells -= cells.min(0)
    extent = cells.max(0) + 1
    id_extent = int(ids.max()) + 1
    if float(extent[0]) * float(extent[1]) * float(extent[2]) * id_extent < 2.0 ** 62:
        key = ((ids * extent[0] + cells[:, 0]) * extent[1] + cells[:, 1]) * extent[2] \
            + cells[:, 2]
        _, first = np.unique(key, return_index=True)
    else:  # absurd extents (tiny voxels, far points): fall back to row-wise unique
        rows = np.concatenate([ids[:, None], cells], axis=1)
        _, first = np.unique(rows, axis=0, return_index=True)
    return index[np.sort(first)]
