"""Per-action hotspot overlays for people (RViz debug image, visualise command).

Each action gets a distinct colour, as in the paper's figures; where several actions' maps overlap the
strongest one wins the pixel (the reference's viz does the same), so the overlay is for looking only:
planners read the per-action maps themselves.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .boxes import Roi
from .postprocess import upsample

# RGB, distinct under colour-blind simulation for the first few; cycled for more actions.
ACTION_COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
)


def action_colour(index: int) -> tuple[int, int, int]:
    return ACTION_COLOURS[index % len(ACTION_COLOURS)]


def draw_hotspots(
    image_rgb: np.ndarray,
    roi: Roi,
    maps: np.ndarray,
    action_indices: Sequence[int],
    threshold: float = 0.3,
    alpha: float = 0.6,
) -> None:
    """Blend max-normalised maps (K,h,w) into ``image_rgb`` (uint8, in place) inside ``roi``."""
    if roi.width <= 0 or roi.height <= 0 or len(action_indices) == 0:
        return
    up = np.stack([upsample(m, roi.height, roi.width) for m in maps])  # (K,H,W)
    winner = up.argmax(axis=0)
    strength = up.max(axis=0)
    colours = np.array([action_colour(int(a)) for a in action_indices], np.float32)[winner]  # (H,W,3)
    weight = (alpha * np.clip((strength - threshold) / max(1e-6, 1 - threshold), 0, 1))[..., None]
    patch = image_rgb[roi.y0 : roi.y1, roi.x0 : roi.x1].astype(np.float32)
    image_rgb[roi.y0 : roi.y1, roi.x0 : roi.x1] = (patch * (1 - weight) + colours * weight).astype(np.uint8)


def draw_box_and_label(image_rgb: np.ndarray, roi: Roi, label: str, colour=(255, 255, 255)) -> None:
    cv2.rectangle(image_rgb, (roi.x0, roi.y0), (roi.x1 - 1, roi.y1 - 1), colour, 1)
    cv2.putText(image_rgb, label, (roi.x0 + 2, max(10, roi.y0 - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)


def draw_legend(image_rgb: np.ndarray, action_names: Sequence[str], shown: Sequence[int]) -> None:
    """Colour key of the actions drawn, top-left."""
    for row, a in enumerate(sorted(set(int(i) for i in shown))):
        y = 14 + 14 * row
        cv2.rectangle(image_rgb, (4, y - 9), (14, y + 1), action_colour(a), -1)
        cv2.putText(image_rgb, action_names[a], (18, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
