"""Are the action parts distinct in the frozen features at the map size? A supervised linear probe (issue 11).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/part_probe.py --data-root runs/p/world_seen \
        --checkpoint runs/p/seen/ours/model.safetensors

A diagnostic, not a method: the hotspot models never see part boxes. Here one linear layer per action on
the backbone features x (C at each of the h x w cells; the checkpoint gives backbone and input size) is
trained on the world's *train* catalogue images to say whether a cell centre lies in the box of the part
that action needs (only the actions the image affords; logistic loss, Adam, fixed seed), then scored on
the test images with ``hotspot_core.part_metrics`` like any method. Its peak-on-part says how far the frozen
features at this resolution can put each action's peak on its part; the gap to a trained model's maps is
what weak supervision leaves on the table. Also prints the same probe on F_ant's output z (what Eq. 4's
gradient flows back through) when the checkpoint has an anticipation module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.part_metrics import format_part_metrics, part_metrics  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402


def features(model, ds, use_z: bool) -> dict:
    cfg = model.config
    tf = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    out = {}
    for i, e in enumerate(ds.entries):
        img = _image_id(e)
        if img in out:
            continue
        with torch.no_grad():
            x = model.features(tf(load_rgb(ds.image_path(i)))[None])
            out[img] = (model.anticipate(x) if use_z else x)[0]
    return out


def targets(items, size: int, n_actions: int) -> dict:
    """{image: (mask (A,) of scored actions, target (A,size,size))}: 1 where the cell centre is in the box."""
    centres = (np.arange(size) + 0.5) / size
    out: dict = {}
    for it in items:
        mask, t = out.setdefault(it.image, (np.zeros(n_actions, bool), np.zeros((n_actions, size, size), np.float32)))
        h, w = it.shape
        r0, r1, c0, c1 = it.box
        rows = (centres * h >= r0) & (centres * h < r1 + 1)
        cols = (centres * w >= c0) & (centres * w < c1 + 1)
        t[it.action] = rows[:, None] & cols[None, :]
        mask[it.action] = True
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = load_model(args.checkpoint)
    a = model.config.num_actions
    train = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="train")
    test = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    test_items = part_items(test)
    for use_z in [False, True] if model.config.use_anticipation else [False]:
        feats = features(model, train, use_z)
        tg = targets(part_items(train), model.config.feature_size, a)
        x = torch.stack([feats[k] for k in tg])  # (N,C,h,w)
        y = torch.from_numpy(np.stack([tg[k][1] for k in tg]))  # (N,A,h,w)
        m = torch.from_numpy(np.stack([tg[k][0] for k in tg]))  # (N,A)
        probe = torch.nn.Conv2d(x.shape[1], a, 1)
        opt = torch.optim.Adam(probe.parameters(), lr=1e-2)
        pos = float((y * m[:, :, None, None]).sum() / (m.sum() * y.shape[2] * y.shape[3]))
        weight = torch.tensor((1 - pos) / max(pos, 1e-6))  # balance the rare in-part cells
        for _ in range(args.steps):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                probe(x), y, pos_weight=weight, reduction="none"
            ).mean((2, 3))
            loss = (loss * m).sum() / m.sum()
            loss.backward()
            opt.step()
        test_feats = features(model, test, use_z)
        with torch.no_grad():
            maps = {k: torch.sigmoid(probe(v[None]))[0].numpy() for k, v in test_feats.items()}
        where = "F_ant output z" if use_z else "backbone features x"
        print(f"== linear part probe on {where} ({len(tg)} train images, final loss {loss.item():.3f})")
        print(format_part_metrics(part_metrics(maps, test_items)), flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
