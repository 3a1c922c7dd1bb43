"""The contract of our ONNX files: names, formats and the metadata every exported file carries.

``export`` writes it, ``read_metadata`` reads it back typed, ``check_matches_model`` refuses a file that
does not fit the model (and top-k) it should serve.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from hotspot_core.errors import BackendError
from hotspot_core.weights import state_sha256

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_OPSET",
    "INPUT_NAME",
    "ONNX_FORMAT",
    "ONNX_PRECISIONS",
    "OUTPUT_NAMES",
    "check_matches_model",
    "model_sha256",
    "read_metadata",
    "set_metadata",
]

ONNX_FORMAT = "interaction_hotspots.onnx/1"
DEFAULT_OPSET = 17  # TensorRT 8.6-11 and onnxruntime all parse it
ONNX_PRECISIONS = ("fp32", "fp16", "int8")
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "actions", "maps")


def model_sha256(model: nn.Module) -> str:
    """sha256 of a model's state (names, shapes, values): which weights an ONNX file was made from."""
    return state_sha256(model)


def set_metadata(proto: onnx.ModelProto, values: dict[str, str]) -> None:
    """Replace ``metadata_props`` entries with these (string) values."""
    keep = [p for p in proto.metadata_props if p.key not in values]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in values.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Metadata of an exported file, typed: actions (list), input_size (int), top_k (int, 0 = all) ..."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    raw = {p.key: p.value for p in proto.metadata_props}
    if raw.get("hotspots.format") != ONNX_FORMAT:
        raise BackendError(
            f"{path} is not an interaction-hotspots ONNX export (format {raw.get('hotspots.format')!r}, "
            f"expected {ONNX_FORMAT!r}); make one with `python -m training.export CKPT -o FILE.onnx`"
        )
    meta: dict[str, Any] = dict(raw)
    for key in ("actions", "mean", "std"):
        meta[key] = json.loads(raw[key])
    for key in ("input_size", "feature_size", "top_k", "opset"):
        meta[key] = int(raw[key])
    return meta


def check_matches_model(meta: dict[str, Any], model: nn.Module, top_k: int | None, source: str) -> None:
    """Raise BackendError naming each way an ONNX file does not fit the model and top-k it should serve."""
    cfg = model.config
    want_k = 0 if top_k is None or top_k == cfg.num_actions else int(top_k)
    problems = []
    if meta["actions"] != list(cfg.actions):
        problems.append(f"actions {meta['actions']} vs model {list(cfg.actions)}")
    if meta["input_size"] != cfg.input_size:
        problems.append(f"input_size {meta['input_size']} vs model {cfg.input_size}")
    if not np.allclose(meta["mean"], cfg.mean) or not np.allclose(meta["std"], cfg.std):
        problems.append("mean/std differ from the model's")
    if meta["backbone"] != cfg.backbone:
        problems.append(f"backbone {meta['backbone']} vs model {cfg.backbone}")
    if meta.get("pool", "l2") != cfg.pool:  # exports older than the pool option are L2
        problems.append(f"pool {meta.get('pool', 'l2')} vs model {cfg.pool}")
    if meta.get("map_form", "eq4") != cfg.map_form:  # exports older than the option are Eq. 4
        problems.append(f"map_form {meta.get('map_form', 'eq4')} vs model {cfg.map_form}")
    if meta["top_k"] != want_k:
        problems.append(f"top_k {meta['top_k']} vs requested {want_k} (0 = all actions)")
    if meta.get("model_sha256") and meta["model_sha256"] != model_sha256(model):
        problems.append("it was exported from different weights (model_sha256 differs)")
    if problems:
        raise BackendError(f"{source} does not match the loaded model: " + "; ".join(problems))
