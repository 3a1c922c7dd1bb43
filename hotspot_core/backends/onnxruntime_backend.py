"""The ``onnxruntime`` backend: the exported graph on ONNX Runtime (CPU, or CUDA/TensorRT providers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from hotspot_core.backends.base import BackendOptions, BackendOutput, InferenceBackend, log, resolve_precision
from hotspot_core.backends.onnx_files import onnx_for_backend
from hotspot_core.errors import BackendError

if TYPE_CHECKING:
    from hotspot_core.hotspots.model import HotspotModel

__all__ = ["OnnxRuntimeBackend", "choose_providers"]

_OPT_LEVELS = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "all": "ORT_ENABLE_ALL",
}


def choose_providers(device: torch.device, available: list[str]) -> list[str]:
    """Execution providers for a device: CUDA (and TensorRT when present) before CPU on a GPU."""
    if device.type == "cuda":
        gpu = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available]
        if gpu:
            return [*gpu, "CPUExecutionProvider"]
        log.warning("onnxruntime has no CUDA provider here (install onnxruntime-gpu); running on CPU")
    return ["CPUExecutionProvider"]


class OnnxRuntimeBackend(InferenceBackend):
    """Runs an exported ONNX graph (``options.onnx_path``, else the model exported into the cache)."""

    name = "onnxruntime"

    def __init__(
        self,
        model: HotspotModel,
        device: torch.device | str = "cpu",
        top_k: int | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError(
                "the onnxruntime backend needs the onnxruntime package (pip install onnxruntime)"
            ) from exc
        opts = BackendOptions.from_mapping(options)
        providers = choose_providers(torch.device(device), ort.get_available_providers())
        on_gpu = providers[0] != "CPUExecutionProvider"
        self.top_k = top_k
        precision = resolve_precision(opts.precision, torch.device("cuda" if on_gpu else "cpu"))
        if precision == "bf16":
            log.warning("onnxruntime backend: bf16 is not available for ONNX Conv at opset 17; using fp32")
            precision = "fp32"
        if precision == "fp16" and not on_gpu:
            log.warning("onnxruntime backend: fp16 on the CPU provider is slower than fp32; using fp32")
            precision = "fp32"
        path, precision = onnx_for_backend(
            model, top_k, precision, opts.onnx_path, opts.resolved_cache_dir(), opts.calibration, self.name
        )
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _OPT_LEVELS[opts.ort_optimization])
        if opts.threads:
            so.intra_op_num_threads = opts.threads
        self.session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        self.onnx_path = path
        self.providers = self.session.get_providers()
        self.precision = precision
        self.device = torch.device("cuda" if self.providers[0] != "CPUExecutionProvider" else "cpu")
        self._in = self.session.get_inputs()[0].name
        log.info("onnxruntime backend: %s, providers %s, precision %s", path, self.providers, precision)
        self.warmup(opts.batch_sizes, model.config.input_size)

    def _run(self, images: torch.Tensor | np.ndarray) -> BackendOutput:
        if isinstance(images, torch.Tensor):
            images = images.detach().float().cpu().numpy()
        logits, idx, maps = self.session.run(None, {self._in: np.ascontiguousarray(images, np.float32)})
        return BackendOutput(logits, idx, maps)

    def warmup(self, batch_sizes: tuple[int, ...], input_size: int) -> None:
        for b in batch_sizes:
            self._run(np.zeros((b, 3, input_size, input_size), np.float32))
