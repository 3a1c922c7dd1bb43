"""Why are the per-action hotspot maps alike? Measure candidates on trained checkpoints (issue 11, part 2).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/hotspot_cause.py --data-root runs/p/world_seen \
        --method ours=runs/p/seen/ours/model.safetensors --method lstm=runs/p/seen/lstm_gradcam/model.safetensors

For each checkpoint, on the test catalogue images (all actions' maps of each image), from one autograd pass
g_a = d y_a / d x (x: the frozen backbone features), several map forms are scored with
``hotspot_core.part_metrics`` (peak-on-part small / whole, own - mean and own - other-action hit rates):

* ``eq4``: sum_c ReLU(g_a * x), the paper's Eq. 4;
* ``eq4_xpos``: sum_c ReLU(g_a) * ReLU(x), Eq. 4 as non-negative (ResNet-like) features would give it;
* ``gradcam``: ReLU(sum_c mean_hw(g_a) * x), Grad-CAM's channel weighting;
* ``grad_x``: ReLU(sum_c g_a * x), gradient x input summed over channels before the ReLU;
* ``abs_grad``: sum_c |g_a|, the spatial pattern of the gradient alone;
* ``eq4_contrast`` / ``cam_contrast``: Eq. 4 / Grad-CAM with the contrastive seed y_a - mean_b y_b.

Per verb: peak-on-part of the Eq. 4 maps for each verb's pairs (which verbs' parts the model finds).

Also printed: the share of negative feature values, the cosine between actions' maps / channel seeds
(d y_a / d pooled, and the F_ant-output gradient summed over space) / spatial gradient patterns, the logit
spread across actions, and part visibility at the map size (the share of test parts whose box holds at least
one map-cell centre: the ceiling of peak-on-part at that resolution). Writes ``--json`` when given.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.part_metrics import part_metrics  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402

FORMS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    # g: (N,K,C,h,w), x: (N,1,C,h,w) -> (N,K,h,w)
    "eq4": lambda g, x: F.relu(g * x).sum(2),
    "eq4_xpos": lambda g, x: (F.relu(g) * F.relu(x)).sum(2),
    "gradcam": lambda g, x: F.relu((g.mean((3, 4), keepdim=True) * x).sum(2)),
    "grad_x": lambda g, x: F.relu((g * x).sum(2)),
    "abs_grad": lambda g, x: g.abs().sum(2),
    # Contrastive seeds: the gradient of y_a - mean_b y_b, i.e. g_a minus the actions' mean gradient.
    "eq4_contrast": lambda g, x: F.relu((g - g.mean(1, keepdim=True)) * x).sum(2),
    "cam_contrast": lambda g, x: F.relu(((g - g.mean(1, keepdim=True)).mean((3, 4), keepdim=True) * x).sum(2)),
}


def _cos_offdiag(v: np.ndarray) -> float:
    """Mean cosine between different rows of (K, D)."""
    v = v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)
    c = v @ v.T
    k = c.shape[0]
    return float((c.sum() - np.trace(c)) / (k * (k - 1)))


def gradients(model: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g (N,A,C,h,w) = d y_a / d x, seed (N,A,C) = d y_a / d pooled, gz (N,A,C) = d y_a / d z summed)."""
    n, a = x.shape[0], model.config.num_actions
    with torch.enable_grad():
        model.project.eval()
        xr = x.detach()[:, None].expand(n, a, *x.shape[1:]).reshape(n * a, *x.shape[1:]).requires_grad_(True)
        z = model.anticipate(xr)
        z.retain_grad()
        pooled = model.pool(z)
        pooled.retain_grad()
        logits = model.fc(model.lstm_step(pooled)).view(n, a, a)
        logits.diagonal(dim1=1, dim2=2).sum().backward()
    shape = (n, a, *x.shape[1:])
    return xr.grad.view(shape), pooled.grad.view(n, a, -1), z.grad.view(shape).sum((3, 4))


def analyse(name: str, ckpt: str, ds: Any, items: list, batch: int = 8) -> dict[str, Any]:
    model = load_model(ckpt)
    cfg = model.config
    transform = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    first: dict[tuple[str, ...], int] = {}
    for i, e in enumerate(ds.entries):
        first.setdefault(_image_id(e), i)
    images = list(first.items())
    maps: dict[str, dict[Any, np.ndarray]] = {f: {} for f in FORMS}
    neg, cos_maps, cos_seed, cos_gz, cos_abs, spread = [], [], [], [], [], []
    for s in range(0, len(images), batch):
        chunk = images[s : s + batch]
        with torch.no_grad():
            x = model.features(torch.stack([transform(load_rgb(ds.image_path(i))) for _, i in chunk]))
            logits = model.inactive_logits(x)
        g, seed, gz = gradients(model, x)
        neg.append(float((x < 0).float().mean()))
        spread += logits.std(1).tolist()
        for f, fn in FORMS.items():
            m = fn(g, x[:, None]).detach().numpy()
            for (img, _), mi in zip(chunk, m):
                maps[f][img] = mi
        for j in range(len(chunk)):
            cos_maps.append(_cos_offdiag(maps["eq4"][chunk[j][0]].reshape(cfg.num_actions, -1)))
            cos_seed.append(_cos_offdiag(seed[j].numpy()))
            cos_gz.append(_cos_offdiag(gz[j].numpy()))
            cos_abs.append(_cos_offdiag(maps["abs_grad"][chunk[j][0]].reshape(cfg.num_actions, -1)))
    out: dict[str, Any] = {
        "checkpoint": ckpt,
        "backbone": cfg.backbone,
        "anticipation": cfg.use_anticipation,
        "pool": cfg.pool,
        "negative_feature_share": float(np.mean(neg)),
        "cos_eq4_maps": float(np.mean(cos_maps)),
        "cos_pooled_seeds": float(np.mean(cos_seed)),
        "cos_z_seeds": float(np.mean(cos_gz)),
        "cos_abs_grad": float(np.mean(cos_abs)),
        "logit_std_across_actions": float(np.mean(spread)),
        "forms": {f: part_metrics(m, items) for f, m in maps.items()},
    }
    fs = cfg.feature_size
    out["part_visible_at_map"] = _visibility(items, fs)
    out["per_verb_eq4"] = {}
    for v, verb in enumerate(ds.verbs):
        sub = [it for it in items if it.action == v]
        if sub:
            r = part_metrics(maps["eq4"], sub)["peak_on_part"]
            out["per_verb_eq4"][verb] = {"all": r["all"]["mean"], "n": r["all"]["n_valid"]}
    return out


def _visibility(items: list, size: int) -> dict[str, float]:
    """Share of small / whole parts whose box holds at least one of the size x size map-cell centres."""
    res: dict[str, list[float]] = {"small": [], "whole": []}
    centres = (np.arange(size) + 0.5) / size
    for it in items:
        if it.box is None:
            continue
        h, w = it.shape
        r0, r1, c0, c1 = it.box
        rows = ((centres * h >= r0) & (centres * h < r1 + 1)).any()
        cols = ((centres * w >= c0) & (centres * w < c1 + 1)).any()
        res[it.kind].append(float(rows and cols))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in res.items()}


def _fmt(r: dict[str, Any]) -> str:
    lines = [f"{k}: {v:.3f}" for k, v in r.items() if isinstance(v, float)]
    lines.append("part visible at map size: " + ", ".join(f"{k} {v:.3f}" for k, v in r["part_visible_at_map"].items()))
    lines.append(
        "per verb (Eq. 4 peak-on-part): "
        + ", ".join(f"{v} {d['all']:.2f} ({d['n']})" for v, d in r["per_verb_eq4"].items())
    )
    lines.append("| form | peak small | peak whole | own−mean hit | own−other hit | own−other KLD | own−other AUC-J |")
    lines.append("|---|---|---|---|---|---|---|")
    for f, pm in r["forms"].items():
        p, vm, vo = pm["peak_on_part"], pm["vs_mean"], pm["vs_other"]
        lines.append(
            f"| {f} | {p['small']['mean']:.3f} | {p['whole']['mean']:.3f} | {vm['hit']['mean']:+.3f} | "
            f"{vo['hit']['mean']:+.3f} | {vo['KLD']['mean']:+.3f} | {vo['AUC-J']['mean']:+.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--method", action="append", required=True, metavar="NAME=CHECKPOINT")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    ds = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(ds)
    results = {}
    for spec in args.method:
        name, _, ckpt = spec.partition("=")
        results[name] = analyse(name, ckpt, ds, items)
        print(f"== {name} ({ckpt})\n{_fmt(results[name])}\n", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    cli.run(main)
