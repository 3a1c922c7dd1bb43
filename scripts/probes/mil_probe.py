"""Can the weak label alone (the clip's verb) place each action's peak on its part? A MIL read-out (issue 11).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/mil_probe.py --data-root runs/p/world_seen \
        --cache runs/p/cache_seen --checkpoint runs/p/seen/ours/model.safetensors

A diagnostic, not a method of the package. Trained only on what the hotspot models see (the cached
inactive-image features of the training clips and the clips' verbs; no points, no boxes): one linear layer
per action on the frozen features x (a 1x1 conv, C -> A maps), pooled over space by log-sum-exp
(``--r``; large r -> max: multiple-instance learning) and trained with cross-entropy on the clip verb.
Its per-action maps on the test catalogue images are scored with ``hotspot_core.eval.part_metrics``.
Compare with the supervised probe (``scripts/probes/part_probe.py``) and the model's Eq. 4 maps
(``scripts/probes/hotspot_cause.py``). The checkpoint only gives the backbone and input size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.part_metrics import format_part_metrics, part_metrics  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402


def lse_pool(m: torch.Tensor, r: float) -> torch.Tensor:
    """(N,A,h,w) -> (N,A): (1/r) log mean exp(r m): r -> 0 is the mean, r -> inf the max."""
    flat = m.flatten(2)
    return (torch.logsumexp(r * flat, dim=2) - np.log(flat.shape[2])) / r


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--r", type=float, default=5.0, nargs="+")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(args.checkpoint)
    a = model.config.num_actions
    inactive = torch.from_numpy(np.load(args.cache / "inactive.npy").astype(np.float32))  # (N,V,C,h,w)
    verbs = torch.from_numpy(np.load(args.cache / "verbs.npy")).long()
    n, v = inactive.shape[:2]
    x_train = inactive.flatten(0, 1)
    y_train = verbs[:, None].expand(n, v).flatten()
    test = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(test)
    tf = EvalTransform(model.config.input_size, model.config.mean, model.config.std)
    feats = {}
    for i, e in enumerate(test.entries):
        img = _image_id(e)
        if img not in feats:
            with torch.no_grad():
                feats[img] = model.features(tf(load_rgb(test.image_path(i)))[None])[0]
    for r in args.r:
        torch.manual_seed(0)
        head = torch.nn.Conv2d(x_train.shape[1], a, 1)
        opt = torch.optim.Adam(head.parameters(), lr=1e-3, weight_decay=5e-4)
        for _ in range(args.epochs):
            perm = torch.randperm(x_train.shape[0])
            for s in range(0, len(perm), 64):
                idx = perm[s : s + 64]
                loss = F.cross_entropy(lse_pool(head(x_train[idx]), r), y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            maps = {k: head(f[None])[0].numpy() for k, f in feats.items()}
        print(f"== MIL read-out, log-sum-exp r={r}, final batch loss {loss.item():.3f}")
        print(format_part_metrics(part_metrics(maps, items)), flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
