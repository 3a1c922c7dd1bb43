"""Epoch time with and without the frozen-backbone feature cache, measured in one process.

    .venv/bin/python scripts/bench_cache.py --data-root /tmp/hs/seen --crop 160 --resize 182 \
        --backbone efficientnet_lite0_dilated --backbone-weights packaged --epochs 2 --batch-size 16

Runs ``training.train`` twice on the same config -- once reading images through the backbone every
step, once from a freshly built cache (``--cache-views`` views, default: one per epoch) -- and prints
the mean epoch time of each, their ratio, the one-off cache build time and the break-even epoch count.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.train import train  # noqa: E402


def _epoch_seconds(out_dir: Path) -> list[float]:
    lines = (out_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x)["epoch_seconds"] for x in lines if "epoch_seconds" in x]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--resize", type=int, default=182)
    p.add_argument("--max-len", type=int, default=8)
    p.add_argument("--backbone", default="efficientnet_lite0_dilated")
    p.add_argument("--backbone-weights", default="packaged")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--num-workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-views", type=int, default=None, help="default: --epochs")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = p.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_cache_"))
    data = DatasetConfig(name="opra", root=args.data_root, crop=args.crop, resize=args.resize, max_len=args.max_len)
    common = dict(
        dataset=data,
        backbone=args.backbone,
        backbone_weights=args.backbone_weights,
        epochs=args.epochs,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        progress=False,
        tensorboard=False,
        cache_views=args.cache_views or args.epochs,
        threads=args.threads,
    )
    train(TrainConfig(out_dir=work / "plain", **common))
    cached = train(TrainConfig(out_dir=work / "cached", cache_features=work / "cache", **common))
    plain_s = _epoch_seconds(work / "plain")
    cached_s = _epoch_seconds(work / "cached")
    build_s = json.loads((work / "cache" / "meta.json").read_text())["build_seconds"]
    mean_plain = sum(plain_s) / len(plain_s)
    mean_cached = sum(cached_s) / len(cached_s)
    print(f"epoch time without cache: {mean_plain:.2f} s  (epochs: {', '.join(f'{s:.2f}' for s in plain_s)})")
    print(f"epoch time with cache:    {mean_cached:.3f} s  (epochs: {', '.join(f'{s:.3f}' for s in cached_s)})")
    print(
        f"speed-up: {mean_plain / mean_cached:.1f}x per epoch; cache build {build_s:.1f} s "
        f"({build_s / mean_plain:.2f} uncached epochs; {cached.seconds:.1f} s for the whole cached run)"
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
