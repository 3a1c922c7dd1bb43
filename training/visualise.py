"""Per-action hotspot overlays on images, written as PNGs (one colour per action, as the paper's figures).

    python -m training.visualise --checkpoint models/demo_synthetic_efficientnet_lite0.safetensors \
        --images a.jpg b.jpg --out viz/
    python -m training.visualise --checkpoint runs/ours/model.safetensors \
        --data-name opra --data-root /tmp/world --num 8 --out viz/ [--actions hold rotate push]

Each PNG shows the image and, beside it, the overlay of the chosen actions' maps (all by default):
the model input is the straight resize of the eval transform, maps are max-normalised per action and
drawn with ``hotspot_core.overlay`` (the strongest action wins a pixel), with a colour key. With a
dataset, each test image's annotated (GT) points are drawn as small white dots.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from hotspot_core.boxes import Roi
from hotspot_core.model import HotspotModel, load_model
from hotspot_core.overlay import draw_hotspots, draw_legend
from hotspot_core.postprocess import normalise_maps
from hotspot_core.preprocess import to_input_batch

from .data import add_dataset_args, build_test_images, dataset_config_from_args

__all__ = ["render_overlay", "visualise_images", "main"]

PANEL = 256


def render_overlay(model: HotspotModel, image_rgb: np.ndarray, actions: Sequence[int],
                   points: Sequence[Sequence[float]] = ()) -> np.ndarray:
    """(PANEL, 2*PANEL, 3) uint8 RGB: the image, and the image with the actions' hotspots and a key."""
    cfg = model.config
    crop = cv2.resize(image_rgb, (cfg.input_size, cfg.input_size), interpolation=cv2.INTER_LINEAR)
    batch = to_input_batch([crop], cfg.mean, cfg.std, next(model.parameters()).device)
    with torch.no_grad():
        maps = model.hotspot_maps(model.features(batch), list(actions), method="analytic")[0]
    normed, _ = normalise_maps(maps.float().cpu().numpy())
    panel = cv2.resize(image_rgb, (PANEL, PANEL), interpolation=cv2.INTER_AREA)
    overlay = panel.copy()
    draw_hotspots(overlay, Roi(0, 0, PANEL, PANEL), normed, list(actions))
    h, w = image_rgb.shape[:2]
    for r, c in points:  # [row, col] in source pixels (OPRA convention)
        cv2.circle(overlay, (int(c / w * PANEL), int(r / h * PANEL)), 2, (255, 255, 255), -1)
    # A dark box behind the key: its names are drawn in white and catalogue backgrounds are light.
    width = 24 + 7 * max(len(cfg.actions[a]) for a in actions)
    cv2.rectangle(overlay, (0, 0), (width, 6 + 14 * len(set(actions))), (40, 40, 40), -1)
    draw_legend(overlay, cfg.actions, actions)
    return np.concatenate([panel, overlay], axis=1)


def _action_indices(model: HotspotModel, names: Sequence[str] | None) -> list[int]:
    if not names:
        return list(range(model.config.num_actions))
    missing = [a for a in names if a not in model.actions]
    if missing:
        raise SystemExit(f"unknown actions {missing}; the model has {list(model.actions)}")
    return [model.actions.index(a) for a in names]


def visualise_images(model: HotspotModel, items: Sequence[tuple[str, np.ndarray, Sequence[Sequence[float]]]],
                     out_dir: Path, actions: Sequence[int]) -> list[Path]:
    """Write one PNG per (name, RGB image, GT points) item; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image, points in items:
        path = out_dir / f"{name}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(render_overlay(model, image, actions, points), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def _read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.visualise", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, nargs="*", default=None, help="image files (else the dataset's test images)")
    p.add_argument("--num", type=int, default=8, help="how many distinct test images (dataset mode)")
    p.add_argument("--split", default="test")
    p.add_argument("--actions", nargs="*", default=None, help="action names to draw (default: all)")
    p.add_argument("--out", type=Path, required=True, help="output folder for the PNGs")
    p.add_argument("--device", default="cpu")
    add_dataset_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model = load_model(args.checkpoint, map_location=args.device)
    actions = _action_indices(model, args.actions)
    items: list[tuple[str, np.ndarray, Sequence[Sequence[float]]]] = []
    if args.images:
        items = [(p.stem, _read_rgb(p), ()) for p in args.images]
    else:
        ds = build_test_images(dataset_config_from_args(args), split=args.split)
        seen: dict[Path, list[list[float]]] = {}
        for i, e in enumerate(ds.entries):
            path = ds.image_path(i)
            if path not in seen and len(seen) >= args.num:
                continue
            seen.setdefault(path, []).extend(e["points"])
        items = [("_".join(p.relative_to(ds.images_root).with_suffix("").parts), _read_rgb(p), pts)
                 for p, pts in seen.items()]
    written = visualise_images(model, items, args.out, actions)
    print(f"wrote {len(written)} PNGs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
