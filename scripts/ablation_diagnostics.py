#!/usr/bin/env python3
"""Why does map resolution help or hurt? Score trained methods' maps as they are and coarsened.

Each method's raw Eq. 4 maps are scored with the reference protocol (``training.evaluate``'s harness)
as they are, and after area-averaging them down to a G x G grid (then the usual bilinear resize to
28 x 28 in scoring). Coarsening a stride-8 model's 20 x 20 maps to 5 x 5 gives them the spatial
detail of a stride-32 model's maps while keeping what the model learned: if the coarse scores match
the stride-32 ("basic") model's, the difference between the two rows comes from map smoothness under
these metrics, not from what the features know. Not a test; prints a markdown table.

    .venv/bin/python scripts/ablation_diagnostics.py --data-root runs/protocol/world_seen --grids 5 10 \
        --method basic=runs/protocol/seen/basic/model.safetensors \
        --method resolution=runs/protocol/seen/resolution/model.safetensors \
        --method lstm_gradcam=runs/protocol/seen/lstm_gradcam/model.safetensors \
        --method ours=runs/protocol/seen/ours/model.safetensors
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotspot_core.metrics import evaluate  # noqa: E402
from training.data import build_test_images  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.evaluate import LABELS, method_maps, parse_method  # noqa: E402

METRICS = ("KLD", "SIM", "AUC-J")


def coarsen(m: np.ndarray, grid: int) -> np.ndarray:
    """Area-average a map down to grid x grid (no-op when it is already that coarse)."""
    if min(m.shape) <= grid:
        return m
    t = torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(t, grid)[0, 0].numpy()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="an OPRA-layout world (its test images)")
    p.add_argument("--method", dest="methods", action="append", type=parse_method, required=True,
                   metavar="NAME=CHECKPOINT")
    p.add_argument("--grids", type=int, nargs="+", default=[5], help="coarse grid sides to score at")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    ds = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    gts = {k: ds.heatmap(i).numpy() for i, k in enumerate(ds.keys())}
    print("| method | maps | " + " | ".join(METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for name, ckpt in args.methods:
        raw = method_maps(name, ckpt, ds, torch.device("cpu"))
        side = next(iter(raw.values())).shape[0]
        variants = [(f"{side}x{side} (as trained)", raw)]
        variants += [(f"coarsened to {g}x{g}", {k: coarsen(v, g) for k, v in raw.items()})
                     for g in args.grids if g < side]
        for what, preds in variants:
            s = evaluate(preds, gts, res=28, seed=args.seed)
            cells = [f"{s[m]['mean']:.3f} ± {s[m]['sem']:.3f}" for m in METRICS]
            print(f"| {LABELS[name]} | {what} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
