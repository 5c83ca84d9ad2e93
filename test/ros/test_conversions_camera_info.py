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

"""CameraInfo -> Intrinsics (validation, ROI, binning) and scaled CameraInfo."""

import numpy as np
import pytest

pytest.importorskip('rclpy')
pytest.importorskip('sensor_msgs.msg')

from conversion_messages import make_header  # noqa: E402, I100
from mtl_perception.ros.conversions import (  # noqa: E402
    camera_info_to_intrinsics,
    scaled_camera_info,
)
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from sensor_msgs.msg import CameraInfo, RegionOfInterest  # noqa: E402


def make_camera_info(fx=500.0, fy=510.0, cx=319.5, cy=239.5, width=640, height=480,
                     baseline_tx=-25.0):
    return CameraInfo(
        header=make_header(), width=width, height=height, distortion_model='plumb_bob',
        d=[0.1, -0.2, 0.001, 0.002, 0.0],
        k=[fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[fx, 0.0, cx, baseline_tx, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0])


def project(matrix, point_xyz):
    homogeneous = matrix[:, :3] @ point_xyz + (matrix[:, 3] if matrix.shape[1] == 4 else 0)
    return homogeneous[:2] / homogeneous[2]


def test_intrinsics_are_read_and_validated():
    intrinsics = camera_info_to_intrinsics(make_camera_info())
    np.testing.assert_array_equal(intrinsics.K, [[500, 0, 319.5], [0, 510, 239.5], [0, 0, 1]])
    assert intrinsics.K.dtype == np.float64
    assert (intrinsics.width, intrinsics.height) == (640, 480)
    assert intrinsics.distortion_model == 'plumb_bob'
    np.testing.assert_array_equal(intrinsics.D, [0.1, -0.2, 0.001, 0.002, 0.0])
    assert intrinsics.frame_id == 'camera_optical_frame'
    assert intrinsics.P.shape == (3, 4) and intrinsics.P[0, 3] == -25.0
    assert intrinsics.f_norm == pytest.approx(500.0 / 640.0)
    assert (intrinsics.fx_px, intrinsics.fy_px, intrinsics.cx_px, intrinsics.cy_px) == (
        500.0, 510.0, 319.5, 239.5)


def test_uncalibrated_camera_is_explained():
    info = make_camera_info()
    info.k = np.zeros(9)
    with pytest.raises(ValueError, match='all zeros.*not calibrated'):
        camera_info_to_intrinsics(info)


@pytest.mark.parametrize('fx, fy', [(0.0, 500.0), (500.0, -1.0)])
def test_non_positive_focal_length_is_rejected(fx, fy):
    with pytest.raises(ValueError, match='focal length'):
        camera_info_to_intrinsics(make_camera_info(fx=fx, fy=fy))


@pytest.mark.parametrize('width, height, name', [(0, 480, 'width'), (640, 0, 'height')])
def test_zero_camera_size_is_rejected(width, height, name):
    with pytest.raises(ValueError, match=f'CameraInfo.{name} is 0'):
        camera_info_to_intrinsics(make_camera_info(width=width, height=height))


def test_malformed_k_is_rejected():
    info = make_camera_info()
    info.k[8] = 0.0
    with pytest.raises(ValueError, match='last row'):
        camera_info_to_intrinsics(info)


def test_binning_and_roi_describe_the_published_image():
    info = make_camera_info()
    info.roi = RegionOfInterest(x_offset=100, y_offset=40, width=400, height=300)
    info.binning_x = info.binning_y = 2
    intrinsics = camera_info_to_intrinsics(info)
    assert (intrinsics.width, intrinsics.height) == (200, 150)
    assert intrinsics.fx_px == 250.0 and intrinsics.fy_px == 255.0
    # Pixel centres: binned pixel i covers raw pixels 2i and 2i + 1, centred at 2i + 0.5.
    assert intrinsics.cx_px == pytest.approx((319.5 - 100 - 0.5) / 2)
    assert intrinsics.cy_px == pytest.approx((239.5 - 40 - 0.5) / 2)
    with pytest.raises(ValueError, match='does not fit'):
        info.roi.x_offset = 300
        camera_info_to_intrinsics(info)


def test_scaled_camera_info_halves_k_and_p_with_pixel_centres():
    info = make_camera_info()
    scaled = scaled_camera_info(info, 320, 240)
    assert (scaled.width, scaled.height) == (320, 240)
    K = scaled.k.reshape(3, 3)
    P = scaled.p.reshape(3, 4)
    np.testing.assert_allclose(K, [[250, 0, 159.5], [0, 255, 119.5], [0, 0, 1]])
    np.testing.assert_allclose(P, [[250, 0, 159.5, -12.5], [0, 255, 119.5, 0], [0, 0, 1, 0]])
    assert list(scaled.d) == list(info.d) and scaled.distortion_model == 'plumb_bob'
    np.testing.assert_array_equal(scaled.r, info.r)
    assert scaled.header is not info.header
    assert (scaled.header.stamp.sec, scaled.header.frame_id) == (12, 'camera_optical_frame')


def test_scaled_camera_info_projects_like_cv2_resize():
    info = make_camera_info()
    scaled = scaled_camera_info(info, 512, 288)  # non-uniform scale
    point_xyz = np.array([0.3, -0.2, 2.0])
    u, v = project(info.k.reshape(3, 3), point_xyz)
    expected = [(u + 0.5) * 512 / 640 - 0.5, (v + 0.5) * 288 / 480 - 0.5]
    np.testing.assert_allclose(project(scaled.k.reshape(3, 3), point_xyz), expected)
    np.testing.assert_allclose(project(scaled.p.reshape(3, 4), point_xyz),
                               [(project(info.p.reshape(3, 4), point_xyz)[0] + 0.5) * 0.8
                                - 0.5, expected[1]])


def test_scaled_camera_info_can_follow_image_proc():
    scaled = scaled_camera_info(make_camera_info(), 320, 240, half_pixel_centers=False)
    assert scaled.k[2] == pytest.approx(319.5 / 2)


def test_scaled_camera_info_flattens_roi_and_binning():
    info = make_camera_info()
    info.roi = RegionOfInterest(x_offset=0, y_offset=0, width=640, height=480)
    info.binning_x = info.binning_y = 2
    scaled = scaled_camera_info(info, 320, 240)  # the published image is already 320x240
    assert (scaled.binning_x, scaled.binning_y, scaled.roi.width) == (0, 0, 0)
    np.testing.assert_allclose(scaled.k.reshape(3, 3)[:2, :2], [[250, 0], [0, 255]])


def test_scaled_uncalibrated_camera_stays_uncalibrated():
    info = make_camera_info()
    info.k = np.zeros(9)
    info.p = np.zeros(12)
    scaled = scaled_camera_info(info, 320, 240)
    assert not scaled.k.any() and not scaled.p.any()


def test_scaled_camera_info_is_serializable_and_rejects_bad_sizes():
    scaled = scaled_camera_info(make_camera_info(), 320, 240)
    restored = deserialize_message(serialize_message(scaled), CameraInfo)
    np.testing.assert_array_equal(restored.k, scaled.k)
    with pytest.raises(ValueError, match='width is 0'):
        scaled_camera_info(make_camera_info(), 0, 240)
    with pytest.raises(TypeError, match='height must be an int'):
        scaled_camera_info(make_camera_info(), 320, 240.0)
