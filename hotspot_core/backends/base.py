"""The inference-backend interface: normalised crops in, (logits, action indices, raw maps) out."""

from __future__ import annotations

import dataclasses
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from hotspot_core.errors import BackendError

__all__ = ["BackendOptions", "BackendOutput", "InferenceBackend", "PRECISIONS", "resolve_precision"]

log = logging.getLogger("hotspot_core.backends")

PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")


@dataclass(frozen=True)
class BackendOptions:
    """Options of every backend; each backend reads the ones that concern it.

    precision: 'auto' (fp16 on CUDA, fp32 on CPU), 'fp32', 'fp16', 'bf16' or 'int8' (TensorRT only).
    channels_last: torch: NHWC memory format (None: on for CUDA, off for CPU).
    cuda_graphs: torch on CUDA: capture one CUDA graph per batch size in ``batch_sizes`` and pad each
        batch up to the smallest captured size that fits.
    compile: torch: wrap the graph in ``torch.compile``.
    batch_sizes: batch sizes to warm up (and capture, with cuda_graphs) at load.
    max_batch: largest batch one call runs (TensorRT profile max); larger batches run in chunks.
    opt_batch: the batch size TensorRT tunes its kernels for (capped at max_batch).
    threads: CPU intra-op threads (0: the library default).
    onnx_path: ONNX file to run (onnxruntime, tensorrt); empty: export the model into ``cache_dir``.
    cache_dir: where exported ONNX files and TensorRT engines are kept (empty: the user cache folder).
    ort_optimization: onnxruntime graph optimisation level: 'disable', 'basic', 'extended' or 'all'.
    calibration: int8 only: a .npy file of normalised crops (N,3,S,S) for calibration.
    workspace_mb: TensorRT builder workspace limit.
    """

    precision: str = "auto"
    channels_last: bool | None = None
    cuda_graphs: bool = False
    compile: bool = False
    batch_sizes: tuple[int, ...] = (1,)
    max_batch: int = 16
    opt_batch: int = 8
    threads: int = 0
    onnx_path: str = ""
    cache_dir: str = ""
    ort_optimization: str = "all"
    calibration: str = ""
    workspace_mb: int = 4096

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise BackendError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        sizes = tuple(int(b) for b in self.batch_sizes)
        if not sizes or min(sizes) < 1:
            raise BackendError(f"batch_sizes must be positive, got {self.batch_sizes!r}")
        object.__setattr__(self, "batch_sizes", tuple(sorted(set(sizes))))
        if self.max_batch < 1 or self.opt_batch < 1:
            raise BackendError(f"max_batch and opt_batch must be >= 1, got {self.max_batch}, {self.opt_batch}")
        if self.ort_optimization not in ("disable", "basic", "extended", "all"):
            raise BackendError(f"ort_optimization must be disable|basic|extended|all, got {self.ort_optimization!r}")

    @classmethod
    def from_mapping(cls, values: BackendOptions | Mapping[str, Any] | None) -> BackendOptions:
        """Options from a mapping (unknown keys are an error that lists the known ones)."""
        if values is None:
            return cls()
        if isinstance(values, BackendOptions):
            return values
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BackendError(f"unknown backend options {unknown}; known: {sorted(known)}")
        return cls(**dict(values))

    def trt_profile(self) -> tuple[int, int, int]:
        """TensorRT's (min, opt, max) batch profile."""
        return 1, min(self.opt_batch, self.max_batch), self.max_batch

    def resolved_cache_dir(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "interaction_hotspots"


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'fp16' on CUDA, 'fp32' elsewhere; other values unchanged."""
    if precision == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    return precision


class BackendOutput(NamedTuple):
    """One batch's results: logits (N,A) float, action indices (N,K) int, raw Eq. 4 maps (N,K,h,w) float."""

    logits: torch.Tensor | np.ndarray
    action_idx: torch.Tensor | np.ndarray
    maps: torch.Tensor | np.ndarray

    def numpy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float32 logits, int64 indices and float32 maps as numpy arrays."""
        return (
            _to_numpy(self.logits).astype(np.float32, copy=False),
            _to_numpy(self.action_idx).astype(np.int64, copy=False),
            _to_numpy(self.maps).astype(np.float32, copy=False),
        )


def _to_numpy(a: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().float().cpu().numpy() if a.is_floating_point() else a.detach().cpu().numpy()
    return np.asarray(a)


class InferenceBackend(ABC):
    """Runs the hotspot graph on a batch of normalised crops.

    Subclasses set ``name``, ``precision`` (what really runs, e.g. 'fp16') and ``device`` (where the
    inputs should live), and implement ``_run`` for one batch of at most ``max_batch`` crops.
    """

    name: str = ""
    precision: str = "fp32"
    device: torch.device = torch.device("cpu")
    max_batch: int | None = None  # None: any batch size in one call
    top_k: int | None = None

    def run(self, images: torch.Tensor | np.ndarray) -> BackendOutput:
        """(N,3,S,S) normalised float crops -> BackendOutput; batches above ``max_batch`` run in chunks."""
        n = images.shape[0]
        if n == 0:
            raise ValueError("run() needs at least one crop")
        if self.max_batch is None or n <= self.max_batch:
            return self._run(images)
        parts = [self._run(images[i : i + self.max_batch]) for i in range(0, n, self.max_batch)]
        cat = (lambda xs: torch.cat(xs)) if isinstance(parts[0].maps, torch.Tensor) else np.concatenate
        return BackendOutput(*(cat([getattr(p, f) for p in parts]) for f in BackendOutput._fields))

    @abstractmethod
    def _run(self, images: torch.Tensor | np.ndarray) -> BackendOutput:
        """One batch of at most ``max_batch`` crops."""

    def warmup(self, batch_sizes: tuple[int, ...], input_size: int) -> None:
        """Run each batch size once on zeros, so the first real frame does not pay for set-up."""
        for b in batch_sizes:
            self.run(torch.zeros(b, 3, input_size, input_size, device=self.device))

    def describe(self) -> str:
        return f"{self.name} on {self.device} ({self.precision})"
