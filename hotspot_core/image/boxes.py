"""Box arithmetic: the one ``Box`` type and ``iou``, crop padding and clamping, degenerate boxes, contact."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["Box", "Roi", "boxes_touch", "center_size_to_xyxy", "iou", "pad_and_clamp"]

# Corner form (x0, y0, x1, y1) in pixels, x1 > x0 and y1 > y0 for a real box.
Box = tuple[float, float, float, float]


class Roi(NamedTuple):
    """Integer pixel box [x0, x1) x [y0, y1) in source-image coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def intersects(self, other: Roi, gap: int = 0) -> bool:
        """True when the two overlap, or come closer than ``gap`` pixels."""
        return (
            self.x0 < other.x1 + gap
            and other.x0 < self.x1 + gap
            and self.y0 < other.y1 + gap
            and other.y0 < self.y1 + gap
        )

    def inside(self, width: int, height: int) -> bool:
        return self.x0 >= 0 and self.y0 >= 0 and self.x1 <= width and self.y1 <= height

    def distance_to(self, x: float, y: float) -> float:
        """Distance from a point to the rectangle's nearest pixel centre region (0 inside)."""
        dx = max(self.x0 - x, 0.0, x - self.x1)
        dy = max(self.y0 - y, 0.0, y - self.y1)
        return math.hypot(dx, dy)

    def nearest_point(self, x: float, y: float) -> tuple[int, int]:
        """The pixel of the rectangle nearest to (x, y), e.g. where a leader line meets it."""
        return int(min(max(round(x), self.x0), self.x1 - 1)), int(min(max(round(y), self.y0), self.y1 - 1))


def center_size_to_xyxy(cx: float, cy: float, w: float, h: float) -> Box:
    """vision_msgs BoundingBox2D (centre + size) to corner form."""
    return cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0


def pad_and_clamp(box: Box, pad_fraction: float, width: int, height: int, min_size: int = 4) -> Roi | None:
    """Pad a box by ``pad_fraction`` of its size on each side and clamp it to the image.

    Returns None for a degenerate box: non-finite, inverted, or smaller than ``min_size`` pixels on a
    side once clamped (e.g. entirely outside the image). Callers count these.
    """
    x0, y0, x1, y1 = box
    if not all(math.isfinite(v) for v in box) or x1 <= x0 or y1 <= y0:
        return None
    px, py = (x1 - x0) * pad_fraction, (y1 - y0) * pad_fraction
    roi = Roi(
        max(0, int(math.floor(x0 - px))),
        max(0, int(math.floor(y0 - py))),
        min(width, int(math.ceil(x1 + px))),
        min(height, int(math.ceil(y1 + py))),
    )
    if roi.width < min_size or roi.height < min_size:
        return None
    return roi


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two corner-form boxes (0 when the union is empty)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def boxes_touch(a: Box, b: Box, margin: float = 0.0) -> bool:
    """True when box ``a`` grown by ``margin`` pixels overlaps box ``b`` (a hand touching an object)."""
    return min(a[2] + margin, b[2]) > max(a[0] - margin, b[0]) and min(a[3] + margin, b[3]) > max(a[1] - margin, b[1])
