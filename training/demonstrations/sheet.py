"""The contact sheet: one numbered tile per interaction, so a person can fill the verbs in by looking."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["contact_sheet"]

TILE = 192  # px, the tile's image side
CAPTION = 22  # px, the caption strip under it


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` scaled to fit a ``side`` square, centred on grey."""
    canvas = np.full((side, side, 3), 64, np.uint8)
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        return canvas
    k = side / max(h, w)
    nh, nw = max(1, round(h * k)), max(1, round(w * k))
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    y, x = (side - nh) // 2, (side - nw) // 2
    canvas[y : y + nh, x : x + nw] = small
    return canvas


def contact_sheet(tiles: Sequence[tuple[np.ndarray, str]], columns: int = 6) -> np.ndarray:
    """RGB image of ``(image, caption)`` tiles in rows of ``columns``, each caption under its tile."""
    cols = max(1, min(columns, len(tiles)))
    rows = max(1, math.ceil(len(tiles) / cols))
    gap = 4
    sheet = np.full((rows * (TILE + CAPTION + gap) + gap, cols * (TILE + gap) + gap, 3), 255, np.uint8)
    for i, (img, caption) in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = gap + r * (TILE + CAPTION + gap), gap + c * (TILE + gap)
        sheet[y : y + TILE, x : x + TILE] = _fit(img, TILE)
        cv2.putText(sheet, caption, (x + 3, y + TILE + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return sheet
