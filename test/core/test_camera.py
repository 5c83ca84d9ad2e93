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
Intrinsics and pixel-centre maps: one convention for the pipeline and the CameraInfo it publishes.

The pipeline rescales K with :func:`~mtl_perception.core.camera.resize_intrinsics` when it
resizes its outputs; the node publishes ``scaled_camera_info`` next to those outputs. Both must
describe the same pixels, so the last test here runs both on one frame.
"""

from __future__ import annotations

from mtl_perception.core import camera, geometry
import numpy as np
import pytest

K_640 = np.array([[500.0, 0.0, 319.5], [0.0, 510.0, 241.0], [0.0, 0.0, 1.0]])


def test_default_camera_matrix_and_scaling_follow_pixel_centres():
    K = geometry.default_camera_matrix(640, 480)
    np.testing.assert_allclose(K, [[640, 0, 319.5], [0, 640, 239.5], [0, 0, 1]])
    half = camera.scale_intrinsics(K, 0.5, 0.5)
    # The image centre stays the image centre: (W' - 1) / 2 at the new size.
    np.testing.assert_allclose(half, geometry.default_camera_matrix(320, 240))
    np.testing.assert_allclose(camera.resize_intrinsics(K_640, (640, 480), (320, 240)),
                               camera.scale_intrinsics(K_640, 0.5, 0.5))
    scaled = camera.scale_intrinsics(K_640, 0.5, 0.25)
    assert scaled[0, 0] == 250.0 and scaled[1, 1] == 127.5
    assert scaled[0, 2] == pytest.approx((319.5 + 0.5) * 0.5 - 0.5)
    assert scaled[1, 2] == pytest.approx((241.0 + 0.5) * 0.25 - 0.5)
    np.testing.assert_allclose(camera.scale_intrinsics(scaled, 2.0, 4.0), K_640)


def test_pixel_map_moves_pixel_centres_and_edges():
    half = camera.pixel_map(0.5, 0.25)
    # Edges stay edges: -0.5 -> -0.5 and W - 0.5 -> W s - 0.5.
    np.testing.assert_allclose(half @ [-0.5, -0.5, 1.0], [-0.5, -0.5, 1.0])
    np.testing.assert_allclose(half @ [639.5, 479.5, 1.0], [319.5, 119.5, 1.0])
    # image_proc's convention keeps the origin instead and differs by (s - 1) / 2 px.
    corner = camera.pixel_map(0.5, 0.25, half_pixel_centers=False)
    np.testing.assert_allclose(corner @ [0.0, 0.0, 1.0], [0.0, 0.0, 1.0])
    np.testing.assert_allclose((half - corner)[:2, 2], [(0.5 - 1) / 2, (0.25 - 1) / 2])
    np.testing.assert_allclose(camera.crop_map(100, 40) @ [100.0, 40.0, 1.0], [0, 0, 1])


def test_scaled_pixel_points_follow_the_pixel_map():
    points = np.array([[0.0, 0.0], [10.25, 3.5], [-0.5, -0.5]], np.float32)
    moved = camera.scale_pixel_points(points, 2.5, 0.5)
    mapped = camera.pixel_map(2.5, 0.5) @ np.vstack([points.T, np.ones(len(points))])
    assert moved.dtype == np.float32
    np.testing.assert_allclose(moved, mapped[:2].T, atol=1e-6)
    np.testing.assert_allclose(moved[2], [-0.5, -0.5])  # the image corner stays the corner


def test_skew_scales_with_the_width():
    K = K_640.copy()
    K[0, 1] = 3.0
    assert camera.scale_intrinsics(K, 0.5, 0.25)[0, 1] == pytest.approx(1.5)


def test_scale_intrinsics_rejects_bad_input():
    with pytest.raises(ValueError, match='3x3'):
        camera.scale_intrinsics(np.eye(4), 0.5, 0.5)
    with pytest.raises(ValueError, match='positive'):
        camera.scale_intrinsics(K_640, 0.0, 0.5)


def test_intrinsics_name_their_parts():
    intrinsics = camera.Intrinsics(K=K_640, width=640, height=480, distortion_model='plumb_bob',
                                   D=np.zeros(5), frame_id='camera_optical_frame')
    assert (intrinsics.fx_px, intrinsics.fy_px, intrinsics.cx_px, intrinsics.cy_px) == (
        500.0, 510.0, 319.5, 241.0)
    assert intrinsics.f_norm == pytest.approx(500.0 / 640.0)
    assert intrinsics.P.shape == (3, 4) and not intrinsics.P.any()


@pytest.mark.ros
@pytest.mark.parametrize('binning, roi', [(1, None), (2, (100, 40, 400, 300))])
def test_pipeline_and_published_camera_info_agree_on_one_frame(binning, roi):
    conversions = pytest.importorskip('mtl_perception.ros.conversions')
    sensor_msgs = pytest.importorskip('sensor_msgs.msg')
    info = sensor_msgs.CameraInfo(width=640, height=480, distortion_model='plumb_bob',
                                  d=[0.0] * 5, k=K_640.reshape(9).tolist(),
                                  r=np.eye(3).reshape(9).tolist(),
                                  p=np.hstack([K_640, np.zeros((3, 1))]).reshape(12).tolist(),
                                  binning_x=binning, binning_y=binning)
    if roi is not None:
        info.roi = sensor_msgs.RegionOfInterest(x_offset=roi[0], y_offset=roi[1],
                                                width=roi[2], height=roi[3])
    # The node reads the camera's K, the pipeline rescales it to the output size ...
    intrinsics = conversions.camera_info_to_intrinsics(info)
    assert isinstance(intrinsics, camera.Intrinsics)
    output_size = (256, 160)
    K_pipeline = camera.resize_intrinsics(intrinsics.K, (intrinsics.width, intrinsics.height),
                                          output_size)
    # ... and publishes the CameraInfo of the outputs: the same K, and the same P.
    published = conversions.scaled_camera_info(info, *output_size)
    np.testing.assert_allclose(np.asarray(published.k).reshape(3, 3), K_pipeline)
    np.testing.assert_allclose(np.asarray(published.p).reshape(3, 4)[:, :3], K_pipeline)
    # Half-pixel centres, as cv2.resize and area binning: a point seen at (u, v) by the sensor
    # is at ((u - x_offset + 0.5) * s - 0.5, ...) in the output, s = output size / region size.
    x_offset, y_offset, region_w, region_h = roi or (0, 0, 640, 480)
    point_xyz = np.array([0.3, -0.2, 2.0])
    sensor = K_640 @ point_xyz
    output = K_pipeline @ point_xyz
    np.testing.assert_allclose(output[:2] / output[2], [
        (sensor[0] / sensor[2] - x_offset + 0.5) * output_size[0] / region_w - 0.5,
        (sensor[1] / sensor[2] - y_offset + 0.5) * output_size[1] / region_h - 0.5])
