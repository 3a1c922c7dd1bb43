#!/usr/bin/env python3
"""Why does map resolution help or hurt? Score trained methods' maps as they are and coarsened.

Each method's raw Eq. 4 maps are scored with the reference protocol (``training.evaluate``'s harness)
as they are, and after area-averaging them down to a G x G grid (then the usual bilinear resize to
28 x 28 in scoring). Coarsening a stride-8 model's 20 x 20 maps to 5 x 5 gives them the spatial
detail of a stride-32 model's maps while keeping what the model learned: if the coarse scores match
the stride-32 ("basic") model's, the difference between the two rows comes from map smoothness under
these metrics, not from what the features know. Not a test; prints a markdown table.

Two more columns describe where the maps put their mass, at the maps' own resolution: the mean Pearson
correlation with the GT heatmap (area-resized to the map's grid) and the share of map mass in the outer
ring of ``--ring`` cells (a uniform 20 x 20 map has 0.36 in a 2-cell ring). ``--checks`` also prints,
per checkpoint, the largest relative difference of the analytic maps from autograd's on the test images
and the share of map mass that comes from negative backbone features.

    .venv/bin/python scripts/probes/ablation_diagnostics.py --data-root runs/protocol/world_seen --grids 5 10 \
        --method basic=runs/protocol/seen/basic/model.safetensors \
        --method resolution=runs/protocol/seen/resolution/model.safetensors \
        --method lstm_gradcam=runs/protocol/seen/lstm_gradcam/model.safetensors \
        --method ours=runs/protocol/seen/ours/model.safetensors
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.metrics import evaluate  # noqa: E402
from training.data import build_test_images  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.evaluate import LABELS, method_maps, parse_method  # noqa: E402

METRICS = ("KLD", "SIM", "AUC-J")


def placement(maps: dict, gts: dict, ring: int) -> tuple[float, float]:
    """(mean correlation with the GT at the map's grid, mean share of map mass in the outer ring)."""
    corrs, border = [], []
    for k, m in maps.items():
        total = float(m.sum())
        if total <= 0:
            continue
        p = m / total
        outer = np.ones_like(p, dtype=bool)
        outer[ring:-ring, ring:-ring] = False
        border.append(float(p[outer].sum()))
        g = F.interpolate(torch.from_numpy(np.asarray(gts[k], np.float32))[None, None], size=m.shape, mode="area")[0, 0]
        if float(g.sum()) > 0 and p.std() > 0:
            corrs.append(float(np.corrcoef(p.ravel(), g.numpy().ravel())[0, 1]))
    return float(np.mean(corrs)), float(np.mean(border))


def analytic_checks(checkpoint: str, ds, n: int = 16) -> tuple[float, float]:
    """(max relative difference analytic vs autograd, share of map mass from negative features) on n test images."""
    from hotspot_core.hotspots.checkpoint import load_model
    from training.data.clips import load_rgb
    from training.data.transforms import EvalTransform

    model = load_model(checkpoint)
    cfg = model.config
    transform = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    images = torch.stack([transform(load_rgb(ds.image_path(i))) for i in range(min(n, len(ds)))])
    with torch.no_grad():
        x = model.features(images)
        analytic = model.hotspot_maps(x, method="analytic")
    autograd = model.hotspot_maps(x, method="autograd")
    rel = float((analytic - autograd).abs().max() / autograd.abs().max())
    with torch.enable_grad():
        xg = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.inactive_logits(xg).sum(), xg)
    contrib = torch.relu(grad * x)
    return rel, float((contrib * (x < 0)).sum() / contrib.sum())


def coarsen(m: np.ndarray, grid: int) -> np.ndarray:
    """Area-average a map down to grid x grid (no-op when it is already that coarse)."""
    if min(m.shape) <= grid:
        return m
    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(t, grid)[0, 0].numpy()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="an OPRA-layout world (its test images)")
    p.add_argument(
        "--method", dest="methods", action="append", type=parse_method, required=True, metavar="NAME=CHECKPOINT"
    )
    p.add_argument("--grids", type=int, nargs="+", default=[5], help="coarse grid sides to score at")
    p.add_argument("--ring", type=int, default=2, help="width in cells of the outer ring of the mass share")
    p.add_argument("--checks", action="store_true", help="also compare analytic with autograd maps per checkpoint")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ds = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    gts = {k: ds.heatmap(i).numpy() for i, k in enumerate(ds.keys())}
    print("| method | maps | " + " | ".join(METRICS) + " | corr. with GT | outer-ring mass |")
    print("|---|---|" + "---|" * (len(METRICS) + 2))
    for name, ckpt in args.methods:
        raw = method_maps(name, ckpt, ds, torch.device("cpu"))
        side = next(iter(raw.values())).shape[0]
        variants = [(f"{side}x{side} (as trained)", raw)]
        variants += [
            (f"coarsened to {g}x{g}", {k: coarsen(v, g) for k, v in raw.items()}) for g in args.grids if g < side
        ]
        for what, preds in variants:
            s = evaluate(preds, gts, res=28, seed=args.seed)
            cells = [f"{s[m]['mean']:.3f} ± {s[m]['sem']:.3f}" for m in METRICS]
            corr, outer = placement(preds, gts, args.ring) if preds is raw else (float("nan"), float("nan"))
            cells += [f"{corr:+.3f}", f"{outer:.2f}"] if preds is raw else ["", ""]
            print(f"| {LABELS[name]} ({Path(ckpt).parent.name}) | {what} | " + " | ".join(cells) + " |", flush=True)
    if args.checks:
        print()
        for name, ckpt in args.methods:
            if name == "direct_cls":
                continue
            rel, neg = analytic_checks(ckpt, ds)
            print(
                f"{ckpt}: analytic vs autograd max rel. difference {rel:.1e}; "
                f"map mass from negative features {neg:.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    cli.run(main)
