"""Typed, validated configuration of the hotspot model.

A ``ModelConfig`` is everything needed to rebuild a model from its weights: it is stored inside every
checkpoint, so shapes and action names always come from the model itself, never from constants in a
front end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hotspot_core.config import IMAGENET_MEAN, IMAGENET_STD, ImageInputConfig, check_config_mapping, check_image_input
from hotspot_core.errors import ConfigError

__all__ = ["ANT_LOSSES", "MAP_FORMS", "POOLS", "ModelConfig"]

ANT_LOSSES = ("mse", "triplet", "none")
# Spatial pooling of feature maps before the LSTM: 'l2' (spec 1.3, what the reference trains) or 'avg'
# (the reference's unused alternative; the supplement's "basic" and "+resolution" ablation rows).
POOLS = ("l2", "avg")
# How a hotspot map is formed from the gradient g_a = d y_a / d x of the backbone features x:
# 'eq4' (the paper's Eq. 4, sum_c ReLU(g_a * x), the default); 'cam' (ours, not the paper's: Grad-CAM's
# channel weighting ReLU(sum_c mean_hw(g_a)_c * x_c) of the same gradient); 'located' (ours, not the
# paper's: the Eq. 4 map times softmax over actions of a per-action 1x1 conv on x, fitted where the
# training clips move, ``training.locate``). Issue 11, docs/training.md.
MAP_FORMS = ("eq4", "cam", "located")


@dataclass(frozen=True)
class ModelConfig(ImageInputConfig):
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
    map_form: 'eq4' (the paper's Eq. 4, default), 'cam' or 'located' (ours, see MAP_FORMS). 'eq4' and 'cam'
        change only how maps are read out of a trained model; 'located' adds the model's ``part_head``
        (fitted after training by ``training.locate``). Left out of ``to_dict`` at its default so the
        paper's checkpoints stay byte-identical.
    """

    backbone: str
    actions: tuple[str, ...]
    input_size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    ant_loss: str = "mse"
    backbone_weights: str | None = None
    pool: str = "l2"
    map_form: str = "eq4"
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
        if self.map_form not in MAP_FORMS:
            raise ConfigError(f"map_form must be one of {MAP_FORMS}, got {self.map_form!r}")
        object.__setattr__(self, "extra", dict(self.extra))

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    @property
    def feature_size(self) -> int:
        """Side of the backbone's square feature map for ``input_size`` inputs."""
        return self.input_size // self.backbone_stride

    @property
    def use_anticipation(self) -> bool:
        return self.ant_loss != "none"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["actions"] = list(self.actions)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["feature_dim"] = self.feature_dim  # informative; recomputed on load and checked
        if d["map_form"] == "eq4":
            del d["map_form"]  # the paper's default: configs and checkpoints as before the field existed
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
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
