"""Place text labels near their anchor points so that no two overlap and none leaves the image.

Greedy, in the caller's order (most important first). A spot is free when it lies inside the image,
keeps ``gap`` pixels from every label already placed and from the fixed obstacles (a legend), and does not
cover its own anchor. Each label takes the first of the eight classic spots just off its anchor
(right-above first, as text is read) that is free and covers neither another anchor (a peak marker) nor
the pixels to avoid (the blobs); else the cheapest free spot anywhere in the image, found with integral
images (so the search is complete, not a handful of guesses): its distance to the anchor, plus a price for
covering the pixels to avoid, plus more than any distance for covering another anchor. A label that fits
nowhere is left out (``None``) rather than drawn over another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hotspot_core.image.boxes import Roi

__all__ = ["Rect", "LabelRequest", "PlacementConfig", "place_labels"]


# The one integer pixel rectangle of the core (labels, legends, tiles and object boxes alike).
Rect = Roi


@dataclass(frozen=True)
class LabelRequest:
    """A label of ``width`` x ``height`` pixels that wants to sit next to ``anchor`` (x, y)."""

    anchor: tuple[float, float]
    width: int
    height: int


@dataclass(frozen=True)
class PlacementConfig:
    """``clearance``: how far (px) a label keeps from its own anchor (the marker's radius); ``gap``: the
    least distance between two labels or a label and an obstacle; ``anchor_radius``: the size of another
    label's anchor (marker) that a label avoids covering; ``avoid_cost``: how far (px) a label would
    rather move than cover one more of the ``avoid`` pixels (the blobs)."""

    clearance: int = 4
    gap: int = 2
    anchor_radius: int = 4
    avoid_cost: float = 0.5
    near_labels: float = 4.0  # where the search looks first: within this many label heights of the anchor

    def __post_init__(self) -> None:
        if min(self.clearance, self.gap, self.anchor_radius, self.avoid_cost, self.near_labels) < 0:
            raise ValueError("clearance, gap, anchor_radius, avoid_cost and near_labels must be >= 0")


def _classic_spots(req: LabelRequest, c: int) -> list[tuple[int, int]]:
    """Top-left corners of the eight spots just off the anchor, rounded away from it (at least ``c`` off)."""
    ax, ay = req.anchor
    w, h = req.width, req.height
    right, left, mid_x = math.ceil(ax + c), math.floor(ax - c - w), round(ax - w / 2)
    above, below, mid_y = math.floor(ay - c - h), math.ceil(ay + c), round(ay - h / 2)
    return [
        (right, above),
        (right, below),
        (left, above),
        (left, below),
        (mid_x, above),
        (mid_x, below),
        (right, mid_y),
        (left, mid_y),
    ]


def _integral(grid: np.ndarray) -> np.ndarray:
    return cv2.integral(grid, sdepth=cv2.CV_32S)  # (H+1, W+1), zero first row and column


def _area_sums(integral: np.ndarray, w: int, h: int) -> np.ndarray:
    """(y0, x0) -> sum of the grid under the w x h rectangle whose top-left corner is there."""
    return integral[h:, w:] - integral[:-h, w:] - integral[h:, :-w] + integral[:-h, :-w]


def _area_sum(integral: np.ndarray, r: Rect) -> float:
    return float(integral[r.y1, r.x1] - integral[r.y0, r.x1] - integral[r.y1, r.x0] + integral[r.y0, r.x0])


def _overlap_1d(starts: np.ndarray, length: int, lo: float, hi: float) -> np.ndarray:
    return np.clip(np.minimum(starts + length, hi) - np.maximum(starts, lo), 0, None)


class _Board:
    """The image as the labels see it: what is taken (labels, obstacles, grown by the gap), where the
    anchors' markers are (counted, so that a label's own marker can be left out), and what to avoid."""

    def __init__(
        self,
        width: int,
        height: int,
        requests: Sequence[LabelRequest],
        config: PlacementConfig,
        avoid: np.ndarray | None,
    ) -> None:
        self.width, self.height, self.config = width, height, config
        self.taken = np.zeros((height, width), np.uint8)
        markers = np.zeros((height, width), np.float32)  # a count per pixel (cv2.integral takes no int32)
        r = config.anchor_radius
        for req in requests:
            x, y = int(req.anchor[0]), int(req.anchor[1])
            markers[max(0, y - r) : max(0, y + r + 1), max(0, x - r) : max(0, x + r + 1)] += 1
        self.markers = cv2.integral(markers, sdepth=cv2.CV_64F)
        self.avoid = _integral(avoid.astype(np.uint8)) if avoid is not None else None

    def take(self, rect: Rect) -> None:
        g = self.config.gap
        self.taken[max(0, rect.y0 - g) : max(0, rect.y1 + g), max(0, rect.x0 - g) : max(0, rect.x1 + g)] = 1

    def _own_marker(self, req: LabelRequest, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        r = self.config.anchor_radius
        x, y = int(req.anchor[0]), int(req.anchor[1])
        lo_x, hi_x, lo_y, hi_y = max(0, x - r), min(self.width, x + r + 1), max(0, y - r), min(self.height, y + r + 1)
        return _overlap_1d(ys, req.height, lo_y, hi_y)[:, None] * _overlap_1d(xs, req.width, lo_x, hi_x)[None, :]

    def spot_is_clean(self, req: LabelRequest, rect: Rect) -> bool:
        """Inside, free, off every other marker and off the pixels to avoid (the fast path's test)."""
        if not rect.inside(self.width, self.height) or self.taken[rect.y0 : rect.y1, rect.x0 : rect.x1].any():
            return False
        if rect.distance_to(*req.anchor) < self.config.clearance:
            return False
        own = self._own_marker(req, np.array([rect.x0]), np.array([rect.y0]))[0, 0]
        if _area_sum(self.markers, rect) - own > 0.5:
            return False
        return self.avoid is None or _area_sum(self.avoid, rect) == 0

    def best_spot(self, req: LabelRequest, near: float) -> Rect | None:
        """The cheapest free spot anywhere: distance to the anchor, plus a price for covering another
        marker (more than any distance) and for each pixel to avoid that it covers (``avoid_cost``).

        Every spot costs at least its distance, so the search looks within ``near`` px of the anchor first
        and goes over the whole image only when nothing there costs ``near`` or less (the answer is the same).
        """
        taken = _integral(self.taken)
        found = self._cheapest(req, taken, near)
        if found is not None and found[1] <= near:
            return found[0]
        found = self._cheapest(req, taken, None)
        return found[0] if found is not None else None

    def _cheapest(self, req: LabelRequest, taken: np.ndarray, near: float | None) -> tuple[Rect, float] | None:
        w, h = req.width, req.height
        ax, ay = req.anchor
        # top-left corners considered: all of them, or those of rectangles within ``near`` of the anchor
        x_lo, x_hi, y_lo, y_hi = 0, self.width - w, 0, self.height - h
        if near is not None:
            x_lo, x_hi = max(x_lo, math.floor(ax - near - w)), min(x_hi, math.ceil(ax + near))
            y_lo, y_hi = max(y_lo, math.floor(ay - near - h)), min(y_hi, math.ceil(ay + near))
            if x_lo > x_hi or y_lo > y_hi:
                return None

        def sums(integral: np.ndarray) -> np.ndarray:
            window = integral[y_lo : y_hi + h + 1, x_lo : x_hi + w + 1]
            return _area_sums(window, w, h)

        xs = np.arange(x_lo, x_hi + 1, dtype=np.float32)
        ys = np.arange(y_lo, y_hi + 1, dtype=np.float32)
        dx = np.maximum(np.maximum(xs - ax, 0), ax - (xs + w))
        dy = np.maximum(np.maximum(ys - ay, 0), ay - (ys + h))
        dist = np.hypot(dy[:, None], dx[None, :])
        free = (sums(taken) == 0) & (dist >= self.config.clearance)
        if not free.any():
            return None
        covers = sums(self.markers) - self._own_marker(req, xs, ys) > 0.5
        cost = dist + np.where(covers, self.width + self.height, 0)
        if self.avoid is not None:
            cost = cost + self.config.avoid_cost * sums(self.avoid)
        cost = np.where(free, cost, np.inf)
        k = np.unravel_index(int(np.argmin(cost)), cost.shape)
        x0, y0 = x_lo + int(k[1]), y_lo + int(k[0])
        return Rect(x0, y0, x0 + w, y0 + h), float(cost[k])


def place_labels(
    requests: Sequence[LabelRequest],
    width: int,
    height: int,
    obstacles: Sequence[Rect] = (),
    config: PlacementConfig = PlacementConfig(),
    avoid: np.ndarray | None = None,
) -> list[Rect | None]:
    """One rectangle per request (None where none fits), pairwise ``config.gap`` apart, inside the
    ``width`` x ``height`` image and clear of ``obstacles``; ``avoid`` ((H,W) bool, e.g. the blobs) is
    covered only where that is worth it. Requests are served in order."""
    board = _Board(width, height, requests, config, avoid)
    for o in obstacles:
        board.take(o)
    out: list[Rect | None] = []
    for req in requests:
        if not (0 < req.width <= width and 0 < req.height <= height):
            out.append(None)
            continue
        chosen = next(
            (
                r
                for r in (Rect(x, y, x + req.width, y + req.height) for x, y in _classic_spots(req, config.clearance))
                if board.spot_is_clean(req, r)
            ),
            None,
        )
        if chosen is None:
            chosen = board.best_spot(req, near=config.near_labels * req.height + config.clearance)
        if chosen is not None:
            board.take(chosen)
        out.append(chosen)
    return out
