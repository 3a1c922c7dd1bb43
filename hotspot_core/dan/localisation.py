"""Weakly supervised localisation from DAN attention maps (Xiao et al., ICCV 2019, Sec. 4).

* Where: threshold an object attention map at 60% of its maximum, flood-fill the connected regions,
  box each region; the largest box is the prediction, the second largest optionally (two objects).
* When: average the object maps over segments of 1/3 s, measure the KL divergence between consecutive
  segments, trim leading and trailing segments whose change is below 0.06; keep the whole clip if what
  is left is shorter than 1 s.
* Affordance: the ground-truth-object-guided attention thresholded at 60% of its maximum.
* Box AP (VOC all-point) for the paper's Table 4.

Maps are numpy arrays (h,w) in grid cells; boxes are (x0, y0, x1, y1) with exclusive ends, in cells
unless scaled to pixels with ``cells_to_pixels``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hotspot_core.image.boxes import Box, iou

__all__ = [
    "BOX_THRESHOLD",
    "EPS",
    "KL_THRESHOLD",
    "MIN_ACTION_SECONDS",
    "Region",
    "SEGMENT_SECONDS",
    "TemporalLocalisation",
    "affordance_mask",
    "attention_boxes",
    "attention_regions",
    "average_precision",
    "cells_to_pixels",
    "flood_fill",
    "kl_divergence",
    "segment_bounds",
    "temporal_localisation",
    "threshold_mask",
    "upsample",
]

BOX_THRESHOLD = 0.6
SEGMENT_SECONDS = 1.0 / 3.0
KL_THRESHOLD = 0.06
MIN_ACTION_SECONDS = 1.0
EPS = 1e-12


# ------------------------------------------------------------------------------------------ regions
def flood_fill(mask: np.ndarray, connectivity: int = 4) -> tuple[np.ndarray, int]:
    """Label the connected regions of a boolean mask by flood fill.

    Returns (labels, count): labels (h,w) int32, 0 outside the mask, 1..count per region in raster
    order of their first cell. ``connectivity`` 4 (edges) or 8 (edges and corners).
    """
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    mask = np.asarray(mask, bool)
    h, w = mask.shape
    labels = np.zeros((h, w), np.int32)
    steps = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        steps += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    count = 0
    for r0, c0 in zip(*np.nonzero(mask)):
        if labels[r0, c0]:
            continue
        count += 1
        labels[r0, c0] = count
        stack = [(int(r0), int(c0))]
        while stack:
            r, c = stack.pop()
            for dr, dc in steps:
                rr, cc = r + dr, c + dc
                if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not labels[rr, cc]:
                    labels[rr, cc] = count
                    stack.append((rr, cc))
    return labels, count


def threshold_mask(attention: np.ndarray, fraction: float = BOX_THRESHOLD) -> np.ndarray:
    """Cells at or above ``fraction`` of the map's maximum (all False for an all-zero or non-finite map)."""
    a = np.asarray(attention, np.float64)
    peak = float(np.max(a)) if a.size else 0.0
    if not math.isfinite(peak) or peak <= 0:
        return np.zeros(a.shape, bool)
    return a >= fraction * peak


@dataclass(frozen=True)
class Region:
    """A connected region of a thresholded map: its box (cells, exclusive ends), size and mass."""

    box: Box
    cells: int  # number of cells in the region
    mass: float  # attention summed over the region (its share of the map when the map sums to 1)

    @property
    def box_area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


def attention_regions(attention: np.ndarray, fraction: float = BOX_THRESHOLD, connectivity: int = 4) -> list[Region]:
    """Every region above ``fraction`` of the maximum, largest box first (ties: more mass first)."""
    a = np.asarray(attention, np.float64)
    labels, count = flood_fill(threshold_mask(a, fraction), connectivity)
    regions = []
    for k in range(1, count + 1):
        rows, cols = np.nonzero(labels == k)
        box = (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1))
        regions.append(Region(box, int(rows.size), float(a[rows, cols].sum())))
    regions.sort(key=lambda r: (-r.box_area, -r.mass))
    return regions


def upsample(attention: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a map to ``size`` (H, W), pixel centres aligned (OpenCV's convention), mass kept."""
    import cv2

    a = np.asarray(attention, np.float32)
    up = cv2.resize(a, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    total = up.sum()
    return up * (float(a.sum()) / total) if total > 0 else up


def attention_boxes(
    attention: np.ndarray,
    fraction: float = BOX_THRESHOLD,
    two_objects: bool = False,
    second_min_ratio: float = 0.25,
    connectivity: int = 4,
    image_size: tuple[int, int] | None = None,
) -> list[Region]:
    """The largest region's box; with ``two_objects`` also the second largest if its box has at least
    ``second_min_ratio`` of the largest one's area (the paper takes it "based on its size and the number
    of predicted objects"). Empty for a map with no positive value.

    ``image_size`` (H, W): threshold the map bilinearly upsampled to the image (as it is displayed),
    giving boxes in pixels; otherwise boxes are in map cells (see ``cells_to_pixels``).
    """
    if image_size is not None:
        attention = upsample(attention, image_size)
    regions = attention_regions(attention, fraction, connectivity)
    keep = regions[:1]
    if two_objects and len(regions) > 1 and regions[1].box_area >= second_min_ratio * regions[0].box_area:
        keep.append(regions[1])
    return keep


def cells_to_pixels(box: Box, map_shape: tuple[int, int], image_shape: tuple[int, int]) -> Box:
    """A box in map cells to source-image pixels: cell (r, c) covers columns [c*W/w, (c+1)*W/w)."""
    h, w = map_shape
    H, W = image_shape
    return (box[0] * W / w, box[1] * H / h, box[2] * W / w, box[3] * H / h)


def affordance_mask(
    attention: np.ndarray, fraction: float = BOX_THRESHOLD, size: tuple[int, int] | None = None
) -> np.ndarray:
    """Segment the parts the (ground-truth-object-guided) attention points at: >= ``fraction`` of the max.

    ``size`` (H, W): upsample the map bilinearly to that image size first, for a pixel mask.
    """
    a = np.asarray(attention, np.float32)
    if size is not None and tuple(size) != a.shape:
        import cv2

        a = cv2.resize(a, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)
    return threshold_mask(a, fraction)


# ---------------------------------------------------------------------------------------- temporal
def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """D_KL(P || Q) = sum_i P(i) log(P(i) / Q(i)) of two maps, each normalised to sum 1 (Eq. 12)."""
    p = np.asarray(p, np.float64).ravel()
    q = np.asarray(q, np.float64).ravel()
    p = p / max(p.sum(), EPS)
    q = q / max(q.sum(), EPS)
    return float(np.sum(p * np.log((p + EPS) / (q + EPS))))


@dataclass(frozen=True)
class TemporalLocalisation:
    """Frames [start, end) of the action, the segments and the divergences between consecutive ones.

    trimmed: False when the whole clip is kept (nothing above the threshold, or under ``min_seconds``).
    """

    start: int
    end: int
    trimmed: bool
    segments: tuple[tuple[int, int], ...]
    divergences: tuple[float, ...]


def segment_bounds(num_frames: int, frames_per_segment: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) frame ranges of ``frames_per_segment``; the last one may be shorter."""
    return [(s, min(s + frames_per_segment, num_frames)) for s in range(0, num_frames, frames_per_segment)]


def temporal_localisation(
    maps: np.ndarray,
    fps: float,
    segment_seconds: float = SEGMENT_SECONDS,
    threshold: float = KL_THRESHOLD,
    min_seconds: float = MIN_ACTION_SECONDS,
) -> TemporalLocalisation:
    """When the action happens, from per-frame object attention maps (F,h,w) of a clip at ``fps``.

    Segments of ``segment_seconds`` (round(fps/3) frames, at least 1) are averaged; D_j is
    KL(P_{j+1} || P_j), the change from segment j to j+1. Leading segments whose change to the next one
    is below ``threshold`` are dropped, and so are trailing segments whose change from the previous one
    is: the kept segments run from the first j with D_j >= threshold to the segment after the last such
    j. If no change reaches the threshold, or the kept frames span under ``min_seconds``, the whole clip
    is the action (the paper's guard against 'holding' or 'showing' clips).
    """
    maps = np.asarray(maps, np.float64)
    n = maps.shape[0]
    if n == 0:
        raise ValueError("no frames")
    per = max(1, int(round(fps * segment_seconds)))
    segments = segment_bounds(n, per)
    means = [maps[s:e].mean(0) for s, e in segments]
    div = tuple(kl_divergence(means[j + 1], means[j]) for j in range(len(means) - 1))
    above = [j for j, d in enumerate(div) if d >= threshold]
    whole = TemporalLocalisation(0, n, False, tuple(segments), div)
    if not above:
        return whole
    first, last = above[0], above[-1] + 1
    start, end = segments[first][0], segments[last][1]
    if (end - start) / fps < min_seconds or (start == 0 and end == n):
        return whole
    return TemporalLocalisation(start, end, True, tuple(segments), div)


# ------------------------------------------------------------------------------------------ box AP
def average_precision(
    predictions: Sequence[Sequence[tuple[float, Box]]], ground_truth: Sequence[Sequence[Box]], iou_threshold: float
) -> float:
    """VOC all-point AP of scored boxes over images: predictions[i] = [(score, box)], ground_truth[i] = [box].

    Predictions are ranked by score over all images; each one is a true positive if it overlaps a
    still-unmatched ground-truth box of its image with IoU >= ``iou_threshold`` (greedily, best IoU).
    """
    n_gt = sum(len(g) for g in ground_truth)
    if n_gt == 0:
        raise ValueError("no ground-truth boxes")
    ranked = sorted(((s, i, b) for i, preds in enumerate(predictions) for s, b in preds), key=lambda x: -x[0])
    used = [np.zeros(len(g), bool) for g in ground_truth]
    tp = np.zeros(len(ranked))
    for k, (_, i, box) in enumerate(ranked):
        ious = [iou(box, g) if not used[i][j] else -1.0 for j, g in enumerate(ground_truth[i])]
        if ious and max(ious) >= iou_threshold:
            used[i][int(np.argmax(ious))] = True
            tp[k] = 1
    if not len(ranked):
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_gt
    precision = ctp / np.arange(1, len(ranked) + 1)
    # all-point interpolation: area under the monotone precision envelope
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))
