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
``sensor_msgs/CameraInfo`` -> validated :class:`~mtl_perception.core.camera.Intrinsics`, and back.

Reading applies ROI and binning and rejects uncalibrated, malformed and implausible
calibrations; :func:`scaled_camera_info` describes the published image resized. Both map pixel
coordinates with :mod:`mtl_perception.core.camera`, the pipeline's own implementation, so the
CameraInfo published next to an output describes the pixels the output was computed on.
"""

from __future__ import annotations

import array
from typing import Any

from mtl_perception.core.camera import crop_map, Intrinsics, pixel_map
from mtl_perception.ros.conversions._common import checked_dimension, copy_header, require_fields
from mtl_perception.ros.conversions.text import quoted
import numpy as np
from sensor_msgs.msg import CameraInfo, RegionOfInterest

FOCAL_TO_SIZE_RANGE = (0.01, 100.0)
"""Plausible ``fx / width`` and ``fy / height``: fields of view from about 0.6 to 176 degrees.

A focal length outside it is a corrupt or hostile calibration: fx = 5e-324 px publishes a depth
of 0 m everywhere and fx = 1e300 px NaN."""

PRINCIPAL_POINT_RANGE = (-1.0, 2.0)
"""Plausible ``cx / width`` and ``cy / height``: the principal point lies within one image size
of the image (a cropped ROI can move it off the image, not a million pixels away)."""

FOCAL_ASPECT_RANGE = (0.1, 10.0)
"""Plausible ``fx / fy`` (square pixels give 1)."""


class ImplausibleCameraInfo(ValueError):  # noqa: N818 - reads as what it is, like ValueError
    """A CameraInfo that is well formed but cannot describe a real camera of its image size."""


_CAMERA_INFO_FIELDS = ('header', 'height', 'width', 'distortion_model', 'd', 'k', 'r', 'p',
                       'binning_x', 'binning_y', 'roi')


def _matrix(values: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    matrix = np.asarray(values, dtype=np.float64)
    if matrix.size != shape[0] * shape[1]:
        raise ValueError(f'CameraInfo.{name} must have {shape[0] * shape[1]} values, '
                         f'got {matrix.size}')
    return matrix.reshape(shape).copy()


def _published_geometry(msg: CameraInfo, half_pixel_centers: bool
                        ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """
    Return K, P, width and height of the image published, after ROI and binning.

    CameraInfo's K and P describe the full sensor at calibration resolution; ``roi`` (all
    zeros = full image) and ``binning_x/y`` (0 or 1 = none) describe the image actually sent,
    as in image_geometry's PinholeCameraModel.
    """
    require_fields(msg, _CAMERA_INFO_FIELDS, 'sensor_msgs/CameraInfo')
    calibrated_width = checked_dimension(msg.width, 'width', 'CameraInfo')
    calibrated_height = checked_dimension(msg.height, 'height', 'CameraInfo')
    K = _matrix(msg.k, (3, 3), 'k')
    P = _matrix(msg.p, (3, 4), 'p')
    roi = msg.roi
    x_offset, y_offset = int(roi.x_offset), int(roi.y_offset)
    roi_width, roi_height = int(roi.width), int(roi.height)
    if roi_width == 0 or roi_height == 0:  # ROS: a zero ROI means the full image
        x_offset, y_offset = 0, 0
        roi_width, roi_height = calibrated_width, calibrated_height
    if x_offset + roi_width > calibrated_width or y_offset + roi_height > calibrated_height:
        raise ValueError(
            f'CameraInfo.roi (x {x_offset}, y {y_offset}, {roi_width}x{roi_height}) does not '
            f'fit in the {calibrated_width}x{calibrated_height} calibrated image')
    binning_x = max(int(msg.binning_x), 1)
    binning_y = max(int(msg.binning_y), 1)
    width, height = roi_width // binning_x, roi_height // binning_y
    if width == 0 or height == 0:
        raise ValueError(
            f'CameraInfo binning {binning_x}x{binning_y} leaves no pixel of the '
            f'{roi_width}x{roi_height} region')
    if (x_offset, y_offset, binning_x, binning_y) != (0, 0, 1, 1):
        to_published = (pixel_map(1.0 / binning_x, 1.0 / binning_y,
                                  half_pixel_centers=half_pixel_centers)
                        @ crop_map(x_offset, y_offset))
        K = to_published @ K
        P = to_published @ P
    return K, P, width, height


def _check_plausible(K: np.ndarray, width: int, height: int) -> None:
    """Raise :class:`ImplausibleCameraInfo` when K cannot belong to a width x height camera."""
    checks = (
        ('fx / width', K[0, 0] / width, FOCAL_TO_SIZE_RANGE, f'fx = {K[0, 0]:.6g} px'),
        ('fy / height', K[1, 1] / height, FOCAL_TO_SIZE_RANGE, f'fy = {K[1, 1]:.6g} px'),
        ('cx / width', K[0, 2] / width, PRINCIPAL_POINT_RANGE, f'cx = {K[0, 2]:.6g} px'),
        ('cy / height', K[1, 2] / height, PRINCIPAL_POINT_RANGE, f'cy = {K[1, 2]:.6g} px'),
        ('fx / fy', K[0, 0] / K[1, 1], FOCAL_ASPECT_RANGE, f'fx / fy = {K[0, 0] / K[1, 1]:.6g}'),
    )
    for name, ratio, (low, high), value in checks:
        if not low <= ratio <= high:
            raise ImplausibleCameraInfo(
                f'CameraInfo K is implausible for a {width}x{height} image: {value} gives '
                f'{name} = {ratio:.6g}, outside [{low:g}, {high:g}]')


def camera_info_to_intrinsics(msg: CameraInfo, *, half_pixel_centers: bool = True
                              ) -> Intrinsics:
    """
    Return the validated :class:`Intrinsics` of the image described by a ``CameraInfo``.

    Raises ``ValueError`` for an uncalibrated camera (K all zeros, what drivers publish
    without a calibration file), a zero or negative focal length, non-finite values, a
    malformed last row of K, or a zero width or height, and its subclass
    :class:`ImplausibleCameraInfo` for a focal length or principal point that no camera of
    this image size has (``FOCAL_TO_SIZE_RANGE``, ``PRINCIPAL_POINT_RANGE``,
    ``FOCAL_ASPECT_RANGE``). ROI and binning are applied, so the
    result describes the image actually published (``half_pixel_centers`` as in
    :func:`scaled_camera_info`).
    """
    K, P, width, height = _published_geometry(msg, half_pixel_centers)
    frame_id = str(msg.header.frame_id)
    if not np.any(K):
        raise ValueError(
            f'CameraInfo K is all zeros for frame {quoted(frame_id)}: the camera is not '
            'calibrated. '
            'Calibrate it (ros2 run camera_calibration cameracalibrator) or give the driver a '
            'camera_info_url; depth in metres needs the focal length')
    if not np.all(np.isfinite(K)):
        raise ValueError(f'CameraInfo K has non-finite values: {K.ravel().tolist()}')
    if K[0, 0] <= 0.0 or K[1, 1] <= 0.0:
        raise ValueError(
            f'CameraInfo K has a zero or negative focal length: fx = {K[0, 0]} px, '
            f'fy = {K[1, 1]} px; both must be positive')
    if not np.allclose(K[2], (0.0, 0.0, 1.0)) or K[1, 0] != 0.0:
        raise ValueError(
            f'CameraInfo K is not a pinhole matrix: its last row must be [0, 0, 1] and '
            f'K[1, 0] zero, got {K.ravel().tolist()}')
    _check_plausible(K, width, height)
    return Intrinsics(
        K=K,
        width=width,
        height=height,
        distortion_model=str(msg.distortion_model),
        D=np.asarray(msg.d, dtype=np.float64).copy(),
        frame_id=frame_id,
        P=P,
    )


def scaled_camera_info(msg: CameraInfo, width: int, height: int, *,
                       half_pixel_centers: bool = True) -> CameraInfo:
    """
    Return the ``CameraInfo`` of the published image resized to ``width`` x ``height``.

    K and P are mapped from the image actually published (ROI and binning applied, see
    :func:`camera_info_to_intrinsics`) to the output pixels; the result has no ROI and no
    binning, because it describes the output image exactly. D and R are unchanged
    (distortion acts on normalised coordinates). The header is copied, never restamped. An
    uncalibrated CameraInfo (K all zeros) stays all zeros.

    With ``half_pixel_centers`` (default, matching ``cv2.resize``) pixel centres map as
    ``u' = (u + 0.5) * s - 0.5``; ``False`` gives image_proc's ``u' = u * s``, which differs by
    ``(s - 1) / 2`` px in the principal point.
    """
    for value, name in ((width, 'width'), (height, 'height')):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f'{name} must be an int, got {type(value).__name__}')
    checked_dimension(width, 'width', 'output')
    checked_dimension(height, 'height', 'output')
    K, P, source_width, source_height = _published_geometry(msg, half_pixel_centers)
    to_output = pixel_map(width / source_width, height / source_height,
                          half_pixel_centers=half_pixel_centers)
    K = to_output @ K  # all zeros (uncalibrated) stays all zeros: the last row is zero too
    P = to_output @ P
    return CameraInfo(
        header=copy_header(msg.header),
        height=int(height),
        width=int(width),
        distortion_model=str(msg.distortion_model),
        d=array.array('d', np.asarray(msg.d, dtype=np.float64).tobytes()),
        k=K.reshape(9),
        r=_matrix(msg.r, (3, 3), 'r').reshape(9),
        p=P.reshape(12),
        binning_x=0,
        binning_y=0,
        roi=RegionOfInterest(),
    )
