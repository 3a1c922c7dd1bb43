"""DAN checkpoints: one .safetensors file whose metadata holds the ``DANConfig`` as JSON.

The same mechanism as the hotspot model's (``hotspot_core.weights``), under its own format tag, so
neither loader takes the other's files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from hotspot_core.dan.config import DANConfig
from hotspot_core.dan.model import DualAttentionNetwork
from hotspot_core.weights import build_and_load, read_config, save_weights

__all__ = ["DAN_FORMAT", "load_dan_checkpoint", "read_dan_metadata", "save_dan"]

DAN_FORMAT = "interaction_hotspots/dan/1"


def save_dan(model: DualAttentionNetwork, path: str | os.PathLike, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a DAN's weights and config (plus optional JSON-able ``extra`` info) to ``path``."""
    return save_weights(model, path, DAN_FORMAT, extra)


def read_dan_metadata(path: str | os.PathLike) -> tuple[DANConfig, dict[str, Any]]:
    """Config and extra info of a DAN checkpoint, without loading its weights."""
    return read_config(path, DAN_FORMAT, DANConfig.from_dict, what="DAN checkpoint")


def load_dan_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> DualAttentionNetwork:
    """Rebuild the DAN from its checkpoint and load the weights; returns it in eval mode."""
    config, _ = read_dan_metadata(path)
    return build_and_load(path, config, DualAttentionNetwork, map_location)
