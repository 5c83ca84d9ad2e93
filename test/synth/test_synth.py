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

"""The PyBullet scene generator: camera model, exact depth and labels, determinism, mtl_synth."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

pybullet = pytest.importorskip('pybullet')

from mtl_perception.synth import render_frame, SceneRenderer, SceneSequence  # noqa: E402, I100
from mtl_perception.synth.camera import (  # noqa: E402
    camera_pose,
    depth_from_buffer,
    PinholeCamera,
    project_points,
    projection_matrix,
    view_matrix,
)
from mtl_perception.synth.generate import generate  # noqa: E402
from mtl_perception.synth.writer import (  # noqa: E402
    CITYSCAPES_BASELINE_M,
    encode_depth_mm,
    encode_disparity,
    frame_seed,
)
from mtl_perception.tools import synth as synth_tool  # noqa: E402

SEEDS = range(8)


@pytest.fixture(scope='module')
def renderer():
    with SceneRenderer() as scene_renderer:
        yield scene_renderer


@pytest.fixture(scope='module')
def client():
    client_id = pybullet.connect(pybullet.DIRECT)
    yield client_id
    pybullet.disconnect(client_id)


def _box(client, centre, half_extents):
    visual = pybullet.createVisualShape(pybullet.GEOM_BOX, halfExtents=list(half_extents),
                                        physicsClientId=client)
    return pybullet.createMultiBody(0.0, -1, visual, basePosition=list(centre),
                                    physicsClientId=client)


def _render(client, camera, pose):
    _, _, _, depth_buffer, segmentation = pybullet.getCameraImage(
        camera.width, camera.height, view_matrix(pose), projection_matrix(camera),
        renderer=pybullet.ER_TINY_RENDERER, physicsClientId=client)
    shape = (camera.height, camera.width)
    return (np.reshape(segmentation, shape),
            depth_from_buffer(np.reshape(depth_buffer, shape), camera.near_m, camera.far_m))


# --- camera model ---------------------------------------------------------------------------

def test_intrinsics_from_field_of_view():
    camera = PinholeCamera.from_hfov(320, 240, 60.0)
    assert camera.fx == pytest.approx(160.0 / math.tan(math.radians(30.0)))
    assert camera.fy == camera.fx
    assert (camera.cx, camera.cy) == (159.5, 119.5)
    assert camera.hfov_deg == pytest.approx(60.0)
    assert camera.vfov_deg == pytest.approx(2 * math.degrees(math.atan(120.0 / camera.fy)))


def test_box_face_at_three_metres_has_depth_three(client):
    camera = PinholeCamera.from_hfov(64, 48, 60.0)
    pose = camera_pose((0.0, 0.0, 1.0), yaw_rad=0.0, pitch_down_rad=0.0)
    body = _box(client, (3.5, 0.0, 1.0), (0.5, 10.0, 10.0))  # face at x = 3.0 m
    try:
        segmentation, depth = _render(client, camera, pose)
    finally:
        pybullet.removeBody(body, physicsClientId=client)
    assert (segmentation == body).all()
    np.testing.assert_allclose(depth, 3.0, atol=1e-3)


def test_depth_along_pixel_rays_meets_a_tilted_plane(client):
    """Every pixel's depth is where the ray through it (K, pose) meets the ground plane."""
    camera = PinholeCamera.from_hfov(80, 60, 70.0)
    pose = camera_pose((0.3, -0.2, 1.5), yaw_rad=0.4, pitch_down_rad=math.radians(35.0),
                       roll_rad=math.radians(5.0))
    body = _box(client, (0.0, 0.0, -0.5), (50.0, 50.0, 0.5))  # top face at z = 0
    try:
        segmentation, depth = _render(client, camera, pose)
    finally:
        pybullet.removeBody(body, physicsClientId=client)
    rows, cols = np.nonzero(segmentation == body)
    assert rows.size > 0.5 * segmentation.size
    rays = np.linalg.inv(camera.K) @ np.stack([cols, rows, np.ones_like(cols)]).astype(float)
    world_z = (pose[:3, :3] @ rays)[2]
    expected = -pose[2, 3] / world_z  # rays have z = 1 in the camera frame: t is the depth
    np.testing.assert_allclose(depth[rows, cols], expected, rtol=2e-4)


@pytest.mark.parametrize('fraction', [0.3, 0.7])
def test_principal_point_matches_the_rasteriser(client, fraction):
    """An edge at a known sub-pixel position starts at the next pixel centre, on both axes."""
    camera = PinholeCamera.from_hfov(64, 48, 60.0)
    pose = camera_pose((0.0, 0.0, 0.0), yaw_rad=0.0, pitch_down_rad=0.0)
    depth_m, thin = 3.0, 0.001  # thin boxes: their side faces are far below a pixel wide
    edge_u = 40.0 + fraction  # cover columns u > edge_u
    x_edge = (edge_u - camera.cx) * depth_m / camera.fx  # optical x = -world y
    body = _box(client, (depth_m + thin, -x_edge - 5.0, 0.0), (thin, 5.0, 5.0))
    edge_v = 30.0 + fraction  # cover rows v > edge_v
    y_edge = (edge_v - camera.cy) * depth_m / camera.fy  # optical y = -world z
    try:
        segmentation, _ = _render(client, camera, pose)
        first_column = int(np.argmax(segmentation[10] == body))
    finally:
        pybullet.removeBody(body, physicsClientId=client)
    body = _box(client, (depth_m + thin, 0.0, -y_edge - 5.0), (thin, 5.0, 5.0))
    try:
        segmentation, _ = _render(client, camera, pose)
        first_row = int(np.argmax(segmentation[:, 10] == body))
    finally:
        pybullet.removeBody(body, physicsClientId=client)
    assert first_column == math.ceil(edge_u)
    assert first_row == math.ceil(edge_v)


# --- rendered frames ------------------------------------------------------------------------

def test_frames_have_consistent_exact_labels(renderer):
    visible = []
    for seed in SEEDS:
        frame = renderer.render_frame(seed, 160, 120)
        sky = frame.semantic == 0
        assert np.isnan(frame.depth_m[sky]).all()
        assert np.isfinite(frame.depth_m[~sky]).all() and (frame.depth_m[~sky] > 0).all()
        assert (frame.semantic <= 7).all()
        things = frame.instance_ids >= 1000
        np.testing.assert_array_equal(frame.instance_ids[things] // 1000,
                                      frame.semantic[things])
        np.testing.assert_array_equal(frame.instance_ids[~things], frame.semantic[~things])
        assert np.isin(frame.semantic[things], [3, 4, 5, 6, 7]).all()
        visible.append(sum(info.pixels > 0 for info in frame.instances))
        # Ground pixels: depth is where the ray through the pixel meets z = 0.
        rows, cols = np.nonzero(frame.semantic == 1)
        rays = np.linalg.inv(frame.K) @ np.stack([cols, rows, np.ones_like(cols)]).astype(float)
        expected = -frame.world_from_camera[2, 3] / (frame.world_from_camera[:3, :3] @ rays)[2]
        np.testing.assert_allclose(frame.depth_m[rows, cols], expected, rtol=1e-3)
    assert min(visible) >= 1
    assert np.mean(visible) >= 3


def test_instance_masks_lie_inside_projected_bounding_boxes(renderer):
    checked = 0
    for seed in SEEDS:
        frame = renderer.render_frame(seed, 160, 120)
        for info in frame.instances:
            if info.pixels == 0:
                continue
            low, high = np.array(info.aabb_min), np.array(info.aabb_max)
            corners = np.array([[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1])
                                for z in (low[2], high[2])])
            pixels, depth = project_points(corners, frame.K, frame.world_from_camera)
            if (depth <= frame.camera.near_m).any():
                continue  # a corner behind the camera: the projected box is unbounded
            rows, cols = np.nonzero(frame.instance_ids == info.instance_id)
            assert rows.size == info.pixels
            tolerance = 1.0  # one pixel for rasterisation at the silhouette
            assert cols.min() >= pixels[:, 0].min() - tolerance, info
            assert cols.max() <= pixels[:, 0].max() + tolerance, info
            assert rows.min() >= pixels[:, 1].min() - tolerance, info
            assert rows.max() <= pixels[:, 1].max() + tolerance, info
            checked += 1
    assert checked >= 10


def test_same_seed_gives_identical_arrays(renderer):
    first = render_frame(5, 96, 72, renderer=renderer)
    render_frame(6, 96, 72, renderer=renderer)  # another scene in between
    second = render_frame(5, 96, 72, renderer=renderer)
    np.testing.assert_array_equal(first.rgb, second.rgb)
    np.testing.assert_array_equal(first.semantic, second.semantic)
    np.testing.assert_array_equal(first.instance_ids, second.instance_ids)
    np.testing.assert_array_equal(first.depth_m, second.depth_m)  # NaN == NaN here
    np.testing.assert_array_equal(first.K, second.K)
    other = render_frame(6, 96, 72, renderer=renderer)
    assert not np.array_equal(first.rgb, other.rgb)


def test_sequence_keeps_the_scene_and_moves_the_camera_smoothly(renderer):
    sequence = SceneSequence(3, 96, 72, renderer=renderer)
    poses = [sequence.pose(t) for t in np.arange(0.0, 20.0, 0.1)]
    steps = [np.linalg.norm(b[:3, 3] - a[:3, 3]) for a, b in zip(poses, poses[1:])]
    assert max(steps) < 0.05  # metres per 0.1 s
    base = np.asarray(sequence.scene.camera_position)
    assert max(np.linalg.norm(pose[:3, 3] - base) for pose in poses) <= sequence.sway_m + 1e-9
    first, later = sequence.render(0.0), sequence.render(2.0)
    assert first.rgb.shape == (72, 96, 3)
    assert not np.array_equal(first.rgb, later.rgb)
    np.testing.assert_array_equal(sequence.render(0.0).instance_ids, first.instance_ids)
    assert {i.instance_id for i in first.instances} == {i.instance_id for i in later.instances}


# --- encodings ------------------------------------------------------------------------------

def test_disparity_and_depth_encodings():
    fx = 200.0
    depth = np.array([[np.nan, 0.1, 2.0, 50.0]], dtype=np.float32)
    disparity = encode_disparity(depth, fx)
    assert disparity[0, 0] == 1  # sky: d = 0
    assert disparity[0, 1] == 0  # nearer than the format holds: invalid, not clipped
    decoded = CITYSCAPES_BASELINE_M * fx / ((disparity[0, 2:].astype(float) - 1) / 256)
    np.testing.assert_allclose(decoded, [2.0, 50.0], rtol=2e-3)
    np.testing.assert_array_equal(encode_depth_mm(depth), [[0, 100, 2000, 50000]])


def test_frame_seeds_depend_on_split_and_index():
    seeds = {frame_seed(0, split, index) for split in ('train', 'val') for index in range(50)}
    assert len(seeds) == 100
    assert frame_seed(0, 'train', 3) == frame_seed(0, 'train', 3)


# --- mtl_synth ------------------------------------------------------------------------------

def _tree(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob('*'))
            if path.is_file() and path.name != 'manifest.json'}


def test_mtl_synth_workers_resume_and_manifest(tmp_path):
    args = ['--frames', '3', '--width', '64', '--height', '48', '--seed', '7', '--scenes', '2',
            '--no-progress', '--quiet']
    assert synth_tool.main(['--out', str(tmp_path / 'one'), '--workers', '1'] + args) == 0
    assert synth_tool.main(['--out', str(tmp_path / 'two'), '--workers', '2'] + args) == 0
    one, two = _tree(tmp_path / 'one'), _tree(tmp_path / 'two')
    assert len(one) == 3 * 6
    assert one == two
    assert 'leftImg8bit/train/scene001/scene001_000001_leftImg8bit.png' in one
    manifest = json.loads((tmp_path / 'one' / 'manifest.json').read_text())
    assert manifest['class_set']['names'][0] == 'sky'
    assert manifest['class_set']['thing_ids'] == [3, 4, 5, 6, 7]
    assert manifest['splits']['train']['complete'] == 3
    assert manifest['counts'] == {'train': 3}

    # Resume: a removed file makes its frame render again; complete frames are skipped.
    (tmp_path / 'one' / 'depth/train/scene000/scene000_000002_depth.png').unlink()
    job, _ = synth_tool.parse_job(['--out', str(tmp_path / 'one')] + args)
    summary = generate(job, workers=1, progress=False)
    assert (summary['rendered'], summary['skipped']) == (1, 2)
    assert _tree(tmp_path / 'one') == two

    # Other parameters for the same split are refused, not mixed in.
    assert synth_tool.main(['--out', str(tmp_path / 'one'), '--frames', '3', '--width', '32',
                            '--height', '48', '--seed', '7', '--scenes', '2', '--quiet',
                            '--no-progress']) == 1


def test_a_worker_that_cannot_start_stops_the_command_with_its_reason(tmp_path):
    # Workers that fail at start-up (here: PyBullet missing in them) must end the command with
    # an error; multiprocessing.Pool would start replacement workers forever.
    fake = tmp_path / 'fake'
    fake.mkdir()
    (fake / 'pybullet.py').write_text("raise ImportError('no PyBullet in this test')\n")
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(
        [str(fake)] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p])}
    result = subprocess.run(
        [sys.executable, '-m', 'mtl_perception.tools.synth', '--out', str(tmp_path / 'out'),
         '--frames', '3', '--width', '32', '--height', '24', '--workers', '2', '--no-progress'],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    assert 'worker process stopped' in result.stderr
    assert 'needs PyBullet' in result.stderr
    assert 'Traceback' not in result.stderr.split('worker process stopped')[-1]


@pytest.mark.parametrize('argv, message', [
    (['--width', '0'], '--width must be in 1..'),
    (['--frames', '0'], '--frames must be >= 1'),
    (['--workers', '0'], '--workers must be >= 1'),
    (['--split', '../x'], '--split must be a plain name'),
])
def test_mtl_synth_rejects_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        synth_tool.main(['--out', str(tmp_path)] + argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_mtl_synth_rejects_a_file_as_output(tmp_path, capsys):
    target = tmp_path / 'file.txt'
    target.write_text('not a folder')
    with pytest.raises(SystemExit):
        synth_tool.main(['--out', str(target)])
    assert 'is not a folder' in capsys.readouterr().err
