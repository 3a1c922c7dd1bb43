"""Evaluate DAN checkpoints on the test clips of a ``--dan-labels`` world: the paper's Tables 1 and 4.

    python -m training.dan.evaluate --world runs/dan/world \
        --run baseline=runs/dan/base_action.safetensors,runs/dan/base_object.safetensors \
        --run multitask=runs/dan/multitask.safetensors --run self=runs/dan/self.safetensors \
        --run dual=runs/dan/dual.safetensors --json runs/dan/eval.json --markdown runs/dan/eval.md

* Recognition (Table 1): action top-1/top-5, object top-1/top-5 (first object), second-object top-1
  (null label included), with TSN evaluation sampling (the middle frame of each segment). A run may list
  several checkpoints (the baseline's single-task models); each reports the tasks it has.
* Box localisation (Table 4, attention runs): the clip's priors (its first prediction, or ground truth
  for a ``prior='gt'`` model) guide the object attention of every frame; the 60% threshold + flood fill
  gives the largest box (plus the second largest when the model predicts a second object), scored by
  the attention mass inside it. AP (VOC all-point) at IoU 0.3/0.4/0.5 against the manipulated object's
  box (and the target's, for two-object actions), on every frame (``--box-frames all``) or on N random
  frames per clip (the paper annotated 2).
* Temporal localisation: share of clips trimmed, mean trimmed length, and how much of the trimmed
  interval lies at or after the first hand contact (the synthetic action starts there).
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hotspot_core import cli
from hotspot_core.dan.checkpoint import load_dan_checkpoint
from hotspot_core.dan.localisation import BOX_THRESHOLD, attention_boxes, average_precision, temporal_localisation
from hotspot_core.dan.model import DualAttentionNetwork

from ..report import dan_summary, dan_tables
from .data import (
    DanClip,
    DanFeatureCache,
    DanWorld,
    default_cache,
    ensure_feature_cache,
    load_dan_world,
    sample_frames,
)

log = logging.getLogger("training.dan.evaluate")

IOUS = (0.3, 0.4, 0.5)


@dataclass
class ClipPredictions:
    """Logits of every test clip (rows in clip order); None for heads a model does not have."""

    action: np.ndarray | None
    object: np.ndarray | None
    object2: np.ndarray | None


def clip_features(cache: DanFeatureCache, clip: DanClip, num_frames: int) -> torch.Tensor:
    idx = sample_frames(clip.num_frames, num_frames, train=False)
    return torch.from_numpy(np.asarray(cache.features(clip.key)[idx], dtype=np.float32))


def _gt(clips: Sequence[DanClip]) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.tensor([c.action for c in clips]), torch.tensor([c.objects for c in clips], dtype=torch.long))


@torch.no_grad()
def predict(
    model: DualAttentionNetwork, cache: DanFeatureCache, clips: Sequence[DanClip], batch_size: int = 32
) -> ClipPredictions:
    model.eval()
    parts: dict[str, list[np.ndarray]] = {"action": [], "object": [], "object2": []}
    for s in range(0, len(clips), batch_size):
        chunk = clips[s : s + batch_size]
        feats = torch.stack([clip_features(cache, c, model.config.num_frames) for c in chunk])
        a, o = _gt(chunk)
        out = model(feats, gt_action=a, gt_objects=o)
        for k in parts:
            v = getattr(out, k)
            if v is not None:
                parts[k].append(v.numpy())
    return ClipPredictions(*(np.concatenate(parts[k]) if parts[k] else None for k in ("action", "object", "object2")))


def topk(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    k = min(k, logits.shape[1])
    top = np.argsort(-logits, axis=1)[:, :k]
    return float(np.mean([labels[i] in top[i] for i in range(len(labels))]))


def recognition_metrics(pred: ClipPredictions, clips: Sequence[DanClip]) -> dict[str, float]:
    """Percentages: action/object top-1/top-5 and second-object top-1 (null = last class)."""
    out: dict[str, float] = {}
    if pred.action is not None:
        labels = np.array([c.action for c in clips])
        out["action_top1"], out["action_top5"] = 100 * topk(pred.action, labels, 1), 100 * topk(pred.action, labels, 5)
    if pred.object is not None:
        labels = np.array([c.objects[0] for c in clips])
        out["object_top1"], out["object_top5"] = 100 * topk(pred.object, labels, 1), 100 * topk(pred.object, labels, 5)
    if pred.object2 is not None:
        null = pred.object2.shape[1] - 1
        labels = np.array([c.objects[1] if c.objects[1] >= 0 else null for c in clips])
        out["object2_top1"] = 100 * topk(pred.object2, labels, 1)
    return out


@torch.no_grad()
def clip_attention(
    model: DualAttentionNetwork, cache: DanFeatureCache, clip: DanClip
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Action and object attention (F,h,w) of every frame of a clip, guided by the clip's priors
    (its first prediction, or ground truth for a 'gt' model), and whether a second object is predicted."""
    model.eval()
    a, o = _gt([clip])
    out = model(clip_features(cache, clip, model.config.num_frames)[None], gt_action=a, gt_objects=o)
    p_a, p_o = model.priors(out.first, a, o)
    everything = torch.from_numpy(np.asarray(cache.features(clip.key), dtype=np.float32))[None]
    alpha, beta = model.attention_maps(model.project(everything), p_a, p_o)
    grid = model.project.grid(everything)
    if model.config.prior == "gt":
        second = clip.objects[1] >= 0
    else:
        second = out.object2 is not None and int(out.object2.argmax(1)) != out.object2.shape[1] - 1
    return alpha[0].view(-1, *grid).numpy(), beta[0].view(-1, *grid).numpy(), bool(second)


@torch.no_grad()
def prior_diagnostics(
    model: DualAttentionNetwork, cache: DanFeatureCache, clips: Sequence[DanClip], seed: int = 0
) -> dict[str, float]:
    """Why dual attention does or does not beat self attention: the first prediction's accuracy (the
    priors' quality), how much the priors move the attention (mean total-variation distance between a
    clip's maps under its own priors and under another clip's priors; 0: ignored) and the final
    accuracy when every clip gets another clip's priors (unchanged: the priors carry nothing used)."""
    model.eval()
    feats = torch.stack([clip_features(cache, c, model.config.num_frames) for c in clips])
    a, o = _gt(clips)
    out = model(feats, gt_action=a, gt_objects=o)
    res = {
        "first_action_top1": 100 * float((out.first[0].argmax(1) == a).float().mean()),
        "first_object_top1": 100 * float((out.first[1].argmax(1) == o[:, 0]).float().mean()),
    }
    if model.config.variant != "dual":
        return res
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(clips)))
    p_a, p_o = model.priors(out.first, a, o)
    cells = model.project(feats)
    alpha, beta = model.attention_maps(cells, p_a, p_o)
    alpha2, beta2 = model.attention_maps(cells, p_a[perm], p_o[perm])
    res["prior_influence_action_att"] = float(0.5 * (alpha - alpha2).abs().sum(-1).mean())
    res["prior_influence_object_att"] = float(0.5 * (beta - beta2).abs().sum(-1).mean())
    from hotspot_core.dan.model import attend

    act, obj, _ = model.second(attend(cells, alpha2), attend(cells, beta2))
    res["shuffled_prior_action_top1"] = 100 * float((act.argmax(1) == a).float().mean())
    res["shuffled_prior_object_top1"] = 100 * float((obj.argmax(1) == o[:, 0]).float().mean())
    return res


def localisation_metrics(
    model: DualAttentionNetwork,
    cache: DanFeatureCache,
    world: DanWorld,
    clips: Sequence[DanClip],
    box_frames: str,
    seed: int,
    threshold: float = BOX_THRESHOLD,
) -> dict[str, Any]:
    """Box AP at IOUS and temporal-trimming statistics from the object attention.

    Maps are upsampled bilinearly to the frame size before thresholding (boxes in pixels)."""
    preds: list[list[tuple[float, tuple]]] = []
    gts: list[list[tuple]] = []
    rng = np.random.default_rng(seed)
    trimmed, lengths, after_contact, hits, area_ratio = 0, [], [], 0, []
    for clip in clips:
        _, beta, two = clip_attention(model, cache, clip)
        frames = [f for f in range(clip.num_frames) if clip.object_boxes[f] is not None]
        if box_frames != "all":
            frames = sorted(rng.choice(frames, size=min(int(box_frames), len(frames)), replace=False).tolist())
        for f in frames:
            regions = attention_boxes(beta[f], threshold, two_objects=two, image_size=(world.image_size,) * 2)
            preds.append([(r.mass, r.box) for r in regions])
            g = [tuple(clip.object_boxes[f])]
            if clip.second_object_boxes and clip.second_object_boxes[f] is not None:
                g.append(tuple(clip.second_object_boxes[f]))
            gts.append(g)
            if regions:
                x0, y0, x1, y1 = preds[-1][0][1]
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                hits += any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in g)
                area_ratio.append((x1 - x0) * (y1 - y0) / max(1e-6, (g[0][2] - g[0][0]) * (g[0][3] - g[0][1])))
        t = temporal_localisation(beta, world.fps)
        if t.trimmed:
            trimmed += 1
            lengths.append(t.end - t.start)
            after_contact.append(max(0, t.end - max(t.start, clip.contact_frame)) / (t.end - t.start))
    return {
        "box_threshold": threshold,
        "box_ap": {f"{iou:.1f}": 100 * average_precision(preds, gts, iou) for iou in IOUS},
        "box_frames": len(gts),
        "centre_in_gt_box": 100 * hits / max(1, len(gts)),
        "median_box_area_ratio": float(np.median(area_ratio)) if area_ratio else None,
        "trimmed_clips": 100 * trimmed / max(1, len(clips)),
        "mean_trimmed_frames": float(np.mean(lengths)) if lengths else None,
        "mean_clip_frames": float(np.mean([c.num_frames for c in clips])),
        "trimmed_share_after_contact": 100 * float(np.mean(after_contact)) if after_contact else None,
    }


def evaluate_run(
    paths: Sequence[Path],
    world: DanWorld,
    cache_dir: Path | None,
    box_frames: str,
    seed: int,
    split: str = "test",
    threshold: float = BOX_THRESHOLD,
) -> dict[str, Any]:
    """Metrics of one table row: the union of its checkpoints' tasks (and localisation if it attends)."""
    clips = world.split(split)
    row: dict[str, Any] = {"checkpoints": [str(p) for p in paths]}
    for path in paths:
        model = load_dan_checkpoint(path)
        cfg = model.config
        if cfg.actions != world.actions or cfg.objects != world.objects:
            raise ValueError(f"{path} was trained on other vocabularies than {world.root}")
        cache = ensure_feature_cache(
            cache_dir or default_cache(world.root),
            world,
            cfg.backbone,
            model.backbone,
            cfg.input_size,
            cfg.mean,
            cfg.std,
        ).load_into_memory()
        row.update(recognition_metrics(predict(model, cache, clips), clips))
        row.setdefault("variant", cfg.variant)
        if cfg.attends:
            row.update(localisation_metrics(model, cache, world, clips, box_frames, seed, threshold))
            row.update(prior_diagnostics(model, cache, clips, seed))
    return row


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.dan.evaluate",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--world", type=Path)
    p.add_argument(
        "--summarise",
        nargs="+",
        type=Path,
        metavar="EVAL_JSON",
        help="instead of evaluating: mean +- std tables of several --json outputs (one per seed)",
    )
    p.add_argument(
        "--run",
        action="append",
        metavar="NAME=CKPT[,CKPT]",
        help="a table row: its name and checkpoint(s); repeat for each row",
    )
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--box-frames", default="all", help="'all' frames of each clip, or N random frames per clip")
    p.add_argument("--box-threshold", type=float, default=BOX_THRESHOLD, help="fraction of the map's maximum")
    p.add_argument("--seed", type=int, default=0, help="frame choice for --box-frames N")
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="write the metrics here")
    p.add_argument("--markdown", type=Path, default=None, help="write the tables here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.summarise:
        print(dan_summary([json.loads(p.read_text(encoding="utf-8")) for p in args.summarise]), end="")
        return 0
    if args.world is None or not args.run:
        parser.error("--world and at least one --run are needed (or --summarise)")
    for spec in args.run:  # before the world is loaded
        if not spec.partition("=")[2]:
            parser.error(f"--run needs NAME=CKPT[,CKPT], got {spec!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    world = load_dan_world(args.world)
    rows: dict[str, dict[str, Any]] = {}
    for spec in args.run:
        name, _, paths = spec.partition("=")
        rows[name] = evaluate_run(
            [Path(p) for p in paths.split(",")],
            world,
            args.cache,
            args.box_frames,
            args.seed,
            args.split,
            args.box_threshold,
        )
        log.info("%s: %s", name, {k: v for k, v in rows[name].items() if k != "checkpoints"})
    text = dan_tables(rows)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    cli.run(main)
