"""A crowded table for overlay tests: many synthetic-world objects close together, boxes overlapping."""

from __future__ import annotations

import math

import cv2
import numpy as np

from training.synthetic.catalogue import CATEGORIES
from training.synthetic.draw import Pose, draw_object, make_instance, part_polygons_px, textured_background


def crowded_scene(
    rows: int = 3, cols: int = 4, width: int = 640, height: int = 480, overlap: float = 0.45, seed: int = 0
) -> tuple[np.ndarray, list[tuple[str, tuple[float, float, float, float]]]]:
    """(RGB image, [(category, (x0, y0, x1, y1))]) with ``rows`` x ``cols`` objects on a grid whose cells
    are ``overlap`` smaller than the objects, so that neighbouring boxes overlap."""
    rng = np.random.default_rng(seed)
    bgr = textured_background(height, width, rng)
    cell_w, cell_h = width / cols, height / rows
    objects = []
    for i in range(rows * cols):
        inst = make_instance(CATEGORIES[i % len(CATEGORIES)], rng)
        r, c = divmod(i, cols)
        pose = Pose(
            (c + 0.5) * cell_w,
            (r + 0.5) * cell_h,
            (1 + overlap) * 0.8 * min(cell_w, cell_h),
            math.radians(rng.uniform(-15, 15)),
        )
        draw_object(bgr, inst, pose)
        pts = np.concatenate([np.concatenate(part_polygons_px(inst, pose, p)) for p in inst.category.parts])
        x0, y0 = np.clip(pts.min(0), 0, None)
        x1, y1 = np.minimum(pts.max(0), (width - 1, height - 1))
        objects.append((inst.category.name, (float(x0), float(y0), float(x1), float(y1))))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), objects
