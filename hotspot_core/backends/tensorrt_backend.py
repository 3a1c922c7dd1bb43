"""The ``tensorrt`` backend: an engine built from the exported ONNX, cached on disk (see engine_cache).

TensorRT is imported only here, and only when this backend is used. The network is built strongly
typed where TensorRT has that mode (10.x flag; always on in 11), so the precision is the one written
into the ONNX (``export``: fp32, fp16 Convs, or int8 Q/DQ Convs); on TensorRT 8 the matching
builder flag is set instead. The batch dimension is dynamic: one profile from 1 to ``max_batch``
crops, with ``opt_batch`` as the size the kernels are tuned for.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hotspot_core.backends.base import BackendOptions, BackendOutput, InferenceBackend, log, resolve_precision
from hotspot_core.backends.engine_cache import EngineCache, EngineKey
from hotspot_core.backends.onnx_contract import INPUT_NAME, OUTPUT_NAMES
from hotspot_core.backends.onnx_files import onnx_for_backend
from hotspot_core.errors import BackendError
from hotspot_core.weights import file_sha256

if TYPE_CHECKING:
    from hotspot_core.hotspots.model import HotspotModel

__all__ = [
    "TENSORRT_HINT",
    "TensorRTBackend",
    "build_serialized_engine",
    "engine_key",
    "import_tensorrt",
    "layer_precisions",
    "load_or_build_engine",
]

TENSORRT_HINT = "pip install tensorrt-cu12 (or tensorrt-cu13, matching the CUDA of your driver)"


def import_tensorrt() -> Any:
    """The tensorrt module, or a BackendError that says how to install it."""
    try:
        import tensorrt
    except ImportError as exc:
        raise BackendError(
            f"the tensorrt backend needs NVIDIA TensorRT's Python package, which is not installed "
            f"({exc}); {TENSORRT_HINT}"
        ) from exc
    return tensorrt


def engine_key(
    trt: Any, onnx_path: Path, precision: str, profile: tuple[int, int, int], input_size: int, device: torch.device
) -> EngineKey:
    """The cache key of an engine for this GPU, TensorRT version, ONNX file and build options."""
    major, minor = torch.cuda.get_device_capability(device)
    return EngineKey(
        trt.__version__,
        torch.cuda.get_device_name(device),
        f"{major}.{minor}",
        file_sha256(onnx_path),
        precision,
        tuple(profile),
        int(input_size),
    )


def build_serialized_engine(
    trt: Any, onnx_path: Path, precision: str, profile: tuple[int, int, int], input_size: int, workspace_mb: int = 4096
) -> bytes:
    """Parse the ONNX and build a serialized engine with a dynamic batch profile (min, opt, max)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flag = trt.NetworkDefinitionCreationFlag
    flags = 0
    if hasattr(flag, "EXPLICIT_BATCH"):  # needed on TensorRT 8, ignored later
        flags |= 1 << int(flag.EXPLICIT_BATCH)
    strongly_typed = hasattr(flag, "STRONGLY_TYPED")
    if strongly_typed:
        flags |= 1 << int(flag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    if precision == "fp32" and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32, not TF32 matmuls
    if not strongly_typed:  # TensorRT 8: the ONNX types are hints only; allow the reduced precision
        if precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.set_flag(trt.BuilderFlag.FP16)
    if hasattr(trt, "ProfilingVerbosity"):
        config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # lets us report per-layer precision
    shapes = builder.create_optimization_profile()
    lo, opt, hi = profile
    shapes.set_shape(
        INPUT_NAME, (lo, 3, input_size, input_size), (opt, 3, input_size, input_size), (hi, 3, input_size, input_size)
    )
    config.add_optimization_profile(shapes)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT could not build an engine from {onnx_path} (see the TensorRT log above)")
    return bytes(serialized)


def layer_precisions(trt: Any, engine: Any) -> dict[str, int]:
    """How many engine layers output each data type (from the engine inspector; empty if unavailable)."""
    try:
        info = engine.create_engine_inspector().get_engine_information(trt.LayerInformationFormat.JSON)
        layers = json.loads(info).get("Layers", [])
    except Exception:  # inspector missing or not DETAILED: nothing to report
        return {}
    counts: Counter[str] = Counter()
    for layer in layers:
        text = json.dumps(layer.get("Outputs", layer)) if isinstance(layer, dict) else str(layer)
        for fmt in re.findall(r'"Format/Datatype":\s*"([^"]+)"', text):
            low = fmt.lower()
            counts[
                "int8"
                if "int8" in low
                else "fp16"
                if "half" in low or "fp16" in low
                else "bf16"
                if "bf16" in low or "bfloat" in low
                else "fp32"
                if "float" in low or "fp32" in low
                else "other"
            ] += 1
    return dict(counts)


def load_or_build_engine(
    trt: Any,
    onnx_path: Path,
    precision: str,
    profile: tuple[int, int, int],
    input_size: int,
    device: torch.device,
    cache_dir: Path,
    workspace_mb: int = 4096,
) -> Any:
    """The engine for this ONNX on this GPU: from ``cache_dir/engines`` when it matches, else built there."""
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    key = engine_key(trt, onnx_path, precision, profile, input_size, device)
    cache = EngineCache(Path(cache_dir) / "engines")
    result = cache.get_or_build(
        f"{onnx_path.stem}.{precision}.b{profile[2]}",
        key,
        build=lambda: build_serialized_engine(trt, onnx_path, precision, profile, input_size, workspace_mb),
        load=runtime.deserialize_cuda_engine,
    )
    counts = layer_precisions(trt, result.engine)
    log.info(
        "TensorRT %s engine %s (%s) on %s: precision %s, layer outputs by type %s",
        trt.__version__,
        result.path,
        "built" if result.built else "cached",
        key.gpu_name,
        precision,
        counts or "n/a",
    )
    return result.engine


_TORCH_DTYPES = {
    "FLOAT": torch.float32,
    "HALF": torch.float16,
    "BF16": torch.bfloat16,
    "INT32": torch.int32,
    "INT64": torch.int64,
    "INT8": torch.int8,
    "BOOL": torch.bool,
}


class TensorRTBackend(InferenceBackend):
    """Runs a TensorRT engine of the exported graph on CUDA tensors (engine cached on disk)."""

    name = "tensorrt"

    def __init__(
        self,
        model: HotspotModel,
        device: torch.device | str = "cuda",
        top_k: int | None = None,
        options: BackendOptions | None = None,
    ) -> None:
        trt = import_tensorrt()
        opts = BackendOptions.from_mapping(options)
        self.device = torch.device(device)
        if self.device.type != "cuda" or not torch.cuda.is_available():
            raise BackendError("the tensorrt backend needs a CUDA GPU (device 'cuda' or 'auto' on a GPU machine)")
        precision = resolve_precision(opts.precision, self.device)
        if precision == "bf16":
            log.warning("tensorrt backend: bf16 Convs need ONNX opset 22; building fp16 instead")
            precision = "fp16"
        cache_dir = opts.resolved_cache_dir()
        onnx_path, precision = onnx_for_backend(
            model, top_k, precision, opts.onnx_path, cache_dir, opts.calibration, self.name
        )
        self.top_k = top_k
        self.precision = precision
        self.max_batch = opts.max_batch
        profile = opts.trt_profile()
        with torch.cuda.device(self.device):
            self.engine = load_or_build_engine(
                trt, onnx_path, precision, profile, model.config.input_size, self.device, cache_dir, opts.workspace_mb
            )
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self._dtypes = {n: _TORCH_DTYPES[self.engine.get_tensor_dtype(n).name] for n in names}
        missing = {INPUT_NAME, *OUTPUT_NAMES} - set(names)
        if missing:
            raise BackendError(f"TensorRT engine from {onnx_path} lacks tensors {sorted(missing)}")
        self.onnx_path = onnx_path
        self.warmup(tuple(b for b in opts.batch_sizes if b <= self.max_batch), model.config.input_size)

    def _run(self, images: torch.Tensor | np.ndarray) -> BackendOutput:
        x = torch.as_tensor(images).to(self.device, torch.float32).contiguous()
        ctx = self.context
        ctx.set_input_shape(INPUT_NAME, tuple(x.shape))
        ctx.set_tensor_address(INPUT_NAME, x.data_ptr())
        outs = {}
        for name in OUTPUT_NAMES:
            t = torch.empty(tuple(ctx.get_tensor_shape(name)), dtype=self._dtypes[name], device=self.device)
            ctx.set_tensor_address(name, t.data_ptr())
            outs[name] = t
        stream = torch.cuda.current_stream(self.device)
        if not ctx.execute_async_v3(stream.cuda_stream):
            raise BackendError("TensorRT execution failed (see the TensorRT log)")
        return BackendOutput(outs["logits"], outs["actions"], outs["maps"])
