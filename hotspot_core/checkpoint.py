"""Our checkpoint format: one .safetensors file whose metadata holds the model config as JSON.

Shapes, feature width, input size, normalisation and the ordered action names all travel with the
weights, so any front end rebuilds exactly the model that was trained.

A model whose config has ``backbone_weights="packaged"`` is saved without its frozen ``backbone.*``
tensors (they come from an installed pip package at build time), so its checkpoint holds only the
trained head; the sha256 of the backbone's state is stored and checked on load.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from .config import ConfigError, ModelConfig

FORMAT = "interaction_hotspots/1"
BACKBONE_PREFIX = "backbone."


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its config."""


def save_checkpoint(
    model: torch.nn.Module, path: str | os.PathLike, extra: Mapping[str, Any] | None = None, fmt: str = FORMAT
) -> Path:
    """Write the model's weights and config (plus optional JSON-able ``extra`` info) to ``path``.

    ``fmt`` tags the file so each loader accepts only its own kind of model (the DAN has its own).
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": fmt, "config": json.dumps(model.config.to_dict())}
    if model.config.packaged_backbone:
        from .backbones import state_hash

        state = {k: v for k, v in state.items() if not k.startswith(BACKBONE_PREFIX)}
        metadata["backbone_sha256"] = state_hash(model.backbone)
    if extra:
        metadata["extra"] = json.dumps(dict(extra))
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # never leave a half-written checkpoint under the real name
    return path


def read_metadata(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """Config and extra info of a checkpoint, without loading its weights."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if meta.get("format") != FORMAT or "config" not in meta:
        raise CheckpointError(
            f"{path} is not an interaction-hotspots checkpoint (format {meta.get('format')!r}, expected "
            f"{FORMAT!r}); convert the authors' .pth files with `python -m hotspot_core.reference_import`"
        )
    try:
        config = ModelConfig.from_dict(json.loads(meta["config"]))
    except (ConfigError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: invalid model config: {exc}") from exc
    extra = json.loads(meta["extra"]) if "extra" in meta else {}
    return config, extra


def state_dict_problems(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor]) -> list[str]:
    """Every way ``found`` differs from ``expected`` (wrong shapes, missing and unexpected tensors); [] if none."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = [
        f"{k} has shape {tuple(found[k].shape)}, model expects {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(found))
        if tuple(found[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if wrong:
        problems.append("shape mismatch: " + "; ".join(wrong[:8]) + (" ..." if len(wrong) > 8 else ""))
    if missing:
        problems.append(f"missing tensors: {missing[:8]}" + (" ..." if len(missing) > 8 else ""))
    if unexpected:
        problems.append(f"unexpected tensors: {unexpected[:8]}" + (" ..." if len(unexpected) > 8 else ""))
    return problems


def check_state_dict(expected: Mapping[str, torch.Tensor], found: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise a CheckpointError naming every missing, unexpected or wrongly shaped tensor."""
    problems = state_dict_problems(expected, found)
    if problems:
        raise CheckpointError(f"{source} does not match its model config: " + " | ".join(problems))


def load_weights_into(model: torch.nn.Module, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> None:
    """Load a checkpoint's tensors into an already built ``model`` (any module with a ``config``).

    For a packaged-backbone model the checkpoint holds no ``backbone.*`` tensors; the backbone already
    built from the package must then match the sha256 recorded at save time.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        state = load_file(str(path), device=str(map_location))
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"cannot read weights from {path}: {exc}") from exc
    expected = model.state_dict()
    if model.config.packaged_backbone:
        expected = {k: v for k, v in expected.items() if not k.startswith(BACKBONE_PREFIX)}
        recorded = meta.get("backbone_sha256")
        if recorded is not None:
            from .backbones import state_hash

            found = state_hash(model.backbone)
            if found != recorded:
                raise CheckpointError(
                    f"{path} was trained on packaged backbone weights with sha256 {recorded[:12]}..., but the "
                    f"installed package gives {found[:12]}... (a different package version?)"
                )
    check_state_dict(expected, state, str(path))
    model.load_state_dict(state, strict=False)  # check_state_dict above ensured only backbone.* can be absent


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the model from a checkpoint's config and load its weights; returns it in eval mode."""
    from .backbones import BackboneWeightsError
    from .model import HotspotModel

    config, extra = read_metadata(path)
    if extra.get("method", "hotspots") != "hotspots":
        raise CheckpointError(
            f"{path} is a {extra['method']!r} baseline checkpoint, not a hotspot model "
            f"(load it with training.direct_cls.load_direct_cls)"
        )
    if config.packaged_backbone:
        try:  # the frozen backbone comes from its pip package; the checkpoint holds only the head
            model = HotspotModel(config)
        except BackboneWeightsError as exc:
            raise CheckpointError(f"{path} needs packaged backbone weights: {exc}") from exc
    else:
        # The checkpoint holds the backbone weights itself: don't ask for a separate ImageNet file.
        model = HotspotModel(ModelConfig.from_dict({**config.to_dict(), "backbone_weights": None}))
    load_weights_into(model, path, map_location)
    return model.to(map_location).eval()
