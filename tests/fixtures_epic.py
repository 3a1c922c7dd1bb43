"""A tiny EPIC-Kitchens (EPIC-55) fixture in the real on-disk layout (spec 4.2, 4.6).

Frames are uniform grey images whose level equals the frame number, so a test can read back which
frames a loader picked. The fixture deliberately contains the defects the loader must survive:

* a clip whose ``stop`` runs past the video's last frame (4 listed frames missing on disk),
* a clip of a video whose frame folder does not exist (dropped),
* a clip whose noun has no inactive image (dropped),
* an inactive box whose detection frame is missing, and a zero-width box (CropPerturb edge case).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FRAME_W, FRAME_H = 48, 28  # small stand-in for EPIC's 456x256
VIDEO_FRAMES = {"P01_01": 121, "P02_03": 91}
VERBS = ["take", "put", "open", "close", "cut"]
NOUNS = ["pan", "cup", "knife", "board:chopping"]

# What a loader should report on this fixture.
EXPECTED = {
    "usable_clips": 3,
    "dropped_entries": 1,  # P03_05 has no frame folder
    "dropped_no_inactive": 1,  # board:chopping has no inactive image
    "missing_frames": 4,  # P02_03 frames 101..131
    "clamped_clips": 1,
    "missing_inactive": 1,  # knife box on a detection frame that does not exist
}

# Test image: a crop of W x H with annotated points [x, y] (EPIC convention: transpose=True).
TEST_IMAGE_W, TEST_IMAGE_H = 60, 40
TEST_POINTS_XY = [[45, 10], [46, 11], [44, 9]]


def _grey(level: int, w: int = FRAME_W, h: int = FRAME_H) -> np.ndarray:
    return np.full((h, w, 3), int(level), dtype=np.uint8)


def make_epic_fixture(root: str | Path) -> dict[str, Any]:
    """Write the fixture under ``root`` and return its annotations."""
    root = Path(root)
    for v_id, n in VIDEO_FRAMES.items():
        d = root / "frames_rgb_flow" / "rgb" / "train" / v_id.split("_")[0] / v_id
        d.mkdir(parents=True, exist_ok=True)
        for i in range(1, n + 1):
            cv2.imwrite(str(d / ("frame_%010d.jpg" % i)), _grey(i), [cv2.IMWRITE_JPEG_QUALITY, 100])

    rng = np.random.default_rng(0)
    for v_id, f_id in (("P01_01", 31), ("P01_01", 61), ("P02_03", 41)):
        d = root / "object_detection_images" / "train" / v_id.split("_")[0] / v_id
        d.mkdir(parents=True, exist_ok=True)
        img = rng.integers(0, 255, (FRAME_H * 2, FRAME_W * 2, 3), dtype=np.uint8)
        cv2.imwrite(str(d / ("%010d.jpg" % f_id)), img)

    (root / "images").mkdir(parents=True, exist_ok=True)
    test_img = np.full((TEST_IMAGE_H, TEST_IMAGE_W, 3), 120, np.uint8)
    cv2.imwrite(str(root / "images" / "P01_01_31_10_5_40_30.jpg"), test_img)

    annots = {
        "verbs": VERBS,
        "nouns": NOUNS,
        "train_clips": [
            {"v_id": "P01_01", "start": 1, "stop": 101, "verb": 0, "noun": 0},  # 11 frames
            {"v_id": "P01_01", "start": 21, "stop": 61, "verb": 2, "noun": 1},  # 5 frames: padded
            {"v_id": "P02_03", "start": 11, "stop": 131, "verb": 1, "noun": 2},  # 13 listed, 9 on disk
            {"v_id": "P03_05", "start": 1, "stop": 51, "verb": 3, "noun": 0},  # no frame folder
            {"v_id": "P02_03", "start": 1, "stop": 41, "verb": 4, "noun": 3},  # no inactive image
        ],
        "test_clips": [],
        "inactive_images": {
            "pan": [
                {"v_id": "P01_01", "f_id": 31, "box": [10, 5, 40, 30]},
                {"v_id": "P02_03", "f_id": 41, "box": [0, 0, FRAME_W * 2, FRAME_H * 2]},
            ],
            "cup": [{"v_id": "P01_01", "f_id": 61, "box": [20, 10, 20, 25]}],  # zero width
            "knife": [
                {"v_id": "P02_03", "f_id": 41, "box": [50, 20, 60, 30]},
                {"v_id": "P02_03", "f_id": 999, "box": [0, 0, 5, 5]},
            ],  # frame missing
        },
        "train_images": [],
        "test_images": [
            {
                "image": ["P01_01_31_10_5_40_30.jpg"],
                "verb": 2,
                "points": TEST_POINTS_XY,
                "shape": [TEST_IMAGE_W, TEST_IMAGE_H],
            },
            {"image": ["P01_01_31_10_5_40_30.jpg"], "verb": 4, "points": [], "shape": [TEST_IMAGE_W, TEST_IMAGE_H]},
        ],
    }
    (root / "annotations.json").write_text(json.dumps(annots, indent=1), encoding="utf-8")
    return annots
