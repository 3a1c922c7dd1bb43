"""``TrainConfig``: every setting of a training run, from a YAML file and/or CLI flags (flags win).

Paths never live in source. A YAML file looks like::

    out_dir: runs/ours_seen
    method: hotspots              # 'hotspots' (ours / LSTM+Grad-CAM with ant_loss none) or 'direct_cls'
    backbone: efficientnet_lite0_dilated
    backbone_weights: packaged    # a local file, a BackboneWeights name, 'packaged', or null (random)
    ant_loss: mse                 # 'mse' | 'triplet' | 'none'; null -> mse for OPRA, triplet for EPIC
    pool: l2                      # 'l2' (the reference) | 'avg' (the supplement's basic/+resolution rows)
    epochs: 20
    batch_size: 128               # global batch, split over DDP ranks
    cache_features: cache/seen    # frozen-backbone feature cache folder (null: no cache)
    dataset:                      # a DatasetConfig (training/data/config.py)
      name: opra
      root: data/opra
      crop: 224                   # = the model's input size

Defaults are the reference's (spec 1.9): Adam lr 1e-4, weight decay 5e-4, step decay x0.1 at epoch 15 of
20 (scaled to the epoch count when ``milestones`` is unset), batch 128, class-balanced sampling (cap 100).
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hotspot_core.backbones import BACKBONES
from hotspot_core.config import check_config_mapping
from hotspot_core.errors import ConfigError
from hotspot_core.hotspots.config import ANT_LOSSES, POOLS

from .data.config import DatasetConfig, add_dataset_args

__all__ = ["TrainConfig", "METHODS", "AMP_MODES", "build_parser", "config_from_args", "default_milestones"]

METHODS = ("hotspots", "direct_cls")
AMP_MODES = ("auto", "bf16", "fp16", "off")
REFERENCE_EPOCHS = 20
REFERENCE_MILESTONE = 15


def default_milestones(epochs: int) -> tuple[int, ...]:
    """The reference's single x0.1 step at epoch 15 of 20, scaled to ``epochs`` (none for 1 epoch)."""
    m = int(round(REFERENCE_MILESTONE * epochs / REFERENCE_EPOCHS))
    return (m,) if 1 <= m < epochs else ()


@dataclass(frozen=True)
class TrainConfig:
    """A training run. See the module docstring for the YAML layout."""

    dataset: DatasetConfig
    out_dir: Path
    method: str = "hotspots"
    backbone: str = "resnet50_dilated"
    backbone_weights: str | None = "RESNET50_IMAGENET1K_V1"
    ant_loss: str | None = None
    pool: str = "l2"
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-4
    weight_decay: float = 5e-4
    milestones: tuple[int, ...] | None = None
    gamma: float = 0.1
    sampler_cap: float = 100.0
    seed: int = 0
    num_workers: int = 2
    threads: int | None = None
    cache_features: Path | None = None
    cache_views: int = 4
    amp: str = "auto"
    channels_last: bool = True
    device: str = "auto"
    log_every: int = 10
    keep_checkpoints: int = 2
    max_steps_per_epoch: int | None = None
    progress: bool = True
    tensorboard: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, DatasetConfig):
            raise ConfigError("dataset must be a DatasetConfig")
        if self.out_dir is None or str(self.out_dir) == "":
            raise ConfigError("out_dir is required")
        object.__setattr__(self, "out_dir", Path(self.out_dir).expanduser())
        if self.cache_features is not None:
            object.__setattr__(self, "cache_features", Path(self.cache_features).expanduser())
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone {self.backbone!r}; registered: {sorted(BACKBONES)}")
        if self.ant_loss is None:
            object.__setattr__(self, "ant_loss", "mse" if self.dataset.name == "opra" else "triplet")
        if self.ant_loss not in ANT_LOSSES:
            raise ConfigError(f"ant_loss must be one of {ANT_LOSSES}, got {self.ant_loss!r}")
        if self.pool not in POOLS:
            raise ConfigError(f"pool must be one of {POOLS}, got {self.pool!r}")
        for key in ("epochs", "batch_size", "seed", "num_workers", "cache_views", "log_every", "keep_checkpoints"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{key} must be an int, got {v!r}")
        for key, low in (("epochs", 1), ("batch_size", 1), ("cache_views", 1), ("log_every", 1)):
            if getattr(self, key) < low:
                raise ConfigError(f"{key} must be >= {low}, got {getattr(self, key)}")
        if self.seed < 0 or self.num_workers < 0 or self.keep_checkpoints < 0:
            raise ConfigError("seed, num_workers and keep_checkpoints must be >= 0")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ConfigError(f"threads must be an int >= 1 or null, got {self.threads!r}")
        if self.max_steps_per_epoch is not None and (
            isinstance(self.max_steps_per_epoch, bool)
            or not isinstance(self.max_steps_per_epoch, int)
            or self.max_steps_per_epoch < 1
        ):
            raise ConfigError(f"max_steps_per_epoch must be an int >= 1 or null, got {self.max_steps_per_epoch!r}")
        for key in ("lr", "weight_decay", "gamma", "sampler_cap"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ConfigError(f"{key} must be a number, got {v!r}")
            object.__setattr__(self, key, float(v))
        if self.lr <= 0 or self.weight_decay < 0 or not 0 < self.gamma <= 1 or self.sampler_cap <= 0:
            raise ConfigError("need lr > 0, weight_decay >= 0, 0 < gamma <= 1 and sampler_cap > 0")
        if self.milestones is None:
            object.__setattr__(self, "milestones", default_milestones(self.epochs))
        else:
            ms = tuple(self.milestones)
            if any(isinstance(m, bool) or not isinstance(m, int) for m in ms):
                raise ConfigError(f"milestones must be ints, got {list(ms)!r}")
            if list(ms) != sorted(set(ms)) or any(not 1 <= m < self.epochs for m in ms):
                raise ConfigError(
                    f"milestones must be strictly increasing epochs in 1..{self.epochs - 1}, got {list(ms)}"
                )
            object.__setattr__(self, "milestones", ms)
        if self.amp not in AMP_MODES:
            raise ConfigError(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not isinstance(self.device, str) or not self.device:
            raise ConfigError("device must be 'auto', 'cpu', 'cuda' or 'cuda:N'")
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def input_size(self) -> int:
        """The model's input size: the training crop."""
        return self.dataset.crop

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["dataset"] = self.dataset.to_dict()
        d["out_dir"] = str(self.out_dir)
        d["cache_features"] = None if self.cache_features is None else str(self.cache_features)
        d["milestones"] = list(self.milestones)
        d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping with a nested ``dataset`` mapping; unknown keys raise ``ConfigError``."""
        check_config_mapping(cls, data, "training")
        data = dict(data)
        if "dataset" not in data or "out_dir" not in data or data.get("out_dir") in (None, ""):
            missing = [k for k in ("dataset", "out_dir") if data.get(k) in (None, "", {})]
            raise ConfigError(
                f"training config needs 'dataset' and 'out_dir' (missing: {', '.join(missing)}; "
                "flags --data-root/--data-config and --out-dir, or keys in --config)"
            )
        if not isinstance(data["dataset"], DatasetConfig):
            data["dataset"] = DatasetConfig.from_dict(data["dataset"] or {})
        if data.get("milestones") is not None:
            data["milestones"] = tuple(data["milestones"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"bad training config: {exc}") from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> TrainConfig:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"training config file {str(path)!r} not found")
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        return cls.from_dict(data)


def _bool_flag(parser: argparse.ArgumentParser, name: str, help: str) -> None:
    parser.add_argument(
        f"--{name}", dest=name.replace("-", "_"), action=argparse.BooleanOptionalAction, default=None, help=help
    )


def build_parser(prog: str = "python -m training.train") -> argparse.ArgumentParser:
    """CLI of ``training.train``: ``--config`` YAML plus one flag per field (flags override the file)."""
    p = argparse.ArgumentParser(prog=prog, description="Train an interaction-hotspot model (or a baseline).")
    p.add_argument("--config", type=Path, default=None, help="YAML TrainConfig (see training/config.py)")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--method", choices=METHODS, default=None)
    p.add_argument("--backbone", choices=sorted(BACKBONES), default=None)
    p.add_argument(
        "--backbone-weights", default=None, help="local file, BackboneWeights name, 'packaged', or 'none' (random init)"
    )
    p.add_argument(
        "--ant-loss",
        choices=ANT_LOSSES,
        default=None,
        help="'none' trains the LSTM+Grad-CAM baseline (no anticipation)",
    )
    p.add_argument(
        "--pool",
        choices=POOLS,
        default=None,
        help="spatial pooling before the LSTM: 'l2' (the reference) or 'avg' (ablation)",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="global batch size (split over ranks)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--milestones", type=int, nargs="*", default=None, help="epochs after which lr *= gamma")
    p.add_argument("--gamma", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--num-workers", type=int, default=None)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads per process (1 avoids OpenMP thrashing on a busy machine)",
    )
    p.add_argument("--cache-features", type=Path, default=None, help="frozen-backbone feature cache folder")
    p.add_argument("--cache-views", type=int, default=None, help="pre-drawn augmented views per clip")
    p.add_argument("--amp", choices=AMP_MODES, default=None, help="autocast dtype on CUDA (ignored on CPU)")
    _bool_flag(p, "channels-last", "channels-last memory format on CUDA")
    p.add_argument("--device", default=None, help="auto | cpu | cuda")
    p.add_argument("--log-every", type=int, default=None)
    p.add_argument("--keep-checkpoints", type=int, default=None, help="per-epoch checkpoints kept (0: all)")
    p.add_argument("--max-steps-per-epoch", type=int, default=None)
    _bool_flag(p, "progress", "tqdm progress bar")
    _bool_flag(p, "tensorboard", "TensorBoard scalars under OUT_DIR/tb")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/resume.pt")
    add_dataset_args(p)
    return p


_FLAG_FIELDS = (
    "out_dir",
    "method",
    "backbone",
    "backbone_weights",
    "ant_loss",
    "pool",
    "epochs",
    "batch_size",
    "lr",
    "weight_decay",
    "milestones",
    "gamma",
    "seed",
    "num_workers",
    "threads",
    "cache_features",
    "cache_views",
    "amp",
    "channels_last",
    "device",
    "log_every",
    "keep_checkpoints",
    "max_steps_per_epoch",
    "progress",
    "tensorboard",
)
_DATA_FLAGS = {
    "data_name": "name",
    "data_root": "root",
    "max_len": "max_len",
    "resize": "resize",
    "crop": "crop",
    "eval_size": "eval_size",
    "data_seed": "seed",
}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Merge ``--config`` with flag overrides into a validated ``TrainConfig``."""
    data: dict[str, Any] = {}
    if args.config is not None:
        if not Path(args.config).is_file():
            raise ConfigError(f"training config file {str(args.config)!r} not found")
        with open(args.config, encoding="utf-8") as f:
            loaded = yaml.safe_load(f) or {}
        if not isinstance(loaded, Mapping):
            raise ConfigError(f"{args.config}: expected a mapping")
        data.update(loaded)
    dataset = dict(data.get("dataset") or {})
    if getattr(args, "data_config", None) is not None:
        dataset = DatasetConfig.from_yaml(args.data_config).to_dict()
    for attr, key in _DATA_FLAGS.items():
        if getattr(args, attr, None) is not None:
            dataset[key] = getattr(args, attr)
    data["dataset"] = dataset
    for name in _FLAG_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    if isinstance(data.get("backbone_weights"), str) and data["backbone_weights"].lower() == "none":
        data["backbone_weights"] = None
    return TrainConfig.from_dict(data)


def parse_config(argv: Sequence[str] | None = None) -> tuple[TrainConfig, argparse.Namespace]:
    args = build_parser().parse_args(argv)
    return config_from_args(args), args
