#!/usr/bin/env python3
"""Which read-out of a located model keeps the part's extent? (issue 21, second step)

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/readout_probe.py --data-root runs/protocol/world_seen \\
        --fit grow=runs/protocol/seen/ours_grow/model.safetensors \\
        --fit none=runs/protocol/seen/ours_contact/model.safetensors

For each ``map_form: located`` checkpoint (``training.locate``), on the world's test images, the maps of
every action are read out in several ways from the same two tensors: the raw Eq. 4 maps ``E`` (A,h,w) and
the part head's logits ``L`` (A,h,w) (stored divided by the fit's ``temperature`` T, so ``sigmoid(T L)`` is
the fitted logistic map ``S``); ``O`` is the action-agnostic object map (``training.locate.object_map``:
the mean over actions of ``E`` clamped at 0, scaled to a maximum of 1). Each read-out is scored exactly as
``training.evaluate`` scores a method (``hotspot_core.eval.metrics.evaluate`` on the GT verb's map,
``hotspot_core.eval.part_metrics.part_metrics`` on all actions' maps; res 28, seed 0), so the ``located``
row reproduces ``training.evaluate``'s ``ours_located`` row. Read-outs:

* ``located``: ``E * softmax_actions(L)`` (the package's map form);
* ``logistic``: ``S`` alone (the fitted maps, no object prior);
* ``E x sigmoid``: ``E * S`` (the located read-out without the softmax over actions);
* ``S x O^g``: the logistic map weighted by the object map to the power ``g`` (``--gammas``);
* ``S gated O>=t``: the logistic map where ``O >= t`` (its maximum is 1), else 0 (``--gates``);
* ``S x min(1, O/t)``: the logistic map gated by the object map with a ramp: kept as it is where ``O >= t``,
  fading linearly to 0 where ``O`` does (a hard gate's zeros cost KLD wherever the GT reaches off the object
  map) (``--gates``);
* ``S x softmax``: the logistic map times the softmax over actions (the located read-out with ``S`` for ``E``);
* ``E^g x softmax``: the located read-out with each action's Eq. 4 map (scaled to a maximum of 1) to the
  power ``g`` (``--gammas``; 0: the softmax alone).

``--where T`` also prints where each small-part pair's peak falls: on its own part, on another scored part
of the same image (another test pair's box), elsewhere where ``O >= T`` (on the object map) or ``O < T``,
and the own-part share per action index. Issue 21's table in docs/training.md ("Read-outs (issue 21, second
step)") is this script's output with the defaults and ``--where 0.3`` (11 s seen, 6 s novel).

No hidden truth beyond what ``training.evaluate`` reads (the test images' part boxes and GT heatmaps).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.errors import ConfigError  # noqa: E402
from hotspot_core.eval.metrics import evaluate, format_stat  # noqa: E402
from hotspot_core.eval.part_metrics import part_metrics, peak_on_part, peak_point  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model, read_metadata  # noqa: E402
from hotspot_core.hotspots.model import build_model  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402
from training.locate import object_prior  # noqa: E402

ReadOut = Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # (E, L, T) -> maps (A,h,w)


def own_scaled(e: torch.Tensor) -> torch.Tensor:
    """(A,h,w): each action's Eq. 4 map clamped at 0 and scaled to a maximum of 1."""
    e = e.clamp_min(0)
    return e / e.flatten(1).max(1).values.clamp_min(1e-12)[:, None, None]


def read_outs(gammas: list[float], gates: list[float]) -> dict[str, ReadOut]:
    out: dict[str, ReadOut] = {
        "located": lambda e, lg, t: e * torch.softmax(lg, 0),
        "logistic": lambda e, lg, t: torch.sigmoid(lg * t),
        "E x sigmoid": lambda e, lg, t: e * torch.sigmoid(lg * t),
    }
    for g in gammas:
        out[f"S x O^{g:g}"] = lambda e, lg, t, g=g: torch.sigmoid(lg * t) * object_prior(e) ** g
    for th in gates:
        out[f"S gated O>={th:g}"] = lambda e, lg, t, th=th: torch.sigmoid(lg * t) * (object_prior(e) >= th)
    for th in gates:
        out[f"S x min(1, O/{th:g})"] = lambda e, lg, t, th=th: (
            torch.sigmoid(lg * t) * (object_prior(e) / th).clamp_max(1)
        )
    out["S x softmax"] = lambda e, lg, t: torch.sigmoid(lg * t) * torch.softmax(lg, 0)
    for g in gammas:
        out[f"E^{g:g} x softmax"] = lambda e, lg, t, g=g: own_scaled(e) ** g * torch.softmax(lg, 0)
    return out


def tensors(checkpoint: str, ds, device: torch.device) -> tuple[dict, float]:
    """{image id: (E, L)} of a located checkpoint on the test images, and its fit's temperature."""
    located = load_model(checkpoint, map_location=device).eval()
    if located.part_head is None:
        raise ConfigError(f"{checkpoint}: not a map_form located checkpoint (training.locate writes one)")
    _, extra = read_metadata(checkpoint)
    temperature = float(extra.get("located", {}).get("temperature", 4.0))
    eq4 = build_model(dataclasses.replace(located.config, map_form="eq4"))
    eq4.load_state_dict({k: v for k, v in located.state_dict().items() if not k.startswith("part_head.")})
    eq4.eval()
    cfg = located.config
    tf = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    out = {}
    for i, e in enumerate(ds.entries):
        img = _image_id(e)
        if img in out:
            continue
        with torch.no_grad():
            x = eq4.features(tf(load_rgb(ds.image_path(i)))[None].to(device))
            out[img] = (eq4.hotspot_maps(x, method="analytic")[0].float(), located.part_head(x)[0].float())
    return out, temperature


def where_peaks(stacks: dict, items: list, prior: dict, t: float) -> str:
    """Shares of the small-part pairs whose peak is on their own part, on another scored part of the same image,
    elsewhere where the object map is >= ``t`` or < ``t``; then the own-part share per verb (action index)."""
    kinds, per_verb = [], {}
    for it in items:
        if it.kind != "small":
            continue
        m = stacks[it.image][it.action]
        others = [o for o in items if o.image == it.image and o.box is not None and o.box != it.box]
        if peak_on_part(m, it):
            k = "own part"
        elif any(peak_on_part(m, o) for o in others):
            k = "another scored part"
        else:
            y, x = peak_point(m)
            o = prior[it.image]
            k = f"elsewhere, O>={t:g}" if o[int(y * o.shape[0]), int(x * o.shape[1])] >= t else f"elsewhere, O<{t:g}"
        kinds.append(k)
        per_verb.setdefault(it.action, []).append(k == "own part")
    names = ("own part", "another scored part", f"elsewhere, O>={t:g}", f"elsewhere, O<{t:g}")
    shares = ", ".join(f"{k} {kinds.count(k) / len(kinds):.3f}" for k in names)
    verbs = ", ".join(f"{a}: {np.mean(v):.2f} ({len(v)})" for a, v in sorted(per_verb.items()))
    return f"    {len(kinds)} small-part peaks: {shares}; own part per verb {verbs}"


def fit_spec(text: str) -> tuple[str, str]:
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT, got {text!r}")
    return name, path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="an OPRA-layout world with part boxes")
    p.add_argument("--fit", action="append", type=fit_spec, required=True, help="NAME=located checkpoint (repeatable)")
    p.add_argument("--gammas", type=float, nargs="*", default=[0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0])
    p.add_argument("--gates", type=float, nargs="*", default=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7])
    p.add_argument("--only", nargs="*", help="score only these read-outs (names as printed)")
    p.add_argument(
        "--where",
        type=float,
        metavar="T",
        help="also say where each small-part peak falls (own part, "
        "another scored part of the image, elsewhere with O >= T, elsewhere with O < T), per verb too",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device("cpu")
    ds = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(ds)
    keys = ds.keys()
    gts = {k: ds.heatmap(i).numpy() for i, k in enumerate(keys)}
    forms = read_outs(args.gammas, args.gates)
    if args.only:
        forms = {k: v for k, v in forms.items() if k in args.only}
    print("fit | read-out | peak small | peak whole | own-mean hit | own-other hit | KLD | SIM | AUC-J")
    for name, path in args.fit:
        data, temperature = tensors(path, ds, device)
        for form, read in forms.items():
            stacks = {img: read(e, lg, temperature).numpy() for img, (e, lg) in data.items()}
            preds = {k: stacks[_image_id(e)][int(e["verb"])] for k, e in zip(keys, ds.entries)}
            sc = evaluate(preds, gts, res=28, seed=0)
            pm = part_metrics(stacks, items, res=28, seed=0)
            cells = [
                format_stat(pm["peak_on_part"]["small"]).split(" (")[0],
                format_stat(pm["peak_on_part"]["whole"]).split(" (")[0],
                format_stat(pm["vs_mean"]["hit"], signed=True).split(" (")[0],
                format_stat(pm["vs_other"]["hit"], signed=True).split(" (")[0],
                *(format_stat(sc[m]).split(" (")[0] for m in ("KLD", "SIM", "AUC-J")),
            ]
            print(" | ".join([name, form, *cells]), flush=True)
            if args.where is not None:
                print(where_peaks(stacks, items, {img: object_prior(e) for img, (e, _) in data.items()}, args.where))
    return 0


if __name__ == "__main__":
    cli.run(main)
