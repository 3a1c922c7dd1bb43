"""Inference backends behind one interface, selected by name: 'torch', 'onnxruntime', 'tensorrt'.

backend = create_backend("onnxruntime", model, device="cpu", top_k=None, options={"threads": 2})
logits, action_idx, maps = backend.run(images).numpy()
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from hotspot_core.backends.base import PRECISIONS, BackendOptions, BackendOutput, InferenceBackend, resolve_precision
from hotspot_core.errors import BackendError

if TYPE_CHECKING:
    from hotspot_core.hotspots.model import HotspotModel

# name -> "module:class", imported on first use so a missing optional package only matters when asked for
_REGISTRY: dict[str, str] = {
    "torch": "hotspot_core.backends.torch_backend:TorchBackend",
    "onnxruntime": "hotspot_core.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "tensorrt": "hotspot_core.backends.tensorrt_backend:TensorRTBackend",
}
BACKEND_NAMES = tuple(_REGISTRY)


def register_backend(name: str, target: str) -> None:
    """Add a backend: ``target`` is 'module:ClassName' of an ``InferenceBackend`` subclass."""
    if ":" not in target:
        raise ValueError(f"backend target must be 'module:ClassName', got {target!r}")
    _REGISTRY[name] = target


def backend_class(name: str) -> type[InferenceBackend]:
    """The class registered under ``name`` (BackendError for an unknown name)."""
    if name not in _REGISTRY:
        raise BackendError(f"unknown inference backend {name!r}; choose from {sorted(_REGISTRY)}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create_backend(
    name: str,
    model: HotspotModel,
    device: torch.device | str = "cpu",
    top_k: int | None = None,
    options: BackendOptions | Mapping[str, Any] | None = None,
) -> InferenceBackend:
    """Build and warm up backend ``name`` for ``model`` on ``device`` (maps for the top-k actions, or all)."""
    return backend_class(name)(model, device=device, top_k=top_k, options=BackendOptions.from_mapping(options))


__all__ = [
    "BACKEND_NAMES",
    "PRECISIONS",
    "BackendError",
    "BackendOptions",
    "BackendOutput",
    "InferenceBackend",
    "backend_class",
    "create_backend",
    "register_backend",
    "resolve_precision",
]
