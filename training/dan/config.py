"""``DanTrainConfig``: every setting of a Dual Attention Network training run (``training.dan.train``).

The CLI flags map one to one onto its fields (``--frames`` -> ``num_frames``, ``--no-second-object`` ->
``second_object=False``, ``--backbone-weights none`` -> ``backbone_weights=None``, ``--threads 0`` ->
``threads=None``). The model's architecture fields are checked by ``hotspot_core.dan.config.DANConfig``
(the one owner of those rules) when the config is made, with placeholder vocabularies: the real ones come
from the world when the model is built (``model_config``).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotspot_core.config import check_config_mapping
from hotspot_core.dan.config import PRIORS, TASKS, TEMPORAL_HEADS, VARIANTS, DANConfig
from hotspot_core.errors import ConfigError

__all__ = ["DanTrainConfig", "build_parser", "config_from_args"]

DESCRIPTION = "Train a Dual Attention Network (or one of its ablations) on a ``--dan-labels`` synthetic world."
# The paper's schedule: lr / 10 at 50/70 and at 65/70 of the epochs (numerator, denominator: exact rounding).
LR_STEPS = ((50, 70), (65, 70))


@dataclass(frozen=True)
class DanTrainConfig:
    """A DAN training run: data, model (see ``DANConfig``), optimiser (SGD + momentum) and run settings."""

    world: Path
    out: Path
    variant: str = "dual"
    tasks: tuple[str, ...] = TASKS
    temporal_head: str = "trn"
    num_frames: int = 4
    prior: str = "predicted"
    second_object: bool = True
    detach_priors: bool = False
    backbone: str = "efficientnet_lite0_dilated"
    backbone_weights: str | None = "packaged"
    input_size: int = 112
    embed_dim: int = 512
    attention_dim: int = 512
    feature_pool: int = 1
    dropout: float = 0.5
    epochs: int = 40
    batch_size: int = 16
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    first_weight: float = 1.0
    seed: int = 0
    cache: Path | None = None  # feature cache folder; None: <world>/.dan_cache
    threads: int | None = None  # torch CPU threads; None: torch's default

    def __post_init__(self) -> None:
        for name in ("world", "out"):
            if getattr(self, name) in (None, ""):
                raise ConfigError(f"{name} is required")
            object.__setattr__(self, name, Path(getattr(self, name)).expanduser())
        if self.cache is not None:
            object.__setattr__(self, "cache", Path(self.cache).expanduser())
        object.__setattr__(self, "tasks", tuple(self.tasks))
        for name in (
            "num_frames",
            "input_size",
            "embed_dim",
            "attention_dim",
            "feature_pool",
            "epochs",
            "batch_size",
            "seed",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{name} must be an int, got {v!r}")
        for name in ("dropout", "lr", "momentum", "weight_decay", "first_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{name} must be a number, got {v!r}")
            object.__setattr__(self, name, float(v))
        for name in ("second_object", "detach_priors"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"epochs and batch_size must be >= 1, got {self.epochs} and {self.batch_size}")
        if self.lr <= 0 or not 0 <= self.momentum < 1 or self.weight_decay < 0 or self.first_weight < 0:
            raise ConfigError(
                "need lr > 0, 0 <= momentum < 1, weight_decay >= 0 and first_weight >= 0, got "
                f"{self.lr}, {self.momentum}, {self.weight_decay}, {self.first_weight}"
            )
        if self.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {self.seed}")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ConfigError(f"threads must be an int >= 1 or null, got {self.threads!r}")
        self.model_config(("action",), ("object",))  # architecture rules, before any data is read

    def model_config(self, actions: tuple[str, ...], objects: tuple[str, ...]) -> DANConfig:
        """The model's config for a world's vocabularies."""
        return DANConfig(
            backbone=self.backbone,
            actions=actions,
            objects=objects,
            variant=self.variant,
            tasks=self.tasks,
            temporal_head=self.temporal_head,
            num_frames=self.num_frames,
            input_size=self.input_size,
            backbone_weights=self.backbone_weights,
            second_object=self.second_object,
            prior=self.prior,
            embed_dim=self.embed_dim,
            attention_dim=self.attention_dim,
            dropout=self.dropout,
            feature_pool=self.feature_pool,
            detach_priors=self.detach_priors,
        )

    @property
    def milestones(self) -> list[int]:
        """Epochs after which the learning rate drops x0.1 (``LR_STEPS`` of the run, at least epoch 1)."""
        return sorted({max(1, round(self.epochs * num / den)) for num, den in LR_STEPS})

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.update(
            world=str(self.world),
            out=str(self.out),
            tasks=list(self.tasks),
            cache=None if self.cache is None else str(self.cache),
        )
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DanTrainConfig:
        """Build from a mapping (e.g. ``to_dict``'s); unknown keys raise ``ConfigError``."""
        check_config_mapping(cls, data, "DAN training")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"bad DAN training config: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    """CLI of ``training.dan.train``; defaults are ``DanTrainConfig``'s."""
    d = DanTrainConfig(world=Path("."), out=Path("."))
    p = argparse.ArgumentParser(
        prog="python -m training.dan.train",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--world", type=Path, required=True, help="synthetic world made with --dan-labels")
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (.safetensors)")
    p.add_argument("--variant", choices=VARIANTS, default=d.variant)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(d.tasks), help="baseline: one task per model")
    p.add_argument("--temporal-head", choices=TEMPORAL_HEADS, default=d.temporal_head)
    p.add_argument(
        "--frames", type=int, default=d.num_frames, help="frames sampled per clip (TRN-4 in the paper's ablation)"
    )
    p.add_argument("--prior", choices=PRIORS, default=d.prior, help="dual only: 'gt' = ground-truth priors")
    p.add_argument("--no-second-object", action="store_true", help="drop the second object classifier")
    p.add_argument("--detach-priors", action="store_true", help="no gradient from the 2nd prediction into the 1st")
    p.add_argument("--backbone", default=d.backbone)
    p.add_argument(
        "--backbone-weights",
        default=d.backbone_weights,
        help="'packaged', a torchvision weights name, a local file, or 'none' (random)",
    )
    p.add_argument("--input-size", type=int, default=d.input_size)
    p.add_argument("--embed-dim", type=int, default=d.embed_dim)
    p.add_argument("--attention-dim", type=int, default=d.attention_dim)
    p.add_argument(
        "--feature-pool",
        type=int,
        default=d.feature_pool,
        help="k x k average pool of the backbone maps (2: 14x14 -> the paper's 7x7 grid at 112 px)",
    )
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--first-weight", type=float, default=d.first_weight, help="loss weight of the first prediction")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--cache", type=Path, default=None, help="feature cache folder (default <world>/.dan_cache)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p


def config_from_args(args: argparse.Namespace) -> DanTrainConfig:
    """The validated config of parsed ``build_parser`` flags."""
    weights = None if args.backbone_weights in (None, "", "none") else args.backbone_weights
    return DanTrainConfig(
        world=args.world,
        out=args.out,
        variant=args.variant,
        tasks=tuple(args.tasks),
        temporal_head=args.temporal_head,
        num_frames=args.frames,
        prior=args.prior,
        second_object=not args.no_second_object,
        detach_priors=args.detach_priors,
        backbone=args.backbone,
        backbone_weights=weights,
        input_size=args.input_size,
        embed_dim=args.embed_dim,
        attention_dim=args.attention_dim,
        feature_pool=args.feature_pool,
        dropout=args.dropout,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        first_weight=args.first_weight,
        seed=args.seed,
        cache=args.cache,
        threads=args.threads or None,
    )
