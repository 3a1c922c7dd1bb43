"""Train a Dual Attention Network (or one of its ablations) on a ``--dan-labels`` synthetic world.

    python -m training.synthetic_world --out runs/dan/world --dan-labels ...
    python -m training.train_dan --world runs/dan/world --variant dual --out runs/dan/dual.safetensors

Variants (paper Table 1): ``baseline`` (average pooling, one task: ``--tasks action`` or ``--tasks
object``), ``multitask`` (average pooling, both tasks), ``self`` (attention without priors), ``dual``
(prior-guided attention; ``--prior gt`` guides it with ground truth). The backbone is frozen, so its
features of every frame are computed once into a cache (``--cache``, default ``<world>/.dan_cache``)
and training reads them. SGD with momentum 0.9 and the paper's schedule (lr / 10 at 50/70 and 65/70 of
the epochs).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from hotspot_core.dan_checkpoint import save_dan
from hotspot_core.dan_config import PRIORS, TASKS, TEMPORAL_HEADS, VARIANTS, DANConfig
from hotspot_core.dual_attention import DualAttentionNetwork, dan_losses

from .dan_data import DanFeatureCache, DanFeatureClips, DanWorld, ensure_feature_cache, load_dan_world

log = logging.getLogger("training.train_dan")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.train_dan", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--world", type=Path, required=True, help="synthetic world made with --dan-labels")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.safetensors)")
    p.add_argument("--variant", choices=VARIANTS, default="dual")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="baseline: one task per model")
    p.add_argument("--temporal-head", choices=TEMPORAL_HEADS, default="trn")
    p.add_argument("--frames", type=int, default=4, help="frames sampled per clip (TRN-4 in the paper's ablation)")
    p.add_argument("--prior", choices=PRIORS, default="predicted", help="dual only: 'gt' = ground-truth priors")
    p.add_argument("--no-second-object", action="store_true", help="drop the second object classifier")
    p.add_argument("--detach-priors", action="store_true", help="no gradient from the 2nd prediction into the 1st")
    p.add_argument("--backbone", default="efficientnet_lite0_dilated")
    p.add_argument("--backbone-weights", default="packaged",
                   help="'packaged', a torchvision weights name, a local file, or 'none' (random)")
    p.add_argument("--input-size", type=int, default=112)
    p.add_argument("--embed-dim", type=int, default=512)
    p.add_argument("--attention-dim", type=int, default=512)
    p.add_argument("--feature-pool", type=int, default=1, help="k x k average pool of the backbone maps "
                   "(2: 14x14 -> the paper's 7x7 grid at 112 px)")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--first-weight", type=float, default=1.0, help="loss weight of the first prediction")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=None, help="feature cache folder (default <world>/.dan_cache)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p


def config_from_args(args: argparse.Namespace, world: DanWorld) -> DANConfig:
    weights = None if args.backbone_weights in (None, "", "none") else args.backbone_weights
    return DANConfig(
        backbone=args.backbone, actions=world.actions, objects=world.objects, variant=args.variant,
        tasks=tuple(args.tasks), temporal_head=args.temporal_head, num_frames=args.frames,
        input_size=args.input_size, backbone_weights=weights, second_object=not args.no_second_object,
        prior=args.prior, embed_dim=args.embed_dim, attention_dim=args.attention_dim, dropout=args.dropout,
        feature_pool=args.feature_pool,
        detach_priors=args.detach_priors,
    )


def default_cache(world_root: Path) -> Path:
    return Path(world_root) / ".dan_cache"


def prepare(args: argparse.Namespace) -> tuple[DanWorld, DualAttentionNetwork, DanFeatureCache]:
    """World, freshly initialised model (seeded) and the feature cache it trains on."""
    world = load_dan_world(args.world)
    torch.manual_seed(args.seed)
    model = DualAttentionNetwork(config_from_args(args, world))
    cfg = model.config
    cache = ensure_feature_cache(args.cache or default_cache(args.world), world, cfg.backbone, model.backbone,
                                 cfg.input_size, cfg.mean, cfg.std)
    return world, model, cache.load_into_memory()


def train_epochs(model: DualAttentionNetwork, cache: DanFeatureCache, world: DanWorld, args: argparse.Namespace,
                 ) -> list[dict[str, float]]:
    """The training loop on cached features; returns per-epoch mean losses and training accuracy."""
    cfg = model.config
    ds = DanFeatureClips(cache, world.train, cfg.num_frames, train=True, seed=args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(ds, batch_size=args.batch_size, shuffle=True, generator=gen, num_workers=0)
    params = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("backbone.")]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    milestones = sorted({max(1, round(args.epochs * 50 / 70)), max(1, round(args.epochs * 65 / 70))})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    history = []
    for epoch in range(args.epochs):
        model.train()
        ds.set_epoch(epoch)
        sums: dict[str, float] = {}
        correct = seen = 0
        t0 = time.perf_counter()
        for batch in loader:
            out = model(batch["features"], gt_action=batch["action"], gt_objects=batch["objects"])
            losses = dan_losses(out, batch["action"], batch["objects"], args.first_weight)
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            n = batch["action"].shape[0]
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * n
            head = out.action if out.action is not None else out.object
            target = batch["action"] if out.action is not None else batch["objects"][:, 0]
            correct += int((head.argmax(1) == target).sum())
            seen += n
        sched.step()
        row = {k: v / seen for k, v in sums.items()}
        row.update(epoch=epoch + 1, train_top1=correct / seen, seconds=time.perf_counter() - t0)
        history.append(row)
        log.info("epoch %d/%d loss %.4f train top-1 %.3f (%.1f s)", epoch + 1, args.epochs, row["total"],
                 row["train_top1"], row["seconds"])
    model.eval()
    return history


def run(args: argparse.Namespace) -> tuple[DualAttentionNetwork, list[dict[str, float]]]:
    """Train as the CLI does and write the checkpoint; returns the model and its history."""
    if args.threads:
        torch.set_num_threads(args.threads)
    world, model, cache = prepare(args)
    history = train_epochs(model, cache, world, args)
    extra: dict[str, Any] = {
        "method": "dual_attention", "world": str(args.world), "annotations_sha256": world.annotations_sha256,
        "train_clips": len(world.train), "final_loss": history[-1]["total"] if history else None,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    save_dan(model, args.out, extra)
    (Path(args.out).with_suffix(".history.json")).write_text(json.dumps(history, indent=1), encoding="utf-8")
    log.info("wrote %s", args.out)
    return model, history


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    np.random.seed(args.seed)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
