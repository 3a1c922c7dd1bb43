"""Typed, validated model configuration.

A ``ModelConfig`` is everything needed to rebuild a model from its weights: it is stored inside every
checkpoint, so shapes and action names always come from the model itself, never from constants in a
front end.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ANT_LOSSES = ("mse", "triplet", "none")
# Spatial pooling of feature maps before the LSTM: 'l2' (spec 1.3, what the reference trains) or 'avg'
# (the reference's unused alternative; the supplement's "basic" and "+resolution" ablation rows).
POOLS = ("l2", "avg")


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def check_config_mapping(cls: type, data: Any, what: str, also_known: tuple[str, ...] = ()) -> None:
    """Raise ConfigError unless ``data`` is a mapping whose keys are all fields of dataclass ``cls``.

    ``what`` names the config in the message ('model', 'training', ...); ``also_known`` are extra keys
    the caller handles itself.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} config must be a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)} | set(also_known)
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {what} config keys {unknown}; known: {sorted(known - set(also_known))}")


def check_image_input(cfg: Any) -> None:
    """Validate the fields every backbone-fed config (model, DAN) shares, normalising mean/std to float tuples.

    ``cfg`` is a frozen dataclass with ``backbone``, ``backbone_weights``, ``input_size``, ``mean`` and ``std``.
    """
    from .backbones import BACKBONES  # late import: backbones imports nothing from here but constants

    if cfg.backbone not in BACKBONES:
        raise ConfigError(f"unknown backbone {cfg.backbone!r}; registered: {sorted(BACKBONES)}")
    if not isinstance(cfg.input_size, int) or cfg.input_size < 32 or cfg.input_size % 8:
        raise ConfigError(f"input_size must be an int >= 32 divisible by 8, got {cfg.input_size!r}")
    for name in ("mean", "std"):
        value = tuple(float(v) for v in getattr(cfg, name))
        if len(value) != 3:
            raise ConfigError(f"{name} must have 3 values (RGB), got {value!r}")
        object.__setattr__(cfg, name, value)
    if any(s <= 0 for s in cfg.std):
        raise ConfigError(f"std values must be > 0, got {cfg.std!r}")
    if cfg.backbone_weights == "packaged" and BACKBONES[cfg.backbone].packaged_weights is None:
        raise ConfigError(f"backbone {cfg.backbone!r} has no packaged weights (backbone_weights='packaged')")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and preprocessing of a hotspot model.

    backbone: registered backbone name (see ``hotspot_core.backbones.BACKBONES``).
    actions: ordered action names; index i is logit i and hotspot map i.
    input_size: square crop size fed to the backbone (224 in the reference).
    mean, std: per-channel normalisation applied to RGB images in [0, 1].
    ant_loss: 'mse' (OPRA), 'triplet' (EPIC) or 'none' (no anticipation: the LSTM+Grad-CAM baseline;
        hotspot maps then skip F_ant, as the reference's ``ic_classifier`` does).
    backbone_weights: optional local file with ImageNet weights for the backbone (nothing downloads), or
        ``"packaged"``: the weights shipped inside the backbone's pip package. Checkpoints of a
        ``"packaged"`` model omit the frozen backbone tensors and load them from the package instead.
    pool: 'l2' (sqrt of the sum of squares, the reference) or 'avg' (spatial mean) before the LSTM.
    """

    backbone: str
    actions: tuple[str, ...]
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    ant_loss: str = "mse"
    backbone_weights: str | None = None
    pool: str = "l2"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_image_input(self)
        actions = tuple(self.actions)
        if not actions:
            raise ConfigError("'actions' must list at least one action name")
        if any(not isinstance(a, str) or not a for a in actions):
            raise ConfigError(f"action names must be non-empty strings, got {list(actions)!r}")
        if len(set(actions)) != len(actions):
            raise ConfigError(f"action names must be unique, got {list(actions)!r}")
        object.__setattr__(self, "actions", actions)
        if self.ant_loss not in ANT_LOSSES:
            raise ConfigError(f"ant_loss must be one of {ANT_LOSSES}, got {self.ant_loss!r}")
        if self.pool not in POOLS:
            raise ConfigError(f"pool must be one of {POOLS}, got {self.pool!r}")
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    @property
    def feature_dim(self) -> int:
        from .backbones import BACKBONES

        return BACKBONES[self.backbone].feature_dim

    @property
    def feature_size(self) -> int:
        """Side of the backbone's square feature map for ``input_size`` inputs."""
        from .backbones import BACKBONES

        return self.input_size // BACKBONES[self.backbone].stride

    @property
    def packaged_backbone(self) -> bool:
        """True when the backbone weights come from an installed package, not from checkpoints."""
        return self.backbone_weights == "packaged"

    @property
    def use_anticipation(self) -> bool:
        return self.ant_loss != "none"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["actions"] = list(self.actions)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["feature_dim"] = self.feature_dim  # informative; recomputed on load and checked
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        if isinstance(data, ModelConfig):
            return data
        check_config_mapping(cls, data, "model", also_known=("feature_dim",))
        data = dict(data)
        feature_dim = data.pop("feature_dim", None)
        for required in ("backbone", "actions"):
            if required not in data:
                raise ConfigError(f"model config is missing required key {required!r}")
        if isinstance(data["actions"], str):
            raise ConfigError("'actions' must be a list of names, not a single string")
        cfg = cls(**data)
        if feature_dim is not None and int(feature_dim) != cfg.feature_dim:
            raise ConfigError(
                f"config says feature_dim={feature_dim} but backbone {cfg.backbone!r} has {cfg.feature_dim}"
            )
        return cfg
