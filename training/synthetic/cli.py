"""Command line of the synthetic world generator: ``python -m training.synthetic`` (see the package docstring)."""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from .catalogue import CATEGORY_BY_NAME, DEFAULT_NOVEL
from .config import WorldConfig
from .world import generate_world

__all__ = ["build_parser", "main"]

log = logging.getLogger(__name__)

DESCRIPTION = "A procedurally generated stand-in for OPRA, written in OPRA's on-disk layout and json schema."


def build_parser() -> argparse.ArgumentParser:
    d = WorldConfig()
    p = argparse.ArgumentParser(
        prog="python -m training.synthetic",
        description=DESCRIPTION,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty or absent)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split", choices=("seen", "novel"), default=d.split)
    p.add_argument(
        "--categories",
        nargs="+",
        default=list(d.categories),
        choices=sorted(CATEGORY_BY_NAME),
        metavar="CAT",
        help=f"object categories, from: {' '.join(sorted(CATEGORY_BY_NAME))}",
    )
    p.add_argument(
        "--novel-categories",
        nargs="+",
        default=None,
        metavar="CAT",
        help=f"held-out test categories for --split novel ({' '.join(DEFAULT_NOVEL)} if unset)",
    )
    p.add_argument("--products-per-category", type=int, default=d.products_per_category)
    p.add_argument("--clips-per-category", type=int, default=d.clips_per_category)
    p.add_argument(
        "--test-per-category",
        type=int,
        default=d.test_per_category,
        help="test products (catalogue images) per test category; one entry per afforded verb",
    )
    p.add_argument("--test-clips-per-category", type=int, default=d.test_clips_per_category)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--min-frames", type=int, default=d.min_frames)
    p.add_argument("--max-frames", type=int, default=d.max_frames)
    p.add_argument("--annotators", type=int, default=d.annotators)
    p.add_argument("--empty-points-frac", type=float, default=d.empty_points_frac)
    p.add_argument(
        "--short-clip-frac",
        type=float,
        default=d.short_clip_frac,
        help="fraction of train clips written one frame short of nframes (issue #5)",
    )
    p.add_argument("--write-mp4", action="store_true", help="also write clips/<...>.mp4 (OpenCV mp4v)")
    p.add_argument(
        "--dan-labels",
        action="store_true",
        help="Dual Attention Network labels: action/object labels, two-object actions, untouched "
        "second objects, per-frame object and hand boxes (see training/synthetic/dan.py)",
    )
    p.add_argument(
        "--dan-two-object-clips",
        type=int,
        default=d.dan_two_object_clips,
        help="with --dan-labels: two-object clips per source category and split",
    )
    p.add_argument(
        "--dan-extra-object-prob",
        type=float,
        default=d.dan_extra_object_prob,
        help="with --dan-labels: chance that a single-object clip shows an untouched second object",
    )
    p.add_argument("--overwrite", action="store_true", help="delete --out first if it exists")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = WorldConfig(
        seed=args.seed,
        split=args.split,
        categories=tuple(args.categories),
        novel_categories=tuple(args.novel_categories) if args.novel_categories else None,
        products_per_category=args.products_per_category,
        clips_per_category=args.clips_per_category,
        test_per_category=args.test_per_category,
        test_clips_per_category=args.test_clips_per_category,
        image_size=args.image_size,
        min_frames=args.min_frames,
        max_frames=args.max_frames,
        annotators=args.annotators,
        empty_points_frac=args.empty_points_frac,
        short_clip_frac=args.short_clip_frac,
        write_mp4=args.write_mp4,
        dan_labels=args.dan_labels,
        dan_two_object_clips=args.dan_two_object_clips,
        dan_extra_object_prob=args.dan_extra_object_prob,
    )
    if args.overwrite and args.out.exists():
        shutil.rmtree(args.out)
    t0 = time.perf_counter()
    annots = generate_world(args.out, cfg)
    n_frames = sum(e["nframes"] for e in annots["train_clips"] + annots["test_clips"])
    log.info(
        "wrote %s: %d train clips, %d test clips (%d frames), %d test images in %.1f s",
        args.out,
        len(annots["train_clips"]),
        len(annots["test_clips"]),
        n_frames,
        len(annots["test_images"]),
        time.perf_counter() - t0,
    )
    return 0
