"""Export the analytic hotspot graph to ONNX, with the model's metadata, in float32, float16 or int8.

The graph is always traced in float32 (fast on any CPU) with torch's TorchScript-based exporter
(``dynamo=False``, available in torch 2.11 and 2.14 alike); reduced precision is then written into the
ONNX itself by the graph passes of ``onnx_passes`` -- every Conv gets float16 weights and Casts around it
(``fp16``), or int8 QuantizeLinear/DequantizeLinear pairs (``int8``) -- so a strongly typed TensorRT
network (the only kind TensorRT 11 builds) runs exactly the precision the file states.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hotspot_core.backends.onnx_contract import (
    DEFAULT_OPSET,
    INPUT_NAME,
    ONNX_FORMAT,
    ONNX_PRECISIONS,
    OUTPUT_NAMES,
    model_sha256,
    set_metadata,
)
from hotspot_core.backends.onnx_passes import constants_to_initializers, convs_to_float16, quantize_convs_int8
from hotspot_core.errors import BackendError
from hotspot_core.hotspots.analytic import HotspotGraph
from hotspot_core.hotspots.model import HotspotModel

__all__ = ["export_onnx"]


class _ExportGraph(nn.Module):
    # int32 action indices: TensorRT before 10 has no int64 network outputs.
    def __init__(self, graph: HotspotGraph) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, idx, maps = self.graph(images)
        return logits, idx.to(torch.int32), maps


def export_onnx(
    model: HotspotModel,
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
            graph,
            (dummy,),
            str(tmp),
            dynamo=False,
            opset_version=opset,
            do_constant_folding=True,
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=dynamic_axes,
        )
    proto = onnx.load(str(tmp))
    constants_to_initializers(proto)
    if precision == "fp16":
        convs_to_float16(proto)
    elif precision == "int8":
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
        "map_form": cfg.map_form,
        "top_k": str(0 if k == cfg.num_actions else k),  # 0: maps for every action, in model order
        "precision": precision,
        "opset": str(opset),
        "batch": "dynamic" if batch_dynamic else str(batch),
        "model_sha256": model_sha256(model),
        "input": f"{INPUT_NAME}: float32 (N,3,S,S) RGB in [0,1], (x - mean) / std",
        "outputs": "logits: float32 (N,A); actions: int32 (N,K) map action indices; maps: float32 (N,K,F,F) raw maps (map_form), F = feature_size",
        "producer": f"torch {torch.__version__}",
        **(extra_metadata or {}),
    }
    set_metadata(proto, meta)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)  # never leave a half-written file under the real name
    return path
