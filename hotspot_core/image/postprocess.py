"""Hotspot maps for consumers: per-map normalisation, upsampling to the crop, peaks in image pixels."""

from __future__ import annotations

import cv2
import numpy as np

from hotspot_core.image.boxes import Roi

__all__ = ["normalise_maps", "peaks_in_image", "upsample"]


def normalise_maps(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Max-normalise each map of (K,h,w) to [0,1]; returns (normalised, raw maxima). All-zero maps stay 0."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    maps = np.maximum(maps, 0.0)
    maxima = maps.reshape(maps.shape[0], -1).max(axis=1) if maps.size else np.zeros(0, np.float32)
    safe = np.where(maxima > 0, maxima, 1.0).astype(np.float32)
    return (maps / safe[:, None, None]).astype(np.float32), maxima.astype(np.float32)


def upsample(map2d: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of one (h,w) map to (height,width) (pixel-centre aligned, align_corners=False)."""
    return cv2.resize(np.asarray(map2d, np.float32), (width, height), interpolation=cv2.INTER_LINEAR)


def peaks_in_image(maps: np.ndarray, roi: Roi, refine: int = 4) -> np.ndarray:
    """Peak of each (K,h,w) map as (K,3) rows of (u, v, value) in source-image pixels.

    The map is upsampled ``refine`` times before the argmax so peaks are not stuck on the coarse grid;
    (u, v) are continuous coordinates with pixel centres at +0.5.
    """
    k, h, w = maps.shape
    out = np.zeros((k, 3), np.float32)
    for i in range(k):
        fine = upsample(maps[i], h * refine, w * refine)
        r, c = np.unravel_index(int(np.argmax(fine)), fine.shape)
        out[i, 0] = roi.x0 + (c + 0.5) / fine.shape[1] * roi.width
        out[i, 1] = roi.y0 + (r + 0.5) / fine.shape[0] * roi.height
        out[i, 2] = fine[r, c]
    return out
