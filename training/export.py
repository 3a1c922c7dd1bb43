"""Checkpoint -> ONNX: the analytic hotspot graph with action names and preprocessing in its metadata.

    python -m training.export model.safetensors -o model.onnx [--top-k K] [--opset 17] [--batch-dynamic]
                              [--precision fp32|fp16|int8 [--calibration crops.npy]]

The file is ``onnx.checker`` clean; ``hotspot_core.backends.onnx_contract.read_metadata`` reads it back.
Opset 17 is parsed by TensorRT 8.6 to 11 and by onnxruntime.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hotspot_core import cli


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path, help="hotspot checkpoint (.safetensors)")
    p.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    p.add_argument("--top-k", type=int, default=0, help="maps only for the k most likely actions (0: all)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17, which TensorRT parses)")
    p.add_argument("--batch-dynamic", action="store_true", help="symbolic batch axis (else a fixed --batch)")
    p.add_argument("--batch", type=int, default=1, help="fixed batch size without --batch-dynamic")
    p.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "fp16", "int8"),
        help="fp16: float16 Convs; int8: Q/DQ Convs calibrated on --calibration",
    )
    p.add_argument("--calibration", type=Path, help="int8: .npy of normalised crops (N,3,S,S)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from hotspot_core.backends.export import export_onnx
    from hotspot_core.backends.onnx_contract import read_metadata
    from hotspot_core.errors import BackendError, CheckpointError
    from hotspot_core.hotspots.checkpoint import load_model

    try:
        model = load_model(args.checkpoint)
        calibration = np.load(args.calibration).astype(np.float32) if args.calibration else None
        path = export_onnx(
            model,
            args.output,
            top_k=args.top_k or None,
            opset=args.opset,
            batch_dynamic=args.batch_dynamic,
            batch=args.batch,
            precision=args.precision,
            calibration=calibration,
        )
        meta = read_metadata(path)
    except (BackendError, CheckpointError, ValueError, OSError) as exc:
        return cli.report(exc)
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {meta['backbone']}, {len(meta['actions'])} actions, "
        f"input {meta['input_size']}, top_k {meta['top_k'] or 'all'}, {meta['precision']}, opset {meta['opset']}, "
        f"batch {meta['batch']}"
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
