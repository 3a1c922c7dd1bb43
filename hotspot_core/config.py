"""Config helpers shared by every model's configuration (the hotspot model's and the DAN's).

Each model keeps its own typed dataclass (``hotspot_core.hotspots.config.ModelConfig``,
``hotspot_core.dan.config.DANConfig``); this module holds only what they share: the unknown-key check,
the image-input validation and the ImageNet normalisation constants.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from hotspot_core.backbones import BACKBONES
from hotspot_core.errors import ConfigError

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ConfigError",
    "ImageInputConfig",
    "check_config_mapping",
    "check_image_input",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


class ImageInputConfig:
    """What every backbone-fed config (the hotspot model's, the DAN's) derives from its image-input fields.

    A mixin for frozen dataclasses with ``backbone``, ``backbone_weights``, ``input_size``, ``mean`` and
    ``std``; validate them in ``__post_init__`` with ``check_image_input(self)``.
    """

    backbone: str
    backbone_weights: str | None
    input_size: int

    @property
    def feature_dim(self) -> int:
        """Channels of the backbone's feature map."""
        return BACKBONES[self.backbone].feature_dim

    @property
    def backbone_stride(self) -> int:
        """Input pixels per feature-map cell."""
        return BACKBONES[self.backbone].stride

    @property
    def packaged_backbone(self) -> bool:
        """True when the backbone weights come from an installed package, not from checkpoints."""
        return self.backbone_weights == "packaged"
