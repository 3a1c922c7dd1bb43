"""Pinhole geometry for 3-D hotspots from an aligned depth image (no ROS).

Conventions: (u, v) are continuous source-image coordinates with pixel centres at +0.5 (as hotspot peaks
are); ``k`` is the 3x3 intrinsic matrix of sensor_msgs/CameraInfo, whose pixel centres are at integer
coordinates; depth is an HxW array in metres aligned with the colour image, NaN (or <= 0) where there is no
reading; 3-D points are in the camera optical frame (x right, y down, z forward), in metres.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hotspot_core.image.boxes import Roi
from hotspot_core.image.postprocess import upsample

__all__ = ["SurfaceNormal", "deproject", "depth_at", "region_points", "surface_normal", "valid_intrinsics"]

Point3 = tuple[float, float, float]


def valid_intrinsics(k: np.ndarray | None) -> bool:
    """True for a usable camera model: a 3x3 K with finite, positive focal lengths and a finite centre."""
    if k is None:
        return False
    k = np.asarray(k, np.float64)
    if k.size != 9:
        return False
    k = k.reshape(3, 3)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return bool(np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0)


def depth_at(depth_m: np.ndarray, u: float, v: float, radius: int = 2) -> float:
    """Median of the valid depths in a (2r+1)^2 window around continuous pixel (u, v); NaN if none.

    (u, v) use pixel centres at +0.5 (as hotspot peaks do), so pixel column = floor(u).
    """
    h, w = depth_m.shape
    c, r = int(np.floor(u)), int(np.floor(v))
    if not (0 <= c < w and 0 <= r < h):
        return float("nan")
    patch = depth_m[max(0, r - radius) : r + radius + 1, max(0, c - radius) : c + radius + 1]
    valid = patch[np.isfinite(patch) & (patch > 0)]
    return float(np.median(valid)) if valid.size else float("nan")


def deproject(u: float, v: float, z: float, k: np.ndarray) -> Point3:
    """Camera-frame point (x, y, z) in metres of continuous pixel (u, v) at depth z.

    ``k`` is the 3x3 intrinsic matrix (sensor_msgs/CameraInfo.k), whose pixel centres are at integer
    coordinates, hence the -0.5.
    """
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return float((u - 0.5 - cx) * z / fx), float((v - 0.5 - cy) * z / fy), float(z)


def _pixel_points(depth: np.ndarray, cols: np.ndarray, rows: np.ndarray, k: np.ndarray) -> np.ndarray:
    """(N,3) camera-frame points of integer pixels (cols, rows) with depths ``depth`` (N,)."""
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return np.stack([(cols - cx) * depth / fx, (rows - cy) * depth / fy, depth], axis=1)


class SurfaceNormal(NamedTuple):
    """The depth surface's normal around a pixel, from a plane fitted to the back-projected patch.

    normal: unit vector in the camera optical frame pointing toward the camera (normal . point < 0), i.e.
    the direction a gripper approaches along is ``-normal``; all zero when not valid.
    valid: enough valid depth readings, not all on one line, and residual <= the caller's limit.
    residual_m: RMS distance of the patch's points from the fitted plane (depth noise, or curvature
    across the patch); NaN when fewer than 3 readings.
    points: valid depth readings the fit used.
    """

    normal: Point3
    valid: bool
    residual_m: float
    points: int


INVALID_NORMAL = SurfaceNormal((0.0, 0.0, 0.0), False, float("nan"), 0)


def surface_normal(
    depth_m: np.ndarray,
    u: float,
    v: float,
    k: np.ndarray,
    radius: int = 5,
    min_valid_fraction: float = 0.5,
    max_residual_m: float = 0.01,
) -> SurfaceNormal:
    """Surface normal at continuous pixel (u, v): least-squares plane (PCA) through the back-projected
    valid depths of the (2r+1)^2 window around it.

    Not valid (``valid`` False) when under ``min_valid_fraction`` of the window has readings (missing depth,
    NaN or 0), when the readings lie on a line, or when their RMS distance from the plane exceeds
    ``max_residual_m`` (noisy depth, or an edge between two surfaces); the normal is still given in the
    last case, with its residual, for a caller that wants to judge it.
    """
    h, w = depth_m.shape
    c, r = int(np.floor(u)), int(np.floor(v))
    if not (0 <= c < w and 0 <= r < h):
        return INVALID_NORMAL
    r0, r1, c0, c1 = max(0, r - radius), min(h, r + radius + 1), max(0, c - radius), min(w, c + radius + 1)
    patch = np.asarray(depth_m[r0:r1, c0:c1], np.float64)
    ok = np.isfinite(patch) & (patch > 0)
    count = int(ok.sum())
    if count < 3:
        return SurfaceNormal((0.0, 0.0, 0.0), False, float("nan"), count)
    rows, cols = np.nonzero(ok)
    pts = _pixel_points(patch[ok], (cols + c0).astype(np.float64), (rows + r0).astype(np.float64), k)
    centroid = pts.mean(axis=0)
    eigval, eigvec = np.linalg.eigh(np.cov((pts - centroid).T, bias=True))  # ascending eigenvalues
    normal = eigvec[:, 0]
    if normal @ centroid > 0:  # toward the camera at the origin
        normal = -normal
    residual = float(np.sqrt(max(eigval[0], 0.0)))
    spread = float(np.sqrt(max(eigval[1], 0.0)))  # extent across the second axis: 0 for collinear points
    enough = count >= min_valid_fraction * (2 * radius + 1) ** 2
    fitted = enough and spread > 1e-9
    n = tuple(float(x) for x in normal) if fitted else (0.0, 0.0, 0.0)
    return SurfaceNormal(n, bool(fitted and residual <= max_residual_m), residual, count)


def region_points(
    map2d: np.ndarray,
    roi: Roi,
    depth_m: np.ndarray,
    k: np.ndarray,
    threshold: float,
    max_points: int,
) -> np.ndarray:
    """The hotspot region of one map in 3-D: (N,4) float32 rows (x, y, z, map value), N <= ``max_points``.

    ``map2d`` (h,w) covers ``roi`` (as ObjectHotspots maps do) and is bilinearly upsampled to the roi's
    pixels; every pixel whose map value is at or above ``threshold`` and that has a valid depth reading is
    back-projected through its centre. Over ``max_points`` such pixels, evenly spaced ones (row-major
    order, so spread over the whole region) are kept. Pixels of the roi outside the depth image are ignored.
    """
    h, w = depth_m.shape
    x0, y0, x1, y1 = max(roi.x0, 0), max(roi.y0, 0), min(roi.x1, w), min(roi.y1, h)
    if x1 <= x0 or y1 <= y0 or max_points <= 0:
        return np.zeros((0, 4), np.float32)
    up = upsample(map2d, roi.height, roi.width)[y0 - roi.y0 : y1 - roi.y0, x0 - roi.x0 : x1 - roi.x0]
    depth = depth_m[y0:y1, x0:x1]
    mask = (up >= threshold) & np.isfinite(depth) & (depth > 0)
    rows, cols = np.nonzero(mask)
    if rows.size > max_points:
        keep = np.linspace(0, rows.size - 1, max_points).round().astype(np.int64)
        rows, cols = rows[keep], cols[keep]
    z = depth[rows, cols].astype(np.float64)
    pts = _pixel_points(z, (cols + x0).astype(np.float64), (rows + y0).astype(np.float64), np.asarray(k, np.float64))
    out = np.empty((rows.size, 4), np.float32)
    out[:, :3] = pts
    out[:, 3] = up[rows, cols]
    return out
