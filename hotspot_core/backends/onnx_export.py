"""Export the analytic hotspot graph to ONNX, with the model's metadata, in float32, float16 or int8.

The graph is always traced in float32 (fast on any CPU) with torch's TorchScript-based exporter
(``dynamo=False``, available in torch 2.11 and 2.14 alike); reduced precision is then written into the
ONNX itself -- every Conv gets float16 weights and Casts around it (``fp16``), or int8
QuantizeLinear/DequantizeLinear pairs (``int8``, see ``quantize``) -- so a strongly typed TensorRT
network (the only kind TensorRT 11 builds) runs exactly the precision the file states.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch import nn

from ..analytic import HotspotGraph
from .base import BackendError, log

if TYPE_CHECKING:
    import onnx

    from ..model import HotspotModel

ONNX_FORMAT = "interaction_hotspots.onnx/1"
DEFAULT_OPSET = 17  # TensorRT 8.6-11 and onnxruntime all parse it
ONNX_PRECISIONS = ("fp32", "fp16", "int8")
INPUT_NAME = "images"
OUTPUT_NAMES = ("logits", "actions", "maps")


class _ExportGraph(nn.Module):
    # int32 action indices: TensorRT before 10 has no int64 network outputs.
    def __init__(self, graph: HotspotGraph) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, idx, maps = self.graph(images)
        return logits, idx.to(torch.int32), maps


def model_sha256(model: nn.Module) -> str:
    """sha256 of a model's state (names, shapes, values): which weights an ONNX file was made from."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        t = value.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(
    model: "HotspotModel",
    path: str | os.PathLike,
    top_k: int | None = None,
    opset: int = DEFAULT_OPSET,
    batch_dynamic: bool = True,
    batch: int = 1,
    precision: str = "fp32",
    calibration: np.ndarray | None = None,
    extra_metadata: dict[str, str] | None = None,
) -> Path:
    """Write the model's images -> (logits, actions, maps) graph to ``path``; returns the path.

    batch_dynamic: a symbolic batch axis (else a fixed ``batch``). precision: 'fp32', 'fp16' (float16
    Convs) or 'int8' (Q/DQ Convs; needs ``calibration``, normalised crops (N,3,S,S)). The file is
    ``onnx.checker`` clean and carries the metadata that ``read_metadata`` returns.
    """
    import onnx

    if precision not in ONNX_PRECISIONS:
        raise BackendError(f"ONNX precision must be one of {list(ONNX_PRECISIONS)}, got {precision!r}")
    if precision == "int8" and calibration is None:
        raise BackendError("int8 export needs a calibration set (normalised crops, N x 3 x S x S)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = model.config
    graph = _ExportGraph(HotspotGraph(model, top_k=top_k)).eval()
    n = 2 if batch_dynamic else batch  # trace with 2 so nothing specialises on a batch of 1
    device = next(model.parameters()).device  # trace where the model is (a GPU traces the big one fast)
    dummy = torch.randn(n, 3, cfg.input_size, cfg.input_size, device=device)
    dynamic_axes = {name: {0: "n"} for name in (INPUT_NAME, *OUTPUT_NAMES)} if batch_dynamic else None
    tmp = path.with_name(path.name + ".tmp")
    with torch.no_grad():
        torch.onnx.export(
            graph, (dummy,), str(tmp), dynamo=False, opset_version=opset, do_constant_folding=True,
            input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic_axes,
        )
    proto = onnx.load(str(tmp))
    constants_to_initializers(proto)
    if precision == "fp16":
        convs_to_float16(proto)
    elif precision == "int8":
        from .quantize import quantize_convs_int8

        quantize_convs_int8(proto, calibration)
    k = cfg.num_actions if top_k is None else int(top_k)
    meta = {
        "hotspots.format": ONNX_FORMAT,
        "actions": json.dumps(list(cfg.actions)),
        "input_size": str(cfg.input_size),
        "feature_size": str(cfg.feature_size),
        "mean": json.dumps(list(cfg.mean)),
        "std": json.dumps(list(cfg.std)),
        "backbone": cfg.backbone,
        "ant_loss": cfg.ant_loss,
        "pool": cfg.pool,
        "top_k": str(0 if k == cfg.num_actions else k),  # 0: maps for every action, in model order
        "precision": precision,
        "opset": str(opset),
        "batch": "dynamic" if batch_dynamic else str(batch),
        "model_sha256": model_sha256(model),
        "input": f"{INPUT_NAME}: float32 (N,3,S,S) RGB in [0,1], (x - mean) / std",
        "outputs": "logits: float32 (N,A); actions: int32 (N,K) map action indices; maps: float32 (N,K,F,F) raw Eq. 4, F = feature_size",
        "producer": f"torch {torch.__version__}",
        **(extra_metadata or {}),
    }
    set_metadata(proto, meta)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)  # never leave a half-written file under the real name
    return path


def set_metadata(proto: "onnx.ModelProto", values: dict[str, str]) -> None:
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


def check_matches_model(meta: dict[str, Any], model: "HotspotModel", top_k: int | None, source: str) -> None:
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
    if meta["top_k"] != want_k:
        problems.append(f"top_k {meta['top_k']} vs requested {want_k} (0 = all actions)")
    if meta.get("model_sha256") and meta["model_sha256"] != model_sha256(model):
        problems.append("it was exported from different weights (model_sha256 differs)")
    if problems:
        raise BackendError(f"{source} does not match the loaded model: " + "; ".join(problems))


def cached_export(
    model: "HotspotModel",
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
    model: "HotspotModel", top_k: int | None, precision: str, onnx_path: str | None, cache_dir: Path,
    calibration: str, backend: str,
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
            log.warning("%s backend: %s is a %s export; running %s, not the requested %s",
                        backend, path, meta["precision"], meta["precision"], precision)
        return path, meta["precision"]
    data = load_calibration(calibration) if precision == "int8" else None
    return cached_export(model, cache_dir, top_k, precision, calibration=data), precision


def constants_to_initializers(proto: "onnx.ModelProto") -> int:
    """Turn tensor-valued Constant nodes (how the exporter writes buffers) into initializers."""
    from onnx import numpy_helper

    keep, moved = [], 0
    for node in proto.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and set(attrs) == {"value"}:
            proto.graph.initializer.append(numpy_helper.from_array(numpy_helper.to_array(attrs["value"].t), node.output[0]))
            moved += 1
        else:
            keep.append(node)
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    return moved


def _initializer_map(proto: "onnx.ModelProto") -> dict[str, Any]:
    return {init.name: init for init in proto.graph.initializer}


def convs_to_float16(proto: "onnx.ModelProto", ops: Sequence[str] = ("Conv",)) -> int:
    """Run every Conv in float16: weights stored as float16, Casts on its input and output.

    Everything else (ReLU masks, pooling, LSTM, the map sum) stays float32. Returns how many nodes changed.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = _initializer_map(proto)
    new_nodes = []
    changed = 0
    for node in proto.graph.node:
        if node.op_type not in ops:
            new_nodes.append(node)
            continue
        changed += 1
        for i, name in enumerate(node.input):
            if not name:
                continue
            if name in inits:  # constant weight or bias: store it as float16
                half = numpy_helper.from_array(numpy_helper.to_array(inits[name]).astype(np.float16), f"{name}__fp16")
                proto.graph.initializer.append(half)
                node.input[i] = half.name
            else:
                cast = f"{name}__to_fp16_{changed}"
                new_nodes.append(helper.make_node("Cast", [name], [cast], to=TensorProto.FLOAT16))
                node.input[i] = cast
        out = node.output[0]
        node.output[0] = f"{out}__fp16"
        new_nodes.append(node)
        new_nodes.append(helper.make_node("Cast", [node.output[0]], [out], to=TensorProto.FLOAT))
    del proto.graph.node[:]
    proto.graph.node.extend(new_nodes)
    _drop_unused_initializers(proto)
    onnx.checker.check_model(proto)
    return changed


def _drop_unused_initializers(proto: "onnx.ModelProto") -> None:
    used = {name for node in proto.graph.node for name in node.input}
    used |= {o.name for o in proto.graph.output}
    keep = [init for init in proto.graph.initializer if init.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
