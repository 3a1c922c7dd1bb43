"""Train a Dual Attention Network (or one of its ablations) on a ``--dan-labels`` synthetic world.

    python -m training.synthetic --out runs/dan/world --dan-labels ...
    python -m training.dan.train --world runs/dan/world --variant dual --out runs/dan/dual.safetensors

Variants (paper Table 1): ``baseline`` (average pooling, one task: ``--tasks action`` or ``--tasks
object``), ``multitask`` (average pooling, both tasks), ``self`` (attention without priors), ``dual``
(prior-guided attention; ``--prior gt`` guides it with ground truth). The backbone is frozen, so its
features of every frame are computed once into a cache (``--cache``, default ``<world>/.dan_cache``)
and training reads them. SGD with momentum 0.9 and the paper's schedule (lr / 10 at 50/70 and 65/70 of
the epochs).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from hotspot_core import cli
from hotspot_core.dan.checkpoint import save_dan
from hotspot_core.dan.model import DualAttentionNetwork, dan_losses
from hotspot_core.errors import ConfigError

from .config import DanTrainConfig, build_parser, config_from_args
from .data import DanFeatureCache, DanFeatureClips, DanWorld, default_cache, ensure_feature_cache, load_dan_world

__all__ = ["DanTrainConfig", "build_parser", "config_from_args", "prepare", "train_epochs", "run", "main"]

log = logging.getLogger("training.dan.train")


def prepare(cfg: DanTrainConfig) -> tuple[DanWorld, DualAttentionNetwork, DanFeatureCache]:
    """World, freshly initialised model (seeded) and the feature cache it trains on."""
    world = load_dan_world(cfg.world)
    torch.manual_seed(cfg.seed)
    model = DualAttentionNetwork(cfg.model_config(world.actions, world.objects))
    mc = model.config
    cache = ensure_feature_cache(
        cfg.cache or default_cache(cfg.world), world, mc.backbone, model.backbone, mc.input_size, mc.mean, mc.std
    )
    return world, model, cache.load_into_memory()


def train_epochs(
    model: DualAttentionNetwork,
    cache: DanFeatureCache,
    world: DanWorld,
    cfg: DanTrainConfig,
) -> list[dict[str, float]]:
    """The training loop on cached features; returns per-epoch mean losses and training accuracy."""
    ds = DanFeatureClips(cache, world.train, model.config.num_frames, train=True, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=gen, num_workers=0)
    params = [p for name, p in model.named_parameters() if p.requires_grad and not name.startswith("backbone.")]
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=cfg.milestones, gamma=0.1)
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        ds.set_epoch(epoch)
        sums: dict[str, float] = {}
        correct = seen = 0
        t0 = time.perf_counter()
        for batch in loader:
            out = model(batch["features"], gt_action=batch["action"], gt_objects=batch["objects"])
            losses = dan_losses(out, batch["action"], batch["objects"], cfg.first_weight)
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
        log.info(
            "epoch %d/%d loss %.4f train top-1 %.3f (%.1f s)",
            epoch + 1,
            cfg.epochs,
            row["total"],
            row["train_top1"],
            row["seconds"],
        )
    model.eval()
    return history


def run(cfg: DanTrainConfig) -> tuple[DualAttentionNetwork, list[dict[str, float]]]:
    """Train as the CLI does and write the checkpoint; returns the model and its history."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    world, model, cache = prepare(cfg)
    history = train_epochs(model, cache, world, cfg)
    extra: dict[str, Any] = {
        "method": "dual_attention",
        "world": str(cfg.world),
        "annotations_sha256": world.annotations_sha256,
        "train_clips": len(world.train),
        "final_loss": history[-1]["total"] if history else None,
        "train_config": cfg.to_dict(),
    }
    save_dan(model, cfg.out, extra)
    (Path(cfg.out).with_suffix(".history.json")).write_text(json.dumps(history, indent=1), encoding="utf-8")
    log.info("wrote %s", cfg.out)
    return model, history


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = config_from_args(args)
    except ConfigError as exc:
        return cli.report(exc)
    np.random.seed(cfg.seed)
    run(cfg)
    return 0


if __name__ == "__main__":
    cli.run(main)
