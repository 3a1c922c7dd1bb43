"""Build (only) the TensorRT engine a deployment will use, into the engine cache the node reads.

    python -m training.build_engine model.safetensors [--precision fp16] [--top-k K] [--max-batch 16]
                                    [--opt-batch 8] [--cache-dir DIR] [--calibration crops.npy]
    python -m training.build_engine model.onnx ...     (an existing export; its precision is used)

Run it on the target machine (engines are specific to the GPU model and TensorRT version) with the same
cache dir, top-k, precision and max batch as the node (cache_dir, top_k, precision, max_objects), so the
node finds the engine instead of building it at configure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hotspot_core import cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.build_engine", description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="hotspot checkpoint (.safetensors) or ONNX export (.onnx)")
    p.add_argument("--precision", default="fp16", choices=("fp32", "fp16", "int8"))
    p.add_argument("--top-k", type=int, default=0, help="maps only for the k most likely actions (0: all)")
    p.add_argument("--max-batch", type=int, default=16, help="largest batch of crops (the node's max_objects)")
    p.add_argument("--opt-batch", type=int, default=8, help="batch size the kernels are tuned for")
    p.add_argument("--cache-dir", default="", help="engine cache (default ~/.cache/interaction_hotspots)")
    p.add_argument("--calibration", type=Path, help="int8: .npy of normalised crops (N,3,S,S)")
    p.add_argument("--workspace-mb", type=int, default=4096)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.source.is_file():  # before TensorRT and the GPU, which a wrong path has nothing to do with
        parser.error(f"no such file: {args.source}")
    import torch

    from hotspot_core.backends import BackendOptions
    from hotspot_core.backends.onnx_contract import read_metadata
    from hotspot_core.backends.onnx_files import cached_export
    from hotspot_core.backends.tensorrt_backend import import_tensorrt, load_or_build_engine
    from hotspot_core.errors import BackendError

    try:
        trt = import_tensorrt()  # first, so a machine without TensorRT fails before any export work
        if not torch.cuda.is_available():
            raise BackendError("building a TensorRT engine needs a CUDA GPU, and none is visible")
        opts = BackendOptions(
            precision=args.precision, cache_dir=args.cache_dir, max_batch=args.max_batch, opt_batch=args.opt_batch
        )
        if args.source.suffix == ".onnx":
            onnx_path, meta = args.source, read_metadata(args.source)
        else:
            from hotspot_core.hotspots.checkpoint import load_model

            model = load_model(args.source, map_location="cuda")
            calibration = np.load(args.calibration).astype(np.float32) if args.calibration else None
            onnx_path = cached_export(
                model, opts.resolved_cache_dir(), args.top_k or None, args.precision, calibration=calibration
            )
            meta = read_metadata(onnx_path)
        load_or_build_engine(
            trt,
            Path(onnx_path),
            meta["precision"],
            opts.trt_profile(),
            meta["input_size"],
            torch.device("cuda"),
            opts.resolved_cache_dir(),
            args.workspace_mb,
        )
    except Exception as exc:  # noqa: BLE001 - a deployment command: one clear line, non-zero exit
        print(f"build_engine failed: {exc}", file=sys.stderr)
        return 2
    print(
        f"engine ready in {opts.resolved_cache_dir() / 'engines'} for {onnx_path} ({meta['precision']}, "
        f"batch 1..{opts.max_batch})"
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
