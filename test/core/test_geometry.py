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

"""Canonical inverse depth and back-projection (docs/conventions.md); K scaling: test_camera."""

from __future__ import annotations

import cv2
from mtl_perception.core import camera, geometry
import numpy as np
import pytest

K_640 = np.array([[500.0, 0.0, 319.5], [0.0, 510.0, 241.0], [0.0, 0.0, 1.0]])


def plane_depth(camera_matrix: np.ndarray, width: int, height: int, normal: np.ndarray,
                distance_m: float) -> np.ndarray:
    """z-depth of the plane ``normal . p = distance_m`` seen through K (pixel centres at ints)."""
    K = camera_matrix
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    rays = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], -1)
    return (distance_m / (rays @ normal)).astype(np.float32)


def test_canonical_inverse_depth_formula_and_round_trip():
    # f_norm = 500 / 640; inverse = (1 / 10 m) * f_norm / f_canon.
    inverse = geometry.depth_m_to_canonical_inverse_depth(np.float32(10.0), 500.0, 640)
    assert float(inverse) == pytest.approx(0.1 * 500 / 640)
    depth_m = np.array([[0.5, 2.0, 37.0], [1e3, 3.25, 80.0]], dtype=np.float32)
    for f_canon in (1.0, 0.7):
        inverse = geometry.depth_m_to_canonical_inverse_depth(depth_m, 500.0, 640, f_canon)
        back = geometry.canonical_inverse_depth_to_depth_m(inverse, 500.0, 640, f_canon,
                                                           min_inverse_depth=1e-4)
        np.testing.assert_allclose(back, depth_m, rtol=1e-6)


def test_resizing_the_image_keeps_metric_depth():
    inverse = np.full((4, 4), 0.3, dtype=np.float32)
    full = geometry.canonical_inverse_depth_to_depth_m(inverse, 500.0, 640)
    half = geometry.canonical_inverse_depth_to_depth_m(inverse, 250.0, 320)
    np.testing.assert_allclose(full, half)
    wider_lens = geometry.canonical_inverse_depth_to_depth_m(inverse, 250.0, 640)
    # The same picture through a lens of half the focal length shows a nearer scene.
    np.testing.assert_allclose(wider_lens, 0.5 * full)


def test_sky_and_invalid_inverse_depth_give_nan_and_no_point():
    inverse = np.array([[0.0, -0.1, np.nan, np.inf, 1e-4, 0.5]], dtype=np.float32)
    depth_m = geometry.canonical_inverse_depth_to_depth_m(inverse, 500.0, 640)
    assert np.isnan(depth_m[0, :5]).all() and np.isfinite(depth_m[0, 5])
    points = geometry.backproject(depth_m, geometry.default_camera_matrix(6, 1))
    assert np.isnan(points[0, :5]).all() and np.isfinite(points[0, 5]).all()
    sky = geometry.depth_m_to_canonical_inverse_depth(np.array([np.inf, np.nan, 0.0]), 500, 640)
    assert sky[0] == 0.0 and np.isnan(sky[1:]).all()


def test_max_range_drops_far_depth():
    inverse = np.array([[1.0, 0.01]], dtype=np.float32)
    depth_m = geometry.canonical_inverse_depth_to_depth_m(inverse, 640.0, 640, max_range_m=20)
    assert depth_m[0, 0] == pytest.approx(1.0) and np.isnan(depth_m[0, 1])
    points = geometry.backproject(np.array([[5.0, 25.0]], np.float32),
                                  geometry.default_camera_matrix(2, 1), max_range_m=20.0)
    assert np.isfinite(points[0, 0]).all() and np.isnan(points[0, 1]).all()


def test_fronto_parallel_plane_backprojects_onto_the_plane():
    depth_m = np.full((480, 640), 3.5, dtype=np.float32)
    points = geometry.backproject(depth_m, K_640)
    assert points.shape == (480, 640, 3) and points.dtype == np.float32
    np.testing.assert_allclose(points[..., 2], 3.5)
    # Optical frame: x grows to the right, y downwards; the principal point is on the axis.
    assert points[0, 0, 0] < 0 < points[0, -1, 0]
    assert points[0, 0, 1] < 0 < points[-1, 0, 1]
    np.testing.assert_allclose(points[241, 100], [(100 - 319.5) * 3.5 / 500, 0.0, 3.5],
                               atol=1e-5)


def test_tilted_plane_backprojects_onto_the_plane():
    normal = np.array([0.1, -0.6, 0.79])
    normal /= np.linalg.norm(normal)
    depth_m = plane_depth(K_640, 640, 480, normal, 2.0)
    points = geometry.backproject(depth_m, K_640)
    np.testing.assert_allclose(points.reshape(-1, 3) @ normal, 2.0, rtol=1e-5)


def test_resized_input_with_scaled_intrinsics_gives_the_same_points():
    normal = np.array([0.0, -0.5, 0.87])
    normal /= np.linalg.norm(normal)
    full_depth = plane_depth(K_640, 640, 480, normal, 2.0)
    # Inverse depth of a plane is affine in the pixel coordinates, so a bilinear 2x
    # down-sample of it is exact: the half-size image sees the same plane.
    half_inverse = cv2.resize(1.0 / full_depth, (320, 240), interpolation=cv2.INTER_LINEAR)
    K_half = camera.scale_intrinsics(K_640, 0.5, 0.5)
    half_points = geometry.backproject(1.0 / half_inverse, K_half)
    np.testing.assert_allclose(half_points.reshape(-1, 3) @ normal, 2.0, rtol=1e-4)
    # Each half-size pixel (u', v') looks along the full-size ray through (2u' + 0.5, 2v' + 0.5).
    projected = half_points.reshape(-1, 3) @ K_640.T
    pixel = projected[:, :2] / projected[:, 2:]
    v, u = np.mgrid[0:240, 0:320]
    np.testing.assert_allclose(pixel[:, 0], 2 * u.ravel() + 0.5, atol=2e-3)
    np.testing.assert_allclose(pixel[:, 1], 2 * v.ravel() + 0.5, atol=2e-3)
    # And the same 3-D point as the full-size image between its four pixels.
    full_points = geometry.backproject(full_depth, K_640)
    block = full_points.reshape(240, 2, 320, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(half_points, block, atol=2e-3)


def test_skewed_camera_projects_back_to_its_pixels():
    K = K_640.copy()
    K[0, 1] = 3.0
    points = geometry.backproject(np.full((48, 64), 2.0, np.float32), K)
    projected = points.reshape(-1, 3) @ K.T
    v, u = np.mgrid[0:48, 0:64]
    np.testing.assert_allclose(projected[:, 0] / projected[:, 2], u.ravel(), atol=1e-3)
    np.testing.assert_allclose(projected[:, 1] / projected[:, 2], v.ravel(), atol=1e-3)


def test_bad_camera_matrices_are_rejected():
    with pytest.raises(ValueError, match='positive focal'):
        geometry.backproject(np.ones((2, 2), np.float32), np.zeros((3, 3)))
    with pytest.raises(ValueError, match='must be positive'):
        geometry.canonical_inverse_depth_to_depth_m(np.ones(2), 0.0, 640)
