"""Hotspot pictures of images, written as PNGs, drawn by the one renderer (``hotspot_core.image.overlay``).

    python -m training.visualise --checkpoint models/demo_synthetic_efficientnet_lite0.safetensors \
        --images a.jpg b.jpg --out viz/
    python -m training.visualise --checkpoint runs/ours/model.safetensors \
        --data-name opra --data-root /tmp/world --num 8 --out viz/ [--actions hold rotate push] [--grid]

Default: each PNG shows the image and, beside it, the picture a person sees from the node: the most
likely action (``--top-k`` of them; or every action named with ``--actions``) as a filled blob in its
colour on the part its map points to, the peak marked and labelled with the action and its probability,
and a colour key. ``--grid``: one panel per action instead (the whole map as a heat map, its blob contour
and peak), for inspecting every map of the image. The image is the model input's straight resize (the
eval transform); with a dataset, each test image's annotated (GT) points are drawn as small white dots.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from hotspot_core import cli
from hotspot_core.hotspots.checkpoint import load_model
from hotspot_core.hotspots.model import HotspotModel
from hotspot_core.image.boxes import Roi
from hotspot_core.image.overlay import ObjectMaps, OverlayConfig, render_overlay
from hotspot_core.image.overlay_grid import GridConfig, render_grid
from hotspot_core.image.postprocess import normalise_maps
from hotspot_core.image.preprocess import to_input_batch

from .data import add_dataset_args, build_test_images, dataset_config_from_args

__all__ = ["image_maps", "render_side_by_side", "render_action_grid", "visualise_images", "main"]

PANEL = 256  # side of each square picture (the model input is square too)
GT_DOT = (255, 255, 255)


def image_maps(
    model: HotspotModel, image_rgb: np.ndarray, actions: Sequence[int] | None = None, size: int = PANEL
) -> tuple[np.ndarray, ObjectMaps]:
    """The image resized to ``size`` x ``size`` and the model's scores and max-normalised maps of it (the
    whole image is the object) for ``actions`` (all by default)."""
    cfg = model.config
    actions = list(range(cfg.num_actions)) if actions is None else list(actions)
    crop = cv2.resize(image_rgb, (cfg.input_size, cfg.input_size), interpolation=cv2.INTER_LINEAR)
    batch = to_input_batch([crop], cfg.mean, cfg.std, next(model.parameters()).device)
    with torch.no_grad():
        x = model.features(batch)
        maps = model.hotspot_maps(x, actions, method="analytic")[0]
        scores = torch.softmax(model.inactive_logits(x)[0].float(), dim=0)
    normed, _ = normalise_maps(maps.float().cpu().numpy())
    panel = cv2.resize(image_rgb, (size, size), interpolation=cv2.INTER_AREA)
    return panel, ObjectMaps(Roi(0, 0, size, size), scores.cpu().numpy(), np.asarray(actions, np.int64), normed)


def _gt_dots(panel: np.ndarray, points: Sequence[Sequence[float]], source_shape: tuple[int, ...]) -> None:
    h, w = source_shape[:2]
    for r, c in points:  # [row, col] in source pixels (OPRA convention)
        cv2.circle(panel, (int(c / w * panel.shape[1]), int(r / h * panel.shape[0])), 2, GT_DOT, -1)


def render_side_by_side(
    model: HotspotModel,
    image_rgb: np.ndarray,
    actions: Sequence[int] | None = None,
    points: Sequence[Sequence[float]] = (),
    config: OverlayConfig | None = None,
) -> np.ndarray:
    """(PANEL, 2*PANEL, 3) uint8 RGB: the image, and the overlay picture. ``actions`` given: all of them
    are drawn; None: the model's ``config.top_k`` most likely."""
    config = config or OverlayConfig()
    if actions is not None:
        config = OverlayConfig(**{**config.__dict__, "top_k": len(actions)})
    panel, obj = image_maps(model, image_rgb, actions)
    picture = render_overlay(panel, [("", obj)], model.actions, config).image
    _gt_dots(picture, points, image_rgb.shape)
    return np.concatenate([panel, picture], axis=1)


def render_action_grid(
    model: HotspotModel,
    image_rgb: np.ndarray,
    actions: Sequence[int] | None = None,
    points: Sequence[Sequence[float]] = (),
    config: GridConfig = GridConfig(),
) -> np.ndarray:
    """One panel per action (all by default): ``hotspot_core.image.overlay_grid.render_grid`` of the image."""
    panel, obj = image_maps(model, image_rgb, actions, size=config.tiles.tile_px)
    _gt_dots(panel, points, image_rgb.shape)
    return render_grid(panel, obj, model.actions, config).image


def _action_indices(model: HotspotModel, names: Sequence[str] | None) -> list[int] | None:
    if not names:
        return None
    missing = [a for a in names if a not in model.actions]
    if missing:
        cli.fail(f"unknown actions {missing}; the model has {list(model.actions)}")
    return [model.actions.index(a) for a in names]


def output_names(paths: Sequence[Path]) -> list[str]:
    """A PNG name per input image: its file stem, or, where stems repeat (``a/catalog.jpg``,
    ``b/catalog.jpg``), its path below the images' common folder joined by '_' (``a_catalog``)."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems):
        return stems
    resolved = [p.resolve() for p in paths]
    common = Path(os.path.commonpath([str(p.parent) for p in resolved]))
    return ["_".join(p.relative_to(common).with_suffix("").parts) for p in resolved]


def visualise_images(
    model: HotspotModel,
    items: Sequence[tuple[str, np.ndarray, Sequence[Sequence[float]]]],
    out_dir: Path,
    actions: Sequence[int] | None = None,
    grid: bool = False,
    config: OverlayConfig | None = None,
) -> list[Path]:
    """Write one PNG per (name, RGB image, GT points) item; returns the paths."""
    names = [name for name, _, _ in items]
    if len(set(names)) != len(names):  # one PNG would silently replace another
        raise ValueError(f"output names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image, points in items:
        path = out_dir / f"{name}.png"
        if grid:
            picture = render_action_grid(model, image, actions, points, GridConfig(overlay=config or OverlayConfig()))
        else:
            picture = render_side_by_side(model, image, actions, points, config)
        if not cv2.imwrite(str(path), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def _read_rgb(path: Path) -> np.ndarray:
    if not path.is_file():  # before OpenCV, which would add a warning line of its own
        cli.fail(f"no such image: {path}")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        cli.fail(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.visualise", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, nargs="*", default=None, help="image files (else the dataset's test images)")
    p.add_argument("--num", type=int, default=8, help="how many distinct test images (dataset mode)")
    p.add_argument("--split", default="test")
    p.add_argument(
        "--actions",
        nargs="*",
        default=None,
        help="action names to draw, each as a blob (default: the --top-k most likely; grid: all)",
    )
    p.add_argument("--top-k", type=int, default=OverlayConfig.top_k, help="actions drawn when --actions is not given")
    p.add_argument(
        "--level",
        type=float,
        default=OverlayConfig.level,
        help="a blob is the map's region at or above this fraction of its peak",
    )
    p.add_argument("--grid", action="store_true", help="one panel per action instead of the overlay picture")
    p.add_argument("--out", type=Path, required=True, help="output folder for the PNGs")
    p.add_argument("--device", default="cpu")
    add_dataset_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = OverlayConfig(top_k=args.top_k, level=args.level, show_object_names=False)
    except ValueError as exc:
        cli.fail(str(exc))
    model = load_model(args.checkpoint, map_location=args.device)
    actions = _action_indices(model, args.actions)
    items: list[tuple[str, np.ndarray, Sequence[Sequence[float]]]] = []
    if args.images:
        items = [(name, _read_rgb(p), ()) for name, p in zip(output_names(args.images), args.images)]
    else:
        ds = build_test_images(dataset_config_from_args(args), split=args.split)
        seen: dict[Path, list[list[float]]] = {}
        for i, e in enumerate(ds.entries):
            path = ds.image_path(i)
            if path not in seen and len(seen) >= args.num:
                continue
            seen.setdefault(path, []).extend(e["points"])
        items = [
            ("_".join(p.relative_to(ds.images_root).with_suffix("").parts), _read_rgb(p), pts)
            for p, pts in seen.items()
        ]
    written = visualise_images(model, items, args.out, actions, grid=args.grid, config=config)
    print(f"wrote {len(written)} PNGs to {args.out}")
    return 0


if __name__ == "__main__":
    cli.run(main)
