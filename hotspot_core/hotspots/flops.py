"""FLOPs of the hotspot graph and measured matmul throughput: the physical floor of a configuration."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

from hotspot_core.hotspots.analytic import HotspotGraph

if TYPE_CHECKING:
    from hotspot_core.hotspots.model import HotspotModel

__all__ = ["graph_flops", "matmul_throughput"]


def graph_flops(model: HotspotModel, top_k: int | None = None) -> dict[str, float]:
    """FLOPs per crop (1 multiply-add = 2) of convolutions and matmuls, counted on the meta device.

    Returns 'backbone', 'head' (F_ant forward, LSTM, classifier and the per-action backward) and 'total'.
    """
    meta = copy.deepcopy(model).to("meta")
    size = model.config.input_size
    images = torch.empty(1, 3, size, size, device="meta")
    with FlopCounterMode(display=False) as counter:
        meta.features(images)
    backbone = counter.get_total_flops()
    graph = HotspotGraph(meta, top_k=top_k)
    with FlopCounterMode(display=False) as counter:
        graph(images)
    total = counter.get_total_flops()
    return {"backbone": float(backbone), "head": float(total - backbone), "total": float(total)}


def matmul_throughput(
    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32, n: int | None = None, seconds: float = 1.0
) -> float:
    """Measured FLOP/s of a square matmul (n = 2048 on CPU, 8192 on CUDA) on ``device`` in ``dtype``."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    n = n or (8192 if cuda else 2048)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    for _ in range(2):
        a @ b
    sync()
    reps, t0 = 0, time.perf_counter()
    while True:
        a @ b
        reps += 1
        if reps % 4 == 0 or not cuda:
            sync()
            if time.perf_counter() - t0 > seconds:
                break
    sync()
    return 2 * n**3 * reps / (time.perf_counter() - t0)
