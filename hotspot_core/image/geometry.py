"""Pinhole geometry for 3-D hotspot peaks from an aligned depth image."""

from __future__ import annotations

import numpy as np

__all__ = ["deproject", "depth_at"]


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


def deproject(u: float, v: float, z: float, k: np.ndarray) -> tuple[float, float, float]:
    """Camera-frame point (x, y, z) in metres of continuous pixel (u, v) at depth z.

    ``k`` is the 3x3 intrinsic matrix (sensor_msgs/CameraInfo.k), whose pixel centres are at integer
    coordinates, hence the -0.5.
    """
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    return float((u - 0.5 - cx) * z / fx), float((v - 0.5 - cy) * z / fy), float(z)
