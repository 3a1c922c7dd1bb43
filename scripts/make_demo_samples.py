#!/usr/bin/env python3
"""Regenerate the demo's bundled input sequence in samples/demo/ (deterministic; the output is committed).

Frames: a real CC0 photo from scikit-image (coffee cup, saucer and spoon, with hand-labelled boxes) with
small camera jitter, then table-top scenes of synthetic-world objects at rest (boxes from their masks).
Writes frame_%03d.jpg and detections.json ({"frames": [{"file", "detections": [{"id", "class_id",
"score", "bbox": [x0, y0, x1, y1]}]}]}).

    .venv/bin/python scripts/make_demo_samples.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import skimage.data

from hotspot_core import cli
from training.synthetic import WorldConfig, generate_world

COFFEE_BOXES = [("cup", (170, 15, 410, 305)), ("spoon", (325, 65, 425, 325)), ("saucer", (75, 75, 480, 390))]
SCENE_CATEGORIES = ("mug", "bottle", "kettle", "knife", "jar", "lamp", "drawer", "scissors", "remote")


def coffee_frames(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, list]]:
    photo = skimage.data.coffee()  # 400x600 RGB, CC0
    out = []
    for _ in range(n):
        dx, dy = (int(v) for v in rng.integers(-6, 7, 2))  # hand-held camera jitter
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(photo, m, (600, 400), borderMode=cv2.BORDER_REFLECT)
        dets = [(cls, (x0 + dx, y0 + dy, x1 + dx, y1 + dy)) for cls, (x0, y0, x1, y1) in COFFEE_BOXES]
        out.append((frame, dets))
    return out


def paste(canvas: np.ndarray, obj: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    """Paste an object photographed on a plain light background into the canvas; returns its tight box."""
    border = np.concatenate([obj[0], obj[-1], obj[:, 0], obj[:, -1]]).astype(np.int16)
    # the catalogue background is a soft gradient: compare each pixel with the nearest border row's colour
    bg_rows = np.linspace(border[: obj.shape[1]].mean(0), border[obj.shape[1] : 2 * obj.shape[1]].mean(0), obj.shape[0])
    diff = np.abs(obj.astype(np.int16) - bg_rows[:, None, :].astype(np.int16)).sum(axis=2)
    mask = cv2.morphologyEx((diff > 30).astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    mask = np.zeros_like(mask)
    cv2.drawContours(mask, contours, -1, 1, thickness=-1)  # fill holes: white labels are object too
    h, w = obj.shape[:2]
    region = canvas[y : y + h, x : x + w]
    region[mask > 0] = obj[mask > 0]
    ys, xs = np.nonzero(mask)
    return x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1


def scene_frames(n: int, rng: np.random.Generator) -> list[tuple[np.ndarray, list]]:
    with tempfile.TemporaryDirectory() as tmp:
        world = generate_world(
            Path(tmp) / "w",
            WorldConfig(
                seed=7, categories=SCENE_CATEGORIES, clips_per_category=1, test_per_category=1, products_per_category=1
            ),
        )
        images = {}
        for entry in world["test_images"]:
            cat = entry["image"][1]
            if cat not in images:
                img = cv2.imread(str(Path(tmp) / "w" / "images" / Path(*entry["image"])))[..., ::-1]
                images[cat] = cv2.resize(img, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    cats = sorted(images)
    out = []
    for i in range(n):
        chosen = [cats[(3 * (i // 4) + k) % len(cats)] for k in range(3)]  # a new table every 4 frames
        table = np.full((480, 640, 3), (150, 110, 80), np.uint8)
        noise = rng.normal(0, 6, table.shape).astype(np.int16)
        table = np.clip(table.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        dets = []
        for k, cat in enumerate(chosen):
            obj = images[cat]
            x = 10 + k * 210 + int(rng.integers(0, 8))
            y = 120 + int(rng.integers(0, 8))
            x = min(x, 640 - obj.shape[1])
            dets.append((cat, paste(table, obj, x, min(y, 480 - obj.shape[0]))))
        out.append((table, dets))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples" / "demo")
    parser.add_argument("--coffee-frames", type=int, default=6)
    parser.add_argument("--scene-frames", type=int, default=12)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("frame_*.jpg"):
        old.unlink()
    frames = coffee_frames(args.coffee_frames, rng) + scene_frames(args.scene_frames, rng)
    index = []
    for i, (rgb, dets) in enumerate(frames):
        name = f"frame_{i:03d}.jpg"
        cv2.imwrite(str(args.out / name), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
        index.append(
            {
                "file": name,
                "detections": [
                    {
                        "id": f"{cls}-{j}",
                        "class_id": cls,
                        "score": round(0.95 - 0.05 * j, 2),
                        "bbox": list(map(int, box)),
                    }
                    for j, (cls, box) in enumerate(dets)
                ],
            }
        )
    (args.out / "detections.json").write_text(
        json.dumps({"source": "scripts/make_demo_samples.py", "frames": index}, indent=1)
    )
    print(f"wrote {len(index)} frames to {args.out}")


if __name__ == "__main__":
    cli.run(main)
