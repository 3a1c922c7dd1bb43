#!/usr/bin/env python3
"""Benchmark every available inference backend against the reference-style baseline, with the FLOP floor.

For each number of actions A and batch size: per-crop latency and crops/s of each backend (and each
precision asked for), the reference-style baseline measured in the same process on the same inputs
(float32 backbone + F_ant forward + one autograd backward pass per action, i.e. method='loop', as the
authors' code does), the speed-up over it, the FLOPs per crop counted from the architecture, the
measured matmul throughput, and the physical floor (FLOPs / throughput) with the gap to it.
Random weights: speed does not depend on them. Not a test.

    .venv/bin/python scripts/bench_backends.py --backbone resnet18_dilated --input-size 224 \\
        --actions 7 20 --batches 1 4 8 --backends torch:fp32 torch:bf16 onnxruntime:fp32
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from collections.abc import Callable

import torch

from hotspot_core import cli
from hotspot_core.backends import BACKEND_NAMES, create_backend
from hotspot_core.errors import BackendError
from hotspot_core.hotspots.flops import graph_flops, matmul_throughput
from hotspot_core.hotspots.model import build_model

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


STAT = statistics.median


def timed(
    fn: Callable[[], object], repeats: int, sync: Callable[[], None], min_seconds: float = 0.0
) -> tuple[float, float]:
    """Median (or --stat) wall seconds of ``fn`` over ``repeats`` runs (and ``min_seconds`` in all), after a
    warm-up; and the mean CPU seconds (all threads of this process) per run, which other load on a
    shared machine disturbs much less than wall time."""
    fn()
    sync()
    samples: list[float] = []
    start, cpu0 = time.perf_counter(), time.process_time()
    while len(samples) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return STAT(samples), (time.process_time() - cpu0) / len(samples)


def parse_backend(spec: str) -> tuple[str, str, dict]:
    """'name[:precision[:key=value,...]]' -> (name, precision, extra options)."""
    parts = spec.split(":")
    extra = {}
    if len(parts) > 2 and parts[2]:
        for item in parts[2].split(","):
            k, v = item.split("=")
            extra[k] = {"true": True, "false": False}.get(v.lower(), int(v) if v.isdigit() else v)
    return parts[0], parts[1] if len(parts) > 1 and parts[1] else "auto", extra


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="resnet18_dilated")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--actions", type=int, nargs="+", default=[7, 20])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument(
        "--backends",
        nargs="+",
        default=list(BACKEND_NAMES),
        help="name[:precision[:option=value,...]], e.g. torch:bf16 onnxruntime:fp32:threads=2",
    )
    p.add_argument("--top-k", type=int, default=0, help="maps for the k most likely actions only (0: all)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--stat",
        choices=("median", "min"),
        default="median",
        help="min: the fastest run, least disturbed by other load on a shared machine",
    )
    p.add_argument("--min-seconds", type=float, default=0.0, help="time each case for at least this long")
    p.add_argument("--baseline-repeats", type=int, default=0, help="repeats of the slow baseline (0: --repeats)")
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--cache-dir", default="", help="ONNX/engine cache (default: the user cache folder)")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    global STAT
    STAT = min if args.stat == "min" else statistics.median

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    specs = [parse_backend(s) for s in args.backends]
    print(
        f"torch {torch.__version__}, device {torch.cuda.get_device_name(device) if cuda else 'cpu'}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
        f"{args.backbone} @ {args.input_size}, top_k {args.top_k or 'all'}, {args.stat} of {args.repeats}"
    )
    peak: dict[str, float] = {}

    def peak_for(precision: str) -> float:
        """Measured matmul FLOP/s in this precision (int8 is held to the fp16 figure), measured once."""
        key = "fp16" if precision == "int8" else precision
        if key not in peak:
            peak[key] = matmul_throughput(device, _DTYPES[key])
            print(f"matmul throughput {key}: {peak[key] / 1e12:.3f} TFLOP/s")
        return peak[key]

    peak_for("fp32")
    rows = []
    for a in args.actions:
        torch.manual_seed(0)
        model = (
            build_model(
                {"backbone": args.backbone, "actions": [f"a{i}" for i in range(a)], "input_size": args.input_size}
            )
            .to(device)
            .eval()
        )
        top_k = args.top_k or None
        flops = graph_flops(model, top_k)
        print(
            f"\nA = {a}: {flops['total'] / 1e9:.1f} GFLOP per crop (backbone {flops['backbone'] / 1e9:.1f}, "
            f"F_ant forward + {top_k or a} backward {flops['head'] / 1e9:.1f})"
        )
        backends = {}
        for name, prec, extra in specs:
            opts = {
                "precision": prec,
                "cache_dir": args.cache_dir,
                "batch_sizes": tuple(args.batches),
                "max_batch": max(args.batches),
                **extra,
            }
            shown = {k: v for k, v in extra.items() if k not in ("calibration", "cache_dir")}
            label = f"{name}:{prec}" + (":" + ",".join(f"{k}={v}" for k, v in shown.items()) if shown else "")
            try:
                # a copy each: a backend may change its model (channels-last weights), the baseline must not see it
                backends[label] = create_backend(name, copy.deepcopy(model), device, top_k, opts)
            except (BackendError, ImportError) as exc:
                print(f"{label:34.34s} unavailable: {exc}")
        for backend in backends.values():
            peak_for(backend.precision)  # measured before the table, not in the middle of it
        print(
            f"{'backend':34s} {'batch':>5s} {'ms/crop':>9s} {'crops/s':>8s} {'x baseline':>10s} "
            f"{'floor ms':>9s} {'x floor':>8s} {'cpu ms/crop':>11s}"
        )
        for batch in args.batches:
            images = torch.randn(batch, 3, args.input_size, args.input_size, device=device)
            base = None
            if not args.no_baseline:

                def baseline() -> None:
                    model.hotspot_maps(model.features(images), method="loop")

                base, cpu = timed(baseline, args.baseline_repeats or args.repeats, sync)
                rows.append({"actions": a, "batch": batch, "backend": "baseline:loop fp32", "s": base, "cpu_s": cpu})
                floor = flops["total"] * batch / peak_for("fp32")
                print(
                    f"{'baseline (loop, fp32)':34s} {batch:5d} {1000 * base / batch:9.1f} {batch / base:8.2f} "
                    f"{1.0:10.2f} {1000 * floor / batch:9.2f} {base / floor:8.1f} {1000 * cpu / batch:11.1f}"
                )
            for label, backend in backends.items():
                if backend.device.type != device.type:
                    x = images.to(backend.device)
                else:
                    x = images
                t, cpu = timed(lambda: backend.run(x), args.repeats, sync, args.min_seconds)
                prec = backend.precision
                floor = flops["total"] * batch / peak_for(prec)
                ratio = f"{base / t:10.2f}" if base else f"{'-':>10s}"
                print(
                    f"{label + ' -> ' + prec:34.34s} {batch:5d} {1000 * t / batch:9.1f} {batch / t:8.2f} {ratio} "
                    f"{1000 * floor / batch:9.2f} {t / floor:8.1f} {1000 * cpu / batch:11.1f}"
                )
                rows.append(
                    {
                        "actions": a,
                        "batch": batch,
                        "backend": label,
                        "precision": prec,
                        "s": t,
                        "cpu_s": cpu,
                        "baseline_s": base,
                        "floor_s": floor,
                        "gflop_per_crop": flops["total"] / 1e9,
                    }
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "peak_flops": peak, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    cli.run(main)
