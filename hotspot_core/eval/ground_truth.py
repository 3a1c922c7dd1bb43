"""Ground-truth hotspot maps and the center-bias baseline.

Re-implements ``compute_heatmap`` and the GT preparation of the Interaction
Hotspots authors' evaluation (``hotspots-reference-spec.md`` sections 3.1,
3.2) and their center-bias Gaussian baseline (section 5).  numpy and OpenCV
only.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from hotspot_core.eval.metrics import resize_map

__all__ = ["center_bias_map", "gt_for_scoring", "gt_heatmap_from_points", "gaussian_kernel_size"]


def gaussian_kernel_size(shape: Sequence[int], k_ratio: float = 3.0) -> int:
    """Spec 3.1 kernel size: ``int(sqrt(H*W) / k_ratio)``, plus one if even."""
    k = int(np.sqrt(int(shape[0]) * int(shape[1])) / k_ratio)
    return k + 1 if k % 2 == 0 else k


def gt_heatmap_from_points(
    points: Sequence[Sequence[float]] | np.ndarray,
    shape: Sequence[int],
    k_ratio: float = 3.0,
    transpose: bool = False,
) -> np.ndarray:
    """GT heatmap from annotated points (spec 3.1); float32, ``shape[0] x shape[1]``.

    Each point adds +1 at ``[int(p[0]), int(p[1])]`` (first coordinate indexes
    rows), deltas are summed, blurred with ``cv2.GaussianBlur`` (kernel from
    :func:`gaussian_kernel_size`, sigma 0 so OpenCV picks
    ``0.3*((k-1)/2 - 1) + 0.8``), and normalised to sum 1 when the sum is
    positive; no points gives an all-zero map.  ``transpose`` (EPIC) transposes
    after blurring, so the result is ``shape[1] x shape[0]``.
    """
    h, w = int(shape[0]), int(shape[1])
    heatmap = np.zeros((h, w), dtype=np.float32)
    pts = np.asarray(points, dtype=np.float64)
    if pts.size:
        if pts.ndim != 2 or pts.shape[1] < 2:
            raise ValueError(f"points must be an (N, 2) array, got shape {pts.shape}")
        for p in pts:
            # int() truncates toward zero like the reference.  The reference only
            # clamps on IndexError, so indices in [-H, -1] would silently wrap to
            # the opposite border (numpy negative indexing); we deliberately clamp
            # every out-of-range index, negatives included, to the nearest border.
            row = min(max(int(p[0]), 0), h - 1)
            col = min(max(int(p[1]), 0), w - 1)
            heatmap[row, col] += 1.0

    k = gaussian_kernel_size((h, w), k_ratio)
    heatmap = cv2.GaussianBlur(heatmap, (k, k), 0)

    total = np.sum(heatmap)
    if total > 0:
        heatmap /= total
    if transpose:
        heatmap = np.ascontiguousarray(heatmap.T)
    return heatmap


def gt_for_scoring(heatmap: np.ndarray, size: int = 224) -> np.ndarray:
    """Spec 3.2 steps 2-3: bilinear resize to ``size x size`` (align_corners=False), then ``/(sum + 1e-12)``."""
    m = resize_map(np.asarray(heatmap, dtype=np.float32), size)
    return m / (m.sum() + 1e-12)


def _correlate_sparse(x: np.ndarray, kernel: np.ndarray, padding: int) -> np.ndarray:
    """``F.conv2d(x, kernel, padding=padding)`` (cross-correlation, stride 1) for a sparse ``x``.

    Each nonzero input pixel contributes ``value * kernel[::-1, ::-1]`` to the
    output; exact (no FFT round-off) and cheap when ``x`` has few nonzeros.
    """
    kh, kw = kernel.shape
    oh = x.shape[0] + 2 * padding - kh + 1
    ow = x.shape[1] + 2 * padding - kw + 1
    out = np.zeros((oh, ow), dtype=np.result_type(x, kernel))
    flipped = kernel[::-1, ::-1]
    for r, c in zip(*np.nonzero(x)):
        # Output (i, j) sees input (i - padding + u, j - padding + v), so input
        # (r, c) lands on output rows r + padding - u for u in [0, kh).
        top, left = r + padding - (kh - 1), c + padding - (kw - 1)
        i0, j0 = max(top, 0), max(left, 0)
        i1, j1 = min(top + kh, oh), min(left + kw, ow)
        if i0 < i1 and j0 < j1:
            out[i0:i1, j0:j1] += x[r, c] * flipped[i0 - top : i1 - top, j0 - left : j1 - left]
    return out


def center_bias_map(size: int = 224) -> np.ndarray:
    """The reference's center-bias baseline (spec 5), float32.

    A 225x225 delta at (112, 112) is cross-correlated (``F.conv2d``, padding 55)
    with a 112x112 Gaussian ``exp(-4 ln2 r^2 / 56^2)`` (FWHM 56) centred at
    index 56, giving a 224x224 map with peak 1.0 at (111, 111).  The kernel has
    finite support, so the map is exactly zero outside rows/cols 56..167.  For
    ``size != 224`` the 224 map is resized bilinearly, as the evaluator does.
    """
    sz = 225
    delta = np.zeros((sz, sz), dtype=np.float32)
    delta[sz // 2, sz // 2] = 1.0

    k = sz // 2  # 112
    fwhm = sz // 4  # 56
    x = np.arange(0, k, 1, dtype=np.float64)
    y = x[:, np.newaxis]
    c = k // 2  # 56
    kernel = np.exp(-4 * np.log(2) * ((x - c) ** 2 + (y - c) ** 2) / fwhm**2).astype(np.float32)

    hm = _correlate_sparse(delta, kernel, padding=k // 2 - 1)
    if hm.shape != (size, size):
        hm = resize_map(hm, size)
    return hm
