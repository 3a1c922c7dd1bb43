#!/usr/bin/env python3
"""CPU/GPU benchmark of hotspot_core: per-crop latency of features, logits and all-action maps.

Compares, in one process on the same inputs, the batched analytic maps (one forward graph) and the
batched autograd maps (one backward pass) against the reference-style loop (one backward pass per
action), and prints the ratio. Random weights: speed does not depend on them.

    .venv/bin/python scripts/bench_core.py --backbones resnet18_dilated resnet50_dilated --batch 1 --actions 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from hotspot_core import cli
from hotspot_core.hotspots.model import build_model


def timed(fn, repeats: int, sync) -> float:
    fn()  # warm-up (allocator, kernels)
    sync()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", nargs="+", default=["resnet18_dilated", "resnet50_dilated"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--actions", type=int, default=7)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(
        f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, batch {args.batch}, "
        f"{args.actions} actions, input {args.input_size}, median of {args.repeats}"
    )
    print(
        f"{'backbone':18s} {'features':>10s} {'logits':>10s} {'maps analytic':>14s} {'maps autograd':>14s} "
        f"{'maps loop':>10s} {'loop/analytic':>14s}  (ms per crop)"
    )
    for name in args.backbones:
        torch.manual_seed(0)
        model = (
            build_model(
                {"backbone": name, "actions": [f"a{i}" for i in range(args.actions)], "input_size": args.input_size}
            )
            .to(device)
            .eval()
        )
        images = torch.randn(args.batch, 3, args.input_size, args.input_size, device=device)
        x = model.features(images)

        def analytic():
            with torch.inference_mode():
                model.hotspot_maps(x)

        def logits():
            with torch.inference_mode():
                model.inactive_logits(x)

        per_crop = lambda s: 1000 * s / args.batch  # noqa: E731
        t_feat = timed(lambda: model.features(images), args.repeats, sync)
        t_log = timed(logits, args.repeats, sync)
        t_an = timed(analytic, args.repeats, sync)
        t_ag = timed(lambda: model.hotspot_maps(x, method="autograd"), args.repeats, sync)
        t_loop = timed(lambda: model.hotspot_maps(x, method="loop"), args.repeats, sync)
        print(
            f"{name:18s} {per_crop(t_feat):10.1f} {per_crop(t_log):10.1f} {per_crop(t_an):14.1f} "
            f"{per_crop(t_ag):14.1f} {per_crop(t_loop):10.1f} {t_loop / t_an:13.2f}x"
        )


if __name__ == "__main__":
    cli.run(main)
