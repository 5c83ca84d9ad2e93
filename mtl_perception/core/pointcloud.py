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

A cloud is a 1-D NumPy structured array. Its bytes (``cloud.tobytes()``), its dtype's fields
and ``point_step = cloud.dtype.itemsize`` describe a PointCloud2 completely: height 1, width N,
``row_step = N * point_step``, ``is_bigendian = False`` (every field is stored little-endian,
explicitly, whatever the machine), ``is_dense = True`` (only finite points are kept). The
PointField list is derived from the dtype on the ROS side, where the one copy of the PointField
tables lives (``mtl_perception.ros.conversions.structured_to_pointcloud2``); this module stays
ROS-free.

Layout (byte offsets):

=====  ======  =========================  ================================================
 off   type    field                      meaning
=====  ======  =========================  ================================================
  0    float32 x, y, z (0, 4, 8)          metres, camera optical frame (z forward, y down)
 12    float32 rgb                        0x00RRGGBB bits as PCL and RViz read them
 16    uint32  instance                   1..N, as in ``InstanceResult.instance_ids``
 20    uint16  label                      semantic class id
=====  ======  =========================  ================================================

``point_step`` is 24 (22 bytes used). The 2 bytes after ``label`` are padding, listed in no
field and always zero; putting the only 2-byte field last keeps every 4-byte field aligned
without holes in the middle.

``rgb`` is a float32 whose bits are the packed colour, the PCL convention RViz's "RGB8" colour
transformer expects. Such a float must never go through arithmetic (some patterns are
denormals that a flush-to-zero unit would clear); copy it, view it, or unpack it with
:func:`unpack_rgb`.
"""

from __future__ import annotations

from mtl_perception.core import geometry
import numpy as np

CLOUD_DTYPE = np.dtype({
    'names': ['x', 'y', 'z', 'rgb', 'instance', 'label'],
    'formats': ['<f4', '<f4', '<f4', '<f4', '<u4', '<u2'],
    'offsets': [0, 4, 8, 12, 16, 20],
    'itemsize': 24,
})
"""Instance cloud points (point_step 24), as documented above."""


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
                         voxel_size_m: float | None = None, max_range_m: float | None = None
                         ) -> np.ndarray:
    """
    Return the (N,) packed cloud of instance pixels with finite points.

    ``points`` (H, W, 3) float from :func:`~mtl_perception.core.geometry.backproject`;
    ``rgb`` (H, W, 3) uint8 or None (black); ``semantic`` (H, W) class ids; ``instance_ids``
    (H, W), 0 = none.

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
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            raise ValueError(f'{name} must have shape {shape} to match instance_ids, got '
                             f'{arrays[name].shape}')
    if rgb is not None and arrays['rgb'].dtype != np.uint8:
        raise ValueError(f'rgb must be uint8, got {arrays["rgb"].dtype}')
    if int(stride) < 1:
        raise ValueError(f'stride must be at least 1, got {stride}')

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
        return np.zeros(0, dtype=CLOUD_DTYPE)
    return _fill(xyz[index],
                 arrays['rgb'][step].reshape(-1, 3)[index] if rgb is not None else None,
                 ids[index], arrays['semantic'][step].reshape(-1)[index])


def _fill(xyz: np.ndarray, rgb: np.ndarray | None, ids: np.ndarray,
          labels: np.ndarray) -> np.ndarray:
    """Pack the chosen points' fields into a cloud of ``CLOUD_DTYPE`` (one implementation)."""
    cloud = np.zeros(xyz.shape[0], dtype=CLOUD_DTYPE)  # zeros: padding bytes are defined
    if xyz.shape[0] == 0:
        return cloud
    chosen = xyz.astype(np.float32, copy=False)
    cloud['x'], cloud['y'], cloud['z'] = chosen[:, 0], chosen[:, 1], chosen[:, 2]
    if rgb is not None:
        cloud['rgb'] = pack_rgb(rgb)
    cloud['instance'] = ids
    cloud['label'] = labels
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
    return _fill(xyz, rgb[rows, columns] if rgb is not None else None,
                 ids, np.asarray(semantic)[rows, columns])


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
