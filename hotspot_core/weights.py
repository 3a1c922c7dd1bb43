"""Weights files shared by every model of the core (the hotspot model and the DAN).

One mechanism: a ``.safetensors`` file whose metadata holds a format tag (each model has its own, so no
loader takes another model's file), the model's config as JSON and optional JSON ``extra`` info. A model
whose config says ``packaged_backbone`` is saved without its frozen ``backbone.*`` tensors (they come from
an installed pip package at build time); the sha256 of the backbone's state is recorded and checked on load.

A model served here is any ``nn.Module`` with a ``config`` (``to_dict()``, ``packaged_backbone``) and a
``backbone`` submodule.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from hotspot_core.errors import BackboneWeightsError, CheckpointError, ConfigError

__all__ = [
    "BACKBONE_PREFIX",
    "build_and_load",
    "check_state_dict",
    "file_sha256",
    "load_weights_into",
    "read_config",
    "read_safetensors_metadata",
    "save_weights",
    "state_dict_problems",
    "state_sha256",
]

BACKBONE_PREFIX = "backbone."
ConfigT = TypeVar("ConfigT")


def state_sha256(module: nn.Module) -> str:
    """sha256 over a module's state-dict names, dtypes, shapes and values (identifies its weights)."""
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def save_weights(model: nn.Module, path: str | os.PathLike, fmt: str, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the model's weights and config (plus optional JSON-able ``extra`` info) to ``path``, tagged ``fmt``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": fmt, "config": json.dumps(model.config.to_dict())}
    if model.config.packaged_backbone:
        state = {k: v for k, v in state.items() if not k.startswith(BACKBONE_PREFIX)}
        metadata["backbone_sha256"] = state_sha256(model.backbone)
    if extra:
        metadata["extra"] = json.dumps(dict(extra))
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # never leave a half-written checkpoint under the real name
    return path


def read_safetensors_metadata(path: str | os.PathLike, what: str = "checkpoint") -> dict[str, str]:
    """The header metadata of a safetensors file (CheckpointError if missing or unreadable)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{what} not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc


def read_config(
    path: str | os.PathLike,
    fmt: str,
    from_dict: Callable[[Mapping[str, Any]], ConfigT],
    what: str = "checkpoint",
    hint: str = "",
) -> tuple[ConfigT, dict[str, Any]]:
    """Config and extra info of a file of format ``fmt``, without loading its weights.

    ``what`` names the kind of file in messages; ``hint`` is appended when the format tag does not match.
    """
    meta = read_safetensors_metadata(path, what)
    if meta.get("format") != fmt or "config" not in meta:
        raise CheckpointError(f"{path} is not {_article(what)} (format {meta.get('format')!r}, expected {fmt!r}){hint}")
    try:
        config = from_dict(json.loads(meta["config"]))
    except (ConfigError, json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{path}: invalid {what.replace(' checkpoint', '')} config: {exc}") from exc
    extra = json.loads(meta["extra"]) if "extra" in meta else {}
    return config, extra


def _article(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def load_weights_into(model: nn.Module, path: str | os.PathLike, map_location: str | torch.device = "cpu") -> None:
    """Load a weights file's tensors into an already built ``model``.

    For a packaged-backbone model the file holds no ``backbone.*`` tensors; the backbone already built
    from the package must then match the sha256 recorded at save time.
    """
    from safetensors.torch import load_file

    meta = read_safetensors_metadata(path)
    try:
        state = load_file(str(path), device=str(map_location))
    except Exception as exc:
        raise CheckpointError(f"cannot read weights from {path}: {exc}") from exc
    expected = model.state_dict()
    if model.config.packaged_backbone:
        expected = {k: v for k, v in expected.items() if not k.startswith(BACKBONE_PREFIX)}
        recorded = meta.get("backbone_sha256")
        if recorded is not None:
            found = state_sha256(model.backbone)
            if found != recorded:
                raise CheckpointError(
                    f"{path} was trained on packaged backbone weights with sha256 {recorded[:12]}..., but the "
                    f"installed package gives {found[:12]}... (a different package version?)"
                )
    check_state_dict(expected, state, str(path))
    model.load_state_dict(state, strict=False)  # check_state_dict above ensured only backbone.* can be absent


def build_and_load(
    path: str | os.PathLike,
    config: Any,
    build: Callable[[Any], nn.Module],
    map_location: str | torch.device = "cpu",
) -> nn.Module:
    """Build a model for ``config`` and load the file's weights into it; returns it in eval mode.

    Only a packaged backbone is rebuilt from elsewhere (its pip package); any other backbone's weights
    come with the file, so no separate ImageNet file is asked for.
    """
    if not config.packaged_backbone:
        config = dataclasses.replace(config, backbone_weights=None)
    try:
        model = build(config)
    except BackboneWeightsError as exc:
        raise CheckpointError(f"{path} needs packaged backbone weights: {exc}") from exc
    load_weights_into(model, path, map_location)
    return model.to(map_location).eval()
