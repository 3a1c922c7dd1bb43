"""The ``torch`` backend: the analytic graph in PyTorch, eager, compiled or replayed from CUDA graphs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from hotspot_core.backends.base import BackendOptions, BackendOutput, InferenceBackend, log, resolve_precision
from hotspot_core.errors import BackendError
from hotspot_core.hotspots.analytic import HotspotGraph

if TYPE_CHECKING:
    from hotspot_core.hotspots.model import HotspotModel

__all__ = ["TorchBackend"]


class TorchBackend(InferenceBackend):
    """``HotspotGraph`` on CPU or CUDA.

    precision fp16/bf16 runs the backbone and all F_ant convolutions in that dtype (explicit casts, the
    same split as the exported ONNX; on CPU bf16 uses the AVX512-BF16/AMX kernels where the CPU has
    them). CUDA graphs are captured per batch size in ``options.batch_sizes``; a batch is padded up to
    the smallest captured size that fits (crops are independent), larger ones run eagerly.
    """

    name = "torch"

    def __init__(
        self,
        model: HotspotModel,
        device: torch.device | str = "cpu",
        top_k: int | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        opts = BackendOptions.from_mapping(options)
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        self.precision = resolve_precision(opts.precision, self.device)
        if self.precision == "int8":
            raise BackendError("int8 runs on the tensorrt and onnxruntime backends, not on torch")
        if self.precision == "fp16" and not cuda:
            log.warning("torch backend: fp16 convolutions on a CPU are very slow; bf16 is the fast CPU option")
        if opts.threads:
            torch.set_num_threads(opts.threads)  # process-wide: the predictor owns this process's CPU use
        self.top_k = top_k
        self.model = model.to(self.device).eval()
        self.graph = HotspotGraph(self.model, top_k=top_k, precision=self.precision).to(self.device).eval()
        self.channels_last = cuda if opts.channels_last is None else opts.channels_last
        if self.channels_last:
            self.graph.to(memory_format=torch.channels_last)
        self._fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]] = self.graph
        self.compiled = opts.compile
        if opts.compile:
            # Inductor's own CUDA graphs when both are asked for; manual capture of compiled code is fragile.
            mode = "reduce-overhead" if (cuda and opts.cuda_graphs) else None
            self._fn = torch.compile(self.graph, mode=mode, dynamic=False)
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, tuple[torch.Tensor, ...]]] = {}
        self.cuda_graphs = bool(opts.cuda_graphs and cuda and not opts.compile)
        if opts.cuda_graphs and not cuda:
            log.warning("torch backend: cuda_graphs needs a CUDA device; ignored on %s", self.device)
        size = model.config.input_size
        if self.cuda_graphs:
            pool = None
            for b in sorted(opts.batch_sizes, reverse=True):  # largest first: the others share its memory pool
                pool = self._capture(b, size, pool)
        self.warmup(opts.batch_sizes, size)
        log.info(
            "torch backend: %s, %s, channels_last=%s, compile=%s, cuda_graphs=%s",
            self.device,
            self.precision,
            self.channels_last,
            self.compiled,
            sorted(self._graphs) or False,
        )

    def _prepare(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(images).to(self.device, torch.float32, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _capture(self, batch: int, size: int, pool: object) -> object:
        static_in = self._prepare(torch.zeros(batch, 3, size, size))
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode(), torch.cuda.stream(side):
            for _ in range(2):  # cuDNN autotuning and allocations happen outside the capture
                self._fn(static_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.inference_mode(), torch.cuda.graph(graph, pool=pool):
            static_out = self._fn(static_in)
        self._graphs[batch] = (graph, static_in, tuple(static_out))
        return graph.pool()

    def _run(self, images: torch.Tensor | np.ndarray) -> BackendOutput:
        x = self._prepare(images)
        n = x.shape[0]
        fits = [b for b in self._graphs if b >= n]
        if fits:
            graph, static_in, out = self._graphs[min(fits)]
            static_in[:n].copy_(x)
            static_in[n:].zero_()
            graph.replay()
            return BackendOutput(*(t[:n].clone() for t in out))
        with torch.inference_mode():
            return BackendOutput(*self._fn(x))
