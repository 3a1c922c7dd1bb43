"""Score hotspot methods on a dataset's test images with the reference protocol (spec 3).

    python -m training.evaluate --data-name opra --data-root /tmp/world \
        --method ours=runs/ours/model.safetensors --method lstm_gradcam=runs/lstm/model.safetensors \
        --method direct_cls=runs/direct/model.safetensors --method center_bias --json results.json

Every method is scored in the same harness: each test (image, verb) pair gets the map of its GT verb
(as the reference's eval does), GT maps come from ``HotspotTestImages`` (points -> Gaussian -> 224x224),
and ``hotspot_core.eval.metrics.evaluate`` does the 28x28 scoring. Methods:

* ``ours``: our checkpoint (F_ant -> pool -> 1-step LSTM -> fc, Eq. 4 maps on the backbone features);
* ``ours_cam``: the same checkpoint read out with ``map_form: cam`` (an extension of ours, not the paper's:
  Grad-CAM's channel weighting of the same gradient; ``hotspot_core.config.MAP_FORMS``);
* ``ours_located``: a ``map_form: located`` checkpoint (an extension of ours, not the paper's: the Eq. 4
  maps weighted by a part head fitted where the training clips move, ``training.locate``);
* ``lstm_gradcam``: a checkpoint trained with ``ant_loss none``: the same maps through the classifier
  without F_ant (the reference's ``ic_classifier`` with ``ant_loss=None``);
* ``direct_cls``: a DIRECT CLS checkpoint (``training.train --method direct_cls``);
* ``basic``: the supplement's "OURS (BASIC)" row: no anticipation, average pooling, a native stride-32
  backbone (7x7 maps at 224 px);
* ``resolution``: its "+ RESOLUTION" row: no anticipation, average pooling, the dilated stride-8 backbone;
* ``center_bias``: the reference's fixed Gaussian (no checkpoint);
* ``mean_map``: the action-agnostic baseline of a checkpoint: the mean of its max-normalised maps over all
  actions, the same map for every action of an image (issue 11);
* ``oracle``: the ceiling of peak-on-part: a Gaussian at the GT part's centre (no checkpoint).

Besides the reference's metrics, every method gets the planner's metrics of ``hotspot_core.eval.part_metrics``
(peak-on-part, small / whole-body parts apart; own map vs the action-agnostic mean map and vs another
action of the same image that needs another part), from its maps for all actions of each test image.

Supplement Table S1 rows: BASIC -> +RESOLUTION -> "+L2 POOL" (the ``lstm_gradcam`` model: stride 8, L2
pooling, no anticipation) -> "+ANTICIPATION" (``ours``); the JSON names them under ``ablation_row``.
Each checkpoint is checked to be the variant its method name claims.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hotspot_core import cli
from hotspot_core.errors import ConfigError
from hotspot_core.eval.ground_truth import center_bias_map
from hotspot_core.eval.metrics import evaluate, format_results
from hotspot_core.eval.part_metrics import PartItem, action_agnostic_map, format_part_metrics, oracle_map, part_metrics
from hotspot_core.hotspots.checkpoint import load_model, read_metadata

from .data import add_dataset_args, build_test_images, dataset_config_from_args
from .data.clips import load_rgb
from .data.test_images import HotspotTestImages
from .data.transforms import EvalTransform
from .direct_cls import load_direct_cls
from .distributed import resolve_device

__all__ = ["METHODS", "ABLATION_ROWS", "method_maps", "evaluate_methods", "main"]

METHODS = (
    "ours",
    "ours_cam",
    "ours_located",
    "lstm_gradcam",
    "direct_cls",
    "basic",
    "resolution",
    "center_bias",
    "mean_map",
    "oracle",
)
NO_CHECKPOINT = ("center_bias", "oracle")
ABLATION_ROWS = {
    "basic": "OURS (BASIC)",
    "resolution": "+ RESOLUTION",
    "lstm_gradcam": "+ L2 POOL",
    "ours": "+ ANTICIPATION",
    "direct_cls": "DIRECT CLS",
}
LABELS = {
    "ours": "OURS",
    "ours_cam": "OURS + CAM MAPS (ours, not the paper's)",
    "ours_located": "OURS + LOCATED MAPS (ours, not the paper's)",
    "lstm_gradcam": "LSTM+GRAD-CAM",
    "direct_cls": "DIRECT CLS",
    "basic": "OURS (BASIC)",
    "resolution": "+ RESOLUTION",
    "center_bias": "CENTER BIAS",
    "mean_map": "ACTION-AGNOSTIC MEAN MAP",
    "oracle": "ORACLE (GT PART CENTRE)",
}
# What each hotspot-model method must be: (anticipation, pool, backbone output stride); None: any.
VARIANTS = {
    "ours": (True, None, None),
    "ours_cam": (True, None, None),
    "ours_located": (True, None, None),
    "lstm_gradcam": (False, "l2", None),
    "basic": (False, "avg", 32),
    "resolution": (False, "avg", 8),
}


def _images(ds: HotspotTestImages, size: int, mean: Sequence[float], std: Sequence[float], batch: int) -> Any:
    """Batches of (indices, (B,3,size,size) eval-transformed images, (B,) verbs)."""
    transform = EvalTransform(size, mean, std)
    labels = ds.labels
    for start in range(0, len(ds), batch):
        idx = list(range(start, min(start + batch, len(ds))))
        images = torch.stack([transform(load_rgb(ds.image_path(i))) for i in idx])
        verbs = torch.tensor([labels[i] for i in idx], dtype=torch.long)
        yield idx, images, verbs


def method_maps(
    name: str, checkpoint: str | Path | None, ds: HotspotTestImages, device: torch.device, batch: int = 16
) -> dict[tuple[str, ...], np.ndarray]:
    """Raw map of each test item's GT verb, keyed like the GT (center bias: the same map for all)."""
    keys = ds.keys()
    if name == "center_bias":
        m = center_bias_map(224)
        return {k: m for k in keys}
    if name in ("mean_map", "oracle"):
        stacks = all_action_maps(name, checkpoint, ds, device, batch)
        return {k: stacks[_image_id(e)][int(e["verb"])] for k, e in zip(keys, ds.entries)}
    model, maps_fn = _load_hotspot_model(name, checkpoint, device)
    _check_actions(model.actions, ds.verbs, checkpoint)
    cfg = model.config
    out: dict[tuple[str, ...], np.ndarray] = {}
    for idx, images, verbs in _images(ds, cfg.input_size, cfg.mean, cfg.std, batch):
        with torch.no_grad():
            x = model.features(images.to(device))
        maps = maps_fn(x, verbs.to(device)[:, None])[:, 0].detach().float().cpu().numpy()
        for i, m in zip(idx, maps):
            out[keys[i]] = m
    return out


def _image_id(entry: dict[str, Any]) -> tuple[str, ...]:
    image = entry["image"]
    return (image,) if isinstance(image, str) else tuple(str(p) for p in image)


def part_items(ds: HotspotTestImages) -> list[PartItem]:
    """The test pairs as ``PartItem``s: the part box where annotated (synthetic world), else the GT region."""
    items = []
    for i, e in enumerate(ds.entries):
        box = None
        if "part_rows" in e and "part_cols" in e:
            (r0, r1), (c0, c1) = e["part_rows"], e["part_cols"]
            box = (int(r0), int(r1), int(c0), int(c1))
        items.append(
            PartItem(
                image=_image_id(e),
                action=int(e["verb"]),
                gt=ds.heatmap(i).numpy(),
                shape=(int(e["shape"][0]), int(e["shape"][1])),
                box=box,
                part=e.get("part"),
            )
        )
    return items


def _load_hotspot_model(name: str, checkpoint: str | Path | None, device: torch.device) -> tuple[Any, Any]:
    """(model, maps_fn(x, (N,K) actions) -> (N,K,h,w)) of a checkpoint, checked to be ``name``'s variant."""
    if checkpoint is None:
        raise ValueError(f"method {name!r} needs a checkpoint (--method {name}=PATH)")
    _, extra = read_metadata(checkpoint)
    kind = extra.get("method", "hotspots")
    if kind not in ("hotspots", "direct_cls"):
        raise ValueError(f"{checkpoint}: unknown checkpoint method {kind!r}")
    if kind == "direct_cls":
        if name not in ("direct_cls", "mean_map"):
            raise ValueError(f"{checkpoint}: a DIRECT CLS checkpoint cannot be method {name!r}")
        model: Any = load_direct_cls(checkpoint, map_location=device)
        return model, model.hotspot_maps
    if name == "direct_cls":
        raise ValueError(f"{checkpoint}: method 'direct_cls' needs a DIRECT CLS checkpoint")
    model = load_model(checkpoint, map_location=device)
    if name == "ours_cam":
        model.config = dataclasses.replace(model.config, map_form="cam")  # read-out only: same weights
    elif name == "ours_located":
        if model.config.map_form != "located":
            raise ValueError(
                f"{checkpoint}: method 'ours_located' needs a map_form located checkpoint (training.locate), "
                f"got {model.config.map_form!r}"
            )
    elif name != "mean_map" and model.config.map_form != "eq4":
        raise ValueError(
            f"{checkpoint}: method {name!r} is the paper's Eq. 4 read-out but the checkpoint has "
            f"map_form {model.config.map_form!r} (score it as ours_cam or ours_located)"
        )
    if name != "mean_map":
        _check_variant(name, model.config, checkpoint)
    return model, lambda x, a: model.hotspot_maps(x, a, method="analytic")


def all_action_maps(
    name: str, checkpoint: str | Path | None, ds: HotspotTestImages, device: torch.device, batch: int = 16
) -> dict[tuple[str, ...], np.ndarray]:
    """Raw maps of every dataset verb for each test image: ``{image id: (A,h,w)}``.

    ``mean_map``: the checkpoint's action-agnostic mean map, repeated for every action; ``oracle``: each
    scored (image, verb)'s part-centre Gaussian (all zero for a verb the image is not scored with).
    """
    a = len(ds.verbs)
    first: dict[tuple[str, ...], int] = {}
    for i, e in enumerate(ds.entries):
        first.setdefault(_image_id(e), i)
    if name == "center_bias":
        m = center_bias_map(224)
        return {img: np.repeat(m[None], a, 0) for img in first}
    if name == "oracle":
        out = {img: np.zeros((a, 224, 224), np.float32) for img in first}
        for item in part_items(ds):
            out[item.image][item.action] = oracle_map(item)
        return out
    model, maps_fn = _load_hotspot_model(name, checkpoint, device)
    _check_actions(model.actions, ds.verbs, checkpoint)
    cfg = model.config
    transform = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    images = list(first.items())
    out = {}
    everything = torch.arange(a)
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        x_in = torch.stack([transform(load_rgb(ds.image_path(i))) for _, i in chunk]).to(device)
        with torch.no_grad():
            x = model.features(x_in)
        maps = maps_fn(x, everything.to(device).expand(len(chunk), a)).detach().float().cpu().numpy()
        for (img, _), m in zip(chunk, maps):
            out[img] = np.repeat(action_agnostic_map(m)[None].astype(np.float32), a, 0) if name == "mean_map" else m
    return out


def _check_variant(name: str, cfg: Any, checkpoint: Any) -> None:
    """Raise ValueError unless the checkpoint is the model variant that method ``name`` stands for."""
    if name not in VARIANTS:
        raise ValueError(f"unknown method {name!r}; choose from {METHODS}")
    want_ant, want_pool, want_stride = VARIANTS[name]
    stride = cfg.input_size // cfg.feature_size
    problems = []
    if cfg.use_anticipation != want_ant:
        problems.append(f"{'an anticipation loss' if want_ant else 'ant_loss none'} (it has {cfg.ant_loss!r})")
    if want_pool is not None and cfg.pool != want_pool:
        problems.append(f"pool {want_pool!r} (it has {cfg.pool!r})")
    if want_stride is not None and stride != want_stride:
        problems.append(f"a stride-{want_stride} backbone (it has {cfg.backbone!r}, stride {stride})")
    if problems:
        raise ValueError(f"{checkpoint}: method {name!r} needs " + ", ".join(problems))


def _check_actions(actions: Sequence[str], verbs: Sequence[str], checkpoint: Any) -> None:
    if list(actions) != list(verbs):
        raise ValueError(f"{checkpoint}: model actions {list(actions)} differ from the dataset's verbs {list(verbs)}")


def evaluate_methods(
    methods: Sequence[tuple[str, str | None]],
    ds: HotspotTestImages,
    device: torch.device,
    seed: int = 0,
    parts: bool = True,
) -> dict[str, Any]:
    """Score each (name, checkpoint) on ``ds``; returns the JSON-able results (``parts``: also the
    planner's metrics of ``hotspot_core.eval.part_metrics`` under ``part_metrics``)."""
    gts = {k: ds.heatmap(i).numpy() for i, k in enumerate(ds.keys())}
    items = part_items(ds) if parts else []
    results: dict[str, Any] = {}
    for name, ckpt in methods:
        t0 = time.perf_counter()
        preds = method_maps(name, ckpt, ds, device)
        stacks = all_action_maps(name, ckpt, ds, device) if parts else {}
        scores = evaluate(preds, gts, res=28, seed=seed)
        results[name] = {
            "label": LABELS[name],
            "checkpoint": None if ckpt is None else str(ckpt),
            "ablation_row": ABLATION_ROWS.get(name),
            "metrics": scores,
        }
        if parts:
            results[name]["part_metrics"] = part_metrics(stacks, items, res=28, seed=seed)
        results[name]["seconds"] = round(time.perf_counter() - t0, 2)
    return results


def parse_method(text: str) -> tuple[str, str | None]:
    name, _, path = text.partition("=")
    if name not in METHODS:
        raise argparse.ArgumentTypeError(f"unknown method {name!r}; choose from {METHODS}")
    if name not in NO_CHECKPOINT and not path:
        raise argparse.ArgumentTypeError(f"method {name!r} needs a checkpoint: {name}=PATH")
    return name, path or None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--method",
        dest="methods",
        action="append",
        type=parse_method,
        required=True,
        metavar="NAME[=CHECKPOINT]",
        help=f"repeatable; NAME in {METHODS}",
    )
    p.add_argument("--split", default="test", help="image split of annotations.json (<split>_images)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0, help="AUC-J tie-break jitter seed")
    p.add_argument(
        "--no-part-metrics",
        dest="parts",
        action="store_false",
        help="skip peak-on-part / action specificity (they need every action's map per image)",
    )
    add_dataset_args(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        data_cfg = dataset_config_from_args(args)
    except ConfigError as exc:
        return cli.report(exc)
    ds = build_test_images(data_cfg, split=args.split)
    device = resolve_device(args.device)
    try:
        results = evaluate_methods(args.methods, ds, device, seed=args.seed, parts=args.parts)
    except ValueError as exc:  # a checkpoint that is not the variant its method name claims, wrong verbs ...
        return cli.report(exc)
    for r in results.values():
        where = f" ({r['checkpoint']})" if r["checkpoint"] else ""
        print(f"== {r['label']}{where}")
        print(format_results(r["metrics"]))
        if "part_metrics" in r:
            print(format_part_metrics(r["part_metrics"]))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"dataset": data_cfg.to_dict(), "split": args.split, "items": len(ds), "methods": results}
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    cli.run(main)
