"""The hotspot model's checkpoint: one .safetensors file whose metadata holds the ``ModelConfig`` as JSON.

Shapes, feature width, input size, normalisation and the ordered action names all travel with the
weights, so any front end rebuilds exactly the model that was trained. The file mechanism itself
(packaged backbones, hashes, shape checks) is ``hotspot_core.weights``, shared with the DAN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hotspot_core.errors import CheckpointError
from hotspot_core.hotspots.config import ModelConfig
from hotspot_core.hotspots.model import HotspotModel
from hotspot_core.weights import build_and_load, read_config, save_weights

__all__ = ["FORMAT", "CheckpointError", "load_checkpoint", "load_model", "read_metadata", "save_checkpoint"]

FORMAT = "interaction_hotspots/1"


def save_checkpoint(model: HotspotModel, path: str | os.PathLike, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a hotspot model's weights and config (plus optional JSON-able ``extra`` info) to ``path``."""
    return save_weights(model, path, FORMAT, extra)


def read_metadata(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """Config and extra info of a checkpoint, without loading its weights."""
    return read_config(
        path,
        FORMAT,
        ModelConfig.from_dict,
        what="interaction-hotspots checkpoint",
        hint="; convert the authors' .pth files with `hotspots-import-reference`",
    )


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> HotspotModel:
    """Rebuild the model from a checkpoint's config and load its weights; returns it in eval mode."""
    config, extra = read_metadata(path)
    if extra.get("method", "hotspots") != "hotspots":
        raise CheckpointError(
            f"{path} is a {extra['method']!r} baseline checkpoint, not a hotspot model "
            f"(load it with training.direct_cls.load_direct_cls)"
        )
    return build_and_load(path, config, HotspotModel, map_location)


load_model = load_checkpoint  # the name users and docs know (``hotspot_core.load_model``)
