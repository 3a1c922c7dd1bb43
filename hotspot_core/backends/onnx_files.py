"""Which ONNX file a backend runs: a user's file (checked against the model) or our export cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from hotspot_core.backends.base import log
from hotspot_core.backends.export import export_onnx
from hotspot_core.backends.onnx_contract import DEFAULT_OPSET, check_matches_model, model_sha256, read_metadata
from hotspot_core.errors import BackendError
from hotspot_core.hotspots.model import HotspotModel

__all__ = ["cached_export", "load_calibration", "onnx_for_backend"]


def cached_export(
    model: HotspotModel,
    cache_dir: Path,
    top_k: int | None,
    precision: str,
    opset: int = DEFAULT_OPSET,
    calibration: np.ndarray | None = None,
) -> Path:
    """The model's ONNX export in ``cache_dir/onnx``, exported on first use (keyed by weights and options)."""
    k = 0 if top_k is None or top_k == model.config.num_actions else int(top_k)
    config = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode()).hexdigest()
    key = [model_sha256(model)[:16], config[:8], f"s{model.config.input_size}", f"k{k}", precision, f"op{opset}"]
    if calibration is not None:
        key.append(hashlib.sha256(np.ascontiguousarray(calibration, np.float32).tobytes()).hexdigest()[:12])
    path = Path(cache_dir) / "onnx" / f"{model.config.backbone}-{'-'.join(key)}.onnx"
    if path.is_file():
        try:
            meta = read_metadata(path)
            check_matches_model(meta, model, top_k, str(path))
            if meta["precision"] != precision:
                raise BackendError(f"it is {meta['precision']}, not {precision}")
            return path
        except Exception as exc:  # unreadable, foreign or stale: export again
            log.warning("cached ONNX %s cannot be used (%s); exporting again", path, exc)
    log.info("exporting %s ONNX (top_k=%s) to %s", precision, top_k, path)
    return export_onnx(model, path, top_k=top_k, opset=opset, precision=precision, calibration=calibration)


def load_calibration(path: str) -> np.ndarray:
    """The int8 calibration set: a .npy of normalised crops (N,3,S,S), as float32."""
    if not path:
        raise BackendError("int8 needs a calibration set: options.calibration = a .npy of normalised crops (N,3,S,S)")
    data = np.load(path)
    if data.ndim != 4 or data.shape[1] != 3:
        raise BackendError(f"calibration {path} must hold normalised crops (N,3,S,S), got shape {data.shape}")
    return data.astype(np.float32)


def onnx_for_backend(
    model: HotspotModel,
    top_k: int | None,
    precision: str,
    onnx_path: str | None,
    cache_dir: Path,
    calibration: str,
    backend: str,
) -> tuple[Path, str]:
    """The ONNX file a backend runs and the precision it truly holds.

    A given ``onnx_path`` must fit the model and top-k (``check_matches_model``) and its own precision wins
    over the requested one, with a log line; otherwise the model is exported into ``cache_dir`` (once).
    """
    if onnx_path:
        path = Path(onnx_path)
        meta = read_metadata(path)
        check_matches_model(meta, model, top_k, str(path))
        if meta["precision"] != precision:
            log.warning(
                "%s backend: %s is a %s export; running %s, not the requested %s",
                backend,
                path,
                meta["precision"],
                meta["precision"],
                precision,
            )
        return path, meta["precision"]
    data = load_calibration(calibration) if precision == "int8" else None
    return cached_export(model, cache_dir, top_k, precision, calibration=data), precision
