"""DAN checkpoints: one .safetensors file whose metadata holds the ``DANConfig`` as JSON.

Same conventions as ``hotspot_core.checkpoint`` (its own format tag, so neither loader takes the other's
files): a model with ``backbone_weights="packaged"`` is saved without its frozen ``backbone.*`` tensors,
which come from the installed pip package; the sha256 of their state is recorded and checked on load.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from .checkpoint import CheckpointError, check_state_dict, save_checkpoint
from .config import ConfigError
from .dan_config import DANConfig

DAN_FORMAT = "interaction_hotspots/dan/1"
BACKBONE_PREFIX = "backbone."


def save_dan(model: torch.nn.Module, path: str | os.PathLike, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a DAN's weights and config (plus optional JSON-able ``extra`` info) to ``path``."""
    return save_checkpoint(model, path, extra, fmt=DAN_FORMAT)


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"DAN checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc


def read_dan_metadata(path: str | os.PathLike) -> tuple[DANConfig, dict[str, Any]]:
    """Config and extra info of a DAN checkpoint, without loading its weights."""
    path = Path(path)
    meta = _metadata(path)
    if meta.get("format") != DAN_FORMAT or "config" not in meta:
        raise CheckpointError(f"{path} is not a DAN checkpoint (format {meta.get('format')!r}, expected {DAN_FORMAT!r})")
    try:
        config = DANConfig.from_dict(json.loads(meta["config"]))
    except (ConfigError, json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid DAN config: {exc}") from exc
    return config, json.loads(meta["extra"]) if "extra" in meta else {}


def load_dan_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the DAN from its checkpoint and load the weights; returns it in eval mode."""
    from safetensors.torch import load_file

    from .backbones import BackboneWeightsError
    from .dual_attention import DualAttentionNetwork

    path = Path(path)
    config, _ = read_dan_metadata(path)
    meta = _metadata(path)
    try:
        # Only a packaged backbone is rebuilt from elsewhere; others come with the checkpoint.
        model = DualAttentionNetwork(config if config.packaged_backbone else config.replace(backbone_weights=None))
    except BackboneWeightsError as exc:
        raise CheckpointError(f"{path} needs packaged backbone weights: {exc}") from exc
    try:
        state = load_file(str(path), device=str(map_location))
    except Exception as exc:
        raise CheckpointError(f"cannot read weights from {path}: {exc}") from exc
    expected = model.state_dict()
    if config.packaged_backbone:
        expected = {k: v for k, v in expected.items() if not k.startswith(BACKBONE_PREFIX)}
        recorded = meta.get("backbone_sha256")
        if recorded is not None:
            from .backbones import state_hash

            if state_hash(model.backbone) != recorded:
                raise CheckpointError(f"{path} was trained on other packaged backbone weights (sha256 "
                                      f"{recorded[:12]}...); a different package version?")
    check_state_dict(expected, state, str(path))
    model.load_state_dict(state, strict=not config.packaged_backbone)
    return model.to(map_location).eval()
