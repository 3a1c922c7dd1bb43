#!/usr/bin/env python3
"""Where does a model's map mass come from: the image border? A diagnostic for docs/training.md.

For each checkpoint, on a world's test images, at the maps' own grid, the share in the outer ``--ring``
cells (a uniform 20 x 20 map has 0.36 in a 2-cell ring) of:

- ``|x|``: the frozen trunk's features (per-cell L2 norm over channels);
- ``|z|``: F_ant's output (per-cell L2 norm), what the pooled classifier reads; and the same with F_ant
  applied to x mirrored by one cell at its edges (cropped back): F_ant without its own zero padding;
- ``|g|``: the gradient of the GT action's logit w.r.t. x, summed over channels (Eq. 4's spatial pattern);
- the Eq. 4 map of the GT action, with its mean correlation with the GT heatmap and AUC-J.

Then the same maps from **reflect-padded** inputs: each image is padded by ``--pad`` pixels on every side
(mirrored content, so the trunk's zero padding sits outside the object's image), the maps are computed on
the larger input and cropped back to the original image's cells. If a model's maps go to the border
because of the trunk's zero-padding (deep trunks see the edge everywhere near it), padding moves that
away and the cropped maps localise; if they stay as they were, the border is not the cause.

    .venv/bin/python scripts/probes/border_probe.py --data-root runs/fd/world_seen \
        --method ours=runs/fd/seen/ours/model.safetensors --method full=runs/fd/seen/full_ours/model.safetensors
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
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.data import build_test_images  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402


def ring_share(m: torch.Tensor, ring: int) -> float:
    """Mean over items of the share of (non-negative) mass of (N,h,w) ``m`` in the outer ring."""
    outer = torch.ones(m.shape[-2:], dtype=torch.bool)
    outer[ring:-ring, ring:-ring] = False
    total = m.flatten(1).sum(1).clamp_min(1e-12)
    return float((m[:, outer].sum(1) / total).mean())


def gt_correlation(maps: np.ndarray, gts: list[np.ndarray]) -> float:
    corrs = []
    for m, g in zip(maps, gts):
        gg = F.interpolate(torch.from_numpy(np.asarray(g, np.float32))[None, None], size=m.shape, mode="area")[0, 0]
        if m.std() > 0 and float(gg.sum()) > 0:
            corrs.append(float(np.corrcoef(m.ravel(), gg.numpy().ravel())[0, 1]))
    return float(np.mean(corrs))


def probe(
    name: str, checkpoint: str, ds, gts: list[np.ndarray], keys: list, ring: int, pad: int, seed: int
) -> list[str]:
    model = load_model(checkpoint).eval()
    cfg = model.config
    transform = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    images = torch.stack([transform(load_rgb(ds.image_path(i))) for i in range(len(ds))])
    verbs = torch.tensor(ds.labels, dtype=torch.long)
    rows = []
    for what, p in (("as evaluated", 0), (f"reflect-padded by {pad} px, cropped back", pad)):
        inp = F.pad(images, (p, p, p, p), mode="reflect") if p else images
        with torch.no_grad():
            x = model.features(inp)
        stride = inp.shape[-1] / x.shape[-1]
        c = round(p / stride)  # cells of padding on each side of the map
        crop = (slice(None), slice(c, x.shape[-2] - c), slice(c, x.shape[-1] - c))
        xg = x.detach().requires_grad_(True)
        with torch.enable_grad():
            z = model.anticipate(xg)
            logits = model.inactive_logits(xg)
            (grad,) = torch.autograd.grad(logits.gather(1, verbs[:, None]).sum(), xg)
        with torch.no_grad():
            maps = model.hotspot_maps(x, verbs[:, None])[:, 0]
        with torch.no_grad():  # F_ant without its own zero padding: on x mirrored by one cell, cropped back
            z_mirror = model.anticipate(F.pad(x, (1, 1, 1, 1), mode="reflect"))[..., 1:-1, 1:-1]
        cells = {
            "|x|": x.norm(dim=1)[crop],
            "|z|": z.detach().norm(dim=1)[crop],
            "|z| mirrored x": z_mirror.norm(dim=1)[crop],
            "|g|": grad.abs().sum(1)[crop],
            "map": maps[crop].clamp_min(0),
        }
        raw = cells["map"].numpy()
        scores = evaluate({k: m for k, m in zip(keys, raw)}, dict(zip(keys, gts)), res=28, seed=seed)
        shares = " | ".join(f"{ring_share(v, ring):.2f}" for v in cells.values())
        rows.append(
            f"| {name} | {what} | {shares} | {gt_correlation(raw, gts):+.3f} | "
            f"{scores['AUC-J']['mean']:.3f} ± {scores['AUC-J']['sem']:.3f} | {scores['KLD']['mean']:.3f} |"
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="an OPRA-layout world (its test images)")
    p.add_argument("--method", dest="methods", action="append", required=True, metavar="NAME=CHECKPOINT")
    p.add_argument("--ring", type=int, default=2, help="width in cells of the outer ring")
    p.add_argument("--pad", type=int, default=48, help="reflect padding in input pixels (a multiple of the stride)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    ds = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    keys = ds.keys()
    gts = [ds.heatmap(i).numpy() for i in range(len(ds))]
    print(f"outer-ring share ({args.ring} cells) of each quantity at the map grid; {len(ds)} test pairs")
    print(
        "| model | input | \\|x\\| | \\|z\\| | \\|z\\|, F_ant on mirrored x | \\|g\\| | map | corr. with GT | AUC-J | KLD |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in args.methods:
        name, _, ckpt = spec.partition("=")
        for row in probe(
            name if ckpt else Path(spec).stem, ckpt or spec, ds, gts, keys, args.ring, args.pad, args.seed
        ):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
