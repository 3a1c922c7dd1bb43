"""hotspot_core.image.geometry on hand-made depth: normals of known planes, hotspot regions in 3-D."""

from __future__ import annotations

import numpy as np
import pytest

from hotspot_core.image.boxes import Roi
from hotspot_core.image.geometry import deproject, region_points, surface_normal, valid_intrinsics

H, W = 60, 80
K = np.array([[100.0, 0.0, 40.0], [0.0, 100.0, 30.0], [0.0, 0.0, 1.0]])


def plane_depth(normal, distance: float) -> np.ndarray:
    """Depth image (metres) of the plane {p : n . p = distance} seen through K (n need not be unit)."""
    n = np.asarray(normal, np.float64)
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(cols - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(cols)], -1)
    return (distance / (rays @ n)).astype(np.float32)


def unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def test_fronto_parallel_plane_faces_the_camera():
    got = surface_normal(np.full((H, W), 0.8, np.float32), 40.5, 30.5, K)
    assert got.valid and got.points == 121
    assert got.normal == pytest.approx((0.0, 0.0, -1.0), abs=1e-6)
    assert got.residual_m == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("n", [(0.3, 0.0, -1.0), (0.0, -0.5, -1.0), (0.4, 0.2, -1.0)])
def test_tilted_plane_has_its_known_normal(n):
    depth = plane_depth(n, -1.0)  # n . p = -1: in front of the camera, n points back toward it
    for u, v in ((40.5, 30.5), (20.5, 12.5), (65.5, 50.5)):
        got = surface_normal(depth, u, v, K)
        assert got.valid
        assert np.asarray(got.normal) == pytest.approx(unit(n), abs=2e-4)  # float32 depth
        p = deproject(u, v, float(depth[int(v), int(u)]), K)
        assert np.dot(got.normal, p) < 0, "the normal must point toward the camera"


def test_orientation_does_not_depend_on_the_sign_of_the_plane_equation():
    a = surface_normal(plane_depth((0.3, 0.0, -1.0), -1.0), 40.5, 30.5, K)
    b = surface_normal(plane_depth((-0.3, 0.0, 1.0), 1.0), 40.5, 30.5, K)  # the same plane
    assert a.normal == pytest.approx(b.normal)


def test_missing_depth_gives_no_normal():
    nan = np.full((H, W), np.nan, np.float32)
    assert not surface_normal(nan, 40.5, 30.5, K).valid
    assert surface_normal(nan, 40.5, 30.5, K).normal == (0.0, 0.0, 0.0)
    zero = np.zeros((H, W), np.float32)  # 16UC1 cameras send 0 for "no reading"
    assert not surface_normal(zero, 40.5, 30.5, K).valid
    sparse = np.full((H, W), np.nan, np.float32)
    sparse[30, 35:46] = 0.8  # one row of readings: under half the window, and on a line
    got = surface_normal(sparse, 40.5, 30.5, K)
    assert not got.valid and got.points == 11
    assert not surface_normal(np.full((H, W), 0.8, np.float32), 500.0, 30.5, K).valid  # outside the image


def test_noisy_depth_is_flagged_by_its_residual():
    rng = np.random.default_rng(0)
    depth = np.full((H, W), 0.8, np.float32) + rng.normal(0, 0.03, (H, W)).astype(np.float32)
    got = surface_normal(depth, 40.5, 30.5, K, max_residual_m=0.01)
    assert not got.valid and got.residual_m > 0.01 and got.points == 121
    assert surface_normal(depth, 40.5, 30.5, K, max_residual_m=1.0).valid


def test_a_step_between_two_surfaces_is_not_a_plane():
    depth = np.full((H, W), 0.8, np.float32)
    depth[:, 41:] = 1.2  # the peak sits on an object's edge
    assert not surface_normal(depth, 40.5, 30.5, K).valid


def test_region_points_back_project_the_thresholded_map():
    depth = np.full((H, W), 0.5, np.float32)
    roi = Roi(20, 10, 60, 50)  # 40 x 40 pixels
    m = np.zeros((8, 8), np.float32)
    m[:, 4:] = 1.0  # the right half of the crop
    pts = region_points(m, roi, depth, K, threshold=0.5, max_points=100_000)
    assert pts.dtype == np.float32 and pts.shape[1] == 4
    assert np.all(pts[:, 2] == 0.5) and np.all(pts[:, 3] >= 0.5)
    cols = pts[:, 0] / 0.5 * K[0, 0] + K[0, 2]  # back to pixel columns
    rows = pts[:, 1] / 0.5 * K[1, 1] + K[1, 2]
    assert cols.min() >= 38.5 and cols.max() <= 59 + 1e-3  # right half (bilinear edge around x = 40)
    assert rows.min() == pytest.approx(10) and rows.max() == pytest.approx(49)
    assert 20 * 40 <= len(pts) <= 22 * 40

    few = region_points(m, roi, depth, K, threshold=0.5, max_points=50)
    assert len(few) == 50 and {tuple(p) for p in few} <= {tuple(p) for p in pts}
    assert few[:, 1].min() < few[:, 1].max(), "the subsample must spread over the region"

    depth[:, :50] = np.nan  # readings only right of column 50
    right = region_points(m, roi, depth, K, threshold=0.5, max_points=100_000)
    assert len(right) == 10 * 40 and np.all(right[:, 0] / 0.5 * K[0, 0] + K[0, 2] >= 50 - 1e-3)
    assert len(region_points(np.zeros((8, 8), np.float32), roi, depth, K, 0.5, 100)) == 0  # empty map


def test_region_points_of_a_roi_leaving_the_depth_image():
    depth = np.full((H, W), 1.0, np.float32)
    pts = region_points(np.ones((4, 4), np.float32), Roi(70, 50, 90, 70), depth, K, 0.5, 10_000)
    assert len(pts) == 10 * 10  # only the part inside the 80 x 60 depth image


def test_valid_intrinsics():
    assert valid_intrinsics(K) and valid_intrinsics(K.ravel().tolist())
    assert not valid_intrinsics(None) and not valid_intrinsics(np.zeros((3, 3)))
    zero_fx = K.copy()
    zero_fx[0, 0] = 0.0
    assert not valid_intrinsics(zero_fx)
    nan_c = K.copy()
    nan_c[0, 2] = np.nan
    assert not valid_intrinsics(nan_c) and not valid_intrinsics(np.ones(4))
