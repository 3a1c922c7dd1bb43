"""Writing a synthetic world to disk in OPRA's layout: catalogue images, clip frames, annotations, README."""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .catalogue import CATEGORY_BY_NAME, VERBS, Category, Part
from .config import FPS, GENERATOR_NAME, GENERATOR_VERSION, WorldConfig, rng_stream
from .dan import DAN_ACTIONS, ClipRecord, readme_lines, two_object_entries
from .draw import Instance, Pose, make_instance, part_anchor_px, part_polygons_px
from .render import ClipRecorder, render_catalogue, render_clip

__all__ = ["CATALOGUE_ASPECTS", "generate_world", "reuse_or_generate_world", "verb_annotations"]

log = logging.getLogger(__name__)


def _part_box_px(inst: Instance, pose: Pose, part: Part, h: int, w: int) -> tuple[list[int], list[int]]:
    """Pixel rows [r0, r1] and cols [c0, c1] (inclusive) of the part, clipped to the image."""
    pts = np.concatenate(part_polygons_px(inst, pose, part))
    pad = max((sh.thickness for sh in part.shapes), default=0.0) * pose.size / 2
    c0, r0 = np.floor(pts.min(0) - pad).astype(int)
    c1, r1 = np.ceil(pts.max(0) + pad).astype(int)
    return [int(max(r0, 0)), int(min(r1, h - 1))], [int(max(c0, 0)), int(min(c1, w - 1))]


def _annotator_points(
    anchor_xy: np.ndarray, rows: list[int], cols: list[int], n_annot: int, rng: np.random.Generator
) -> list[list[float]]:
    """Several annotators' points ``[row, col]`` near the part's interaction point, inside its box."""
    spread = 0.15 * min(rows[1] - rows[0] + 1, cols[1] - cols[0] + 1) + 1.0
    pts = []
    for _ in range(n_annot):
        for _ in range(int(rng.integers(1, 3))):
            x = float(np.clip(anchor_xy[0] + rng.normal(0, spread), cols[0], cols[1]))
            y = float(np.clip(anchor_xy[1] + rng.normal(0, spread), rows[0], rows[1]))
            pts.append([round(y, 1), round(x, 1)])
    return pts


def verb_annotations(
    inst: Instance,
    pose: Pose,
    image: list[str],
    shape: tuple[int, int],
    noun: int,
    annotators: int,
    rng_for: Callable[[str], np.random.Generator],
) -> list[dict[str, Any]]:
    """The test-image entries (OPRA's ``test_images`` schema plus the part and its box) of an image of
    ``inst`` drawn at ``pose`` (``shape`` h, w): one per verb its category affords, in ``VERBS`` order, its
    annotators' points near the part the verb acts on, drawn from ``rng_for(verb)``."""
    h, w = shape
    cat = inst.category
    entries = []
    for verb in VERBS:
        if verb not in cat.verbs:
            continue
        part = cat.part(cat.verbs[verb])
        rows, cols = _part_box_px(inst, pose, part, h, w)
        pts = _annotator_points(part_anchor_px(inst, pose, part), rows, cols, annotators, rng_for(verb))
        entries.append(
            {
                "image": image,
                "verb": VERBS.index(verb),
                "points": pts,
                "shape": [h, w],
                "noun": noun,
                "part": part.name,
                "part_rows": rows,
                "part_cols": cols,
            }
        )
    return entries


def _write_jpg(path: Path, img: np.ndarray, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f"could not write {path}")


def _write_mp4(path: Path, frames: list[np.ndarray]) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(FPS), (w, h))
    if not vw.isOpened():
        return False
    for f in frames:
        vw.write(f)
    vw.release()
    return path.is_file() and path.stat().st_size > 0


CATALOGUE_ASPECTS = (1.0, 1.25, 4 / 3, 0.8)


def generate_world(
    out: str | Path, cfg: WorldConfig, clip_recorder: Callable[[], ClipRecorder] | None = None
) -> dict[str, Any]:
    """Write the world under ``out`` (frames/, images/, [clips/], annotations.json, README.txt).

    Returns the annotations dict. ``out`` must be empty or absent. ``clip_recorder`` (diagnostics, worlds
    without DAN labels): called once per single-object clip, train then test clips in annotation order, for
    an observer of that clip's frames (``render.ClipRecorder``); the world written is the same with or without.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    train_cats, test_cats = cfg.category_split()
    nouns = list(cfg.categories)
    S = cfg.image_size
    ch = "synthetic"
    annots: dict[str, Any] = {
        "verbs": list(VERBS),
        "nouns": nouns,
        "train_clips": [],
        "test_clips": [],
        "train_images": [],
        "test_images": [],
    }
    mp4_failed = 0

    Product = tuple[Instance, list[str], Pose, int, int]  # instance, image parts, pose, height, width

    def make_products(cat_name: str, n: int, tag: str, key: int) -> list[Product]:
        cat = CATEGORY_BY_NAME[cat_name]
        prods = []
        for k in range(n):
            rng = rng_stream(cfg.seed, 1, nouns.index(cat_name), key, k)
            inst = make_instance(cat, rng)
            vid = f"{cat_name}-{tag}{k:03d}"
            h = S
            w = int(round(S * CATALOGUE_ASPECTS[int(rng.integers(0, len(CATALOGUE_ASPECTS)))]))
            img, pose = render_catalogue(inst, h, w, rng)
            image = [ch, cat_name, vid, "catalog.jpg"]
            _write_jpg(out / "images" / Path(*image), img, cfg.jpeg_quality)
            prods.append((inst, image, pose, h, w))
        return prods

    def image_entries(prods: list[Product], cat_name: str, key: int) -> list[dict[str, Any]]:
        noun = nouns.index(cat_name)
        entries = []
        for k, (inst, image, pose, h, w) in enumerate(prods):
            entries += verb_annotations(
                inst,
                pose,
                image,
                (h, w),
                noun,
                cfg.annotators,
                lambda verb, k=k: rng_stream(cfg.seed, 2, noun, key, k, VERBS.index(verb)),
            )
        return entries

    def clip_entries(prods: list[Product], cat_name: str, n: int, key: int) -> list[dict[str, Any]]:
        cat = CATEGORY_BY_NAME[cat_name]
        verbs = [v for v in VERBS if v in cat.verbs]
        entries = []
        t0 = [0.0] * len(prods)
        for j in range(n):
            rng = rng_stream(cfg.seed, 3, nouns.index(cat_name), key, j)
            p = j % len(prods)
            inst, image, _, _, _ = prods[p]
            verb = verbs[(j // len(prods) + int(rng.integers(0, len(verbs)))) % len(verbs)]
            nframes = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
            t0[p] += round(float(rng.uniform(1.0, 20.0)), 1)
            start, dur = f"{t0[p]:.1f}", f"{nframes / FPS:.1f}"
            t0[p] += nframes / FPS
            clip = [ch, cat_name, image[2], start, dur]
            record = (
                ClipRecord(
                    S,
                    rng_stream(cfg.seed, 7, nouns.index(cat_name), key, j),
                    dan_others(cat_name, key),
                    cfg.dan_extra_object_prob,
                )
                if cfg.dan_labels
                else (clip_recorder() if clip_recorder is not None else None)
            )
            write_frames(clip, render_clip(inst, verb, nframes, S, rng, record))
            entries.append(
                {
                    "clip": clip,
                    "nframes": nframes,
                    "verb": VERBS.index(verb),
                    "noun": nouns.index(cat_name),
                    "image": image,
                    "part": cat.verbs[verb],
                }
            )
            if isinstance(record, ClipRecord):
                entries[-1].update(record.labels(verb, nouns.index(cat_name)))
        return entries

    def dan_others(cat_name: str, key: int) -> list[tuple[int, Category]]:
        pool = train_cats if key == 0 else test_cats
        return [(nouns.index(c), CATEGORY_BY_NAME[c]) for c in pool if c != cat_name]

    def write_frames(clip: list[str], frames: list[np.ndarray]) -> None:
        nonlocal mp4_failed
        folder = out / "frames" / Path(*clip[:3]) / f"{clip[3]}_{clip[4]}.mp4"
        for i, f in enumerate(frames, start=1):
            _write_jpg(folder / ("image-%08d.jpg" % i), f, cfg.jpeg_quality)
        if cfg.write_mp4 and not _write_mp4(out / "clips" / Path(*clip[:3]) / f"{clip[3]}_{clip[4]}.mp4", frames):
            mp4_failed += 1

    if cfg.dan_labels:
        annots["dan_actions"] = list(DAN_ACTIONS)
    for cat_name in train_cats:
        prods = make_products(cat_name, cfg.products_per_category, "", 0)
        annots["train_clips"] += clip_entries(prods, cat_name, cfg.clips_per_category, 0)
        annots["train_images"] += image_entries(prods, cat_name, 0)
        if cfg.dan_labels:
            annots["train_clips"] += two_object_entries(cfg, prods, cat_name, train_cats, 0, write_frames)
    for cat_name in test_cats:
        prods = make_products(cat_name, cfg.test_per_category, "t", 1)
        annots["test_images"] += image_entries(prods, cat_name, 1)
        if cfg.test_clips_per_category:
            annots["test_clips"] += clip_entries(prods, cat_name, cfg.test_clips_per_category, 1)
        if cfg.dan_labels and cfg.test_clips_per_category:
            annots["test_clips"] += two_object_entries(cfg, prods, cat_name, test_cats, 1, write_frames)

    # ~empty_points_frac of the image entries carry no points, as in OPRA (their GT map is all zero).
    for key, lst in (("train", annots["train_images"]), ("test", annots["test_images"])):
        rng = rng_stream(cfg.seed, 4, 0 if key == "train" else 1)
        n_empty = int(round(cfg.empty_points_frac * len(lst)))
        for i in rng.permutation(len(lst))[:n_empty]:
            lst[int(i)]["points"] = []
    # Issue #5 stand-in: some clips lose their last frame on disk while nframes keeps the full count.
    clips = annots["train_clips"]
    n_short = int(math.ceil(cfg.short_clip_frac * len(clips))) if cfg.short_clip_frac > 0 else 0
    short = sorted(int(i) for i in rng_stream(cfg.seed, 5).permutation(len(clips))[:n_short])
    for i in short:
        e = clips[i]
        (
            out
            / "frames"
            / Path(*e["clip"][:3])
            / f"{e['clip'][3]}_{e['clip'][4]}.mp4"
            / ("image-%08d.jpg" % e["nframes"])
        ).unlink()

    args = {
        k: (list(v) if isinstance(v, tuple) else v)
        for k, v in cfg.__dict__.items()
        if cfg.dan_labels or not k.startswith("dan_")
    }  # no new keys in a default world's json
    annots.update(
        {
            "split": cfg.split,
            "seed": cfg.seed,
            "categories": nouns,
            "train_categories": train_cats,
            "test_categories": test_cats,
            "category_parts": {
                c: {"parts": [p.name for p in CATEGORY_BY_NAME[c].parts], "verbs": dict(CATEGORY_BY_NAME[c].verbs)}
                for c in nouns
            },
            "short_clips": short,
            "generator": {"name": GENERATOR_NAME, "version": GENERATOR_VERSION, "args": args},
        }
    )
    with open(out / "annotations.json", "w", encoding="utf-8") as f:
        json.dump(annots, f, indent=1)
        f.write("\n")
    (out / "README.txt").write_text(_readme(cfg, annots), encoding="utf-8")
    if mp4_failed:
        log.warning("OpenCV could not write %d .mp4 clips (no mp4v encoder?)", mp4_failed)
    return annots


def reuse_or_generate_world(out: str | Path, cfg: WorldConfig) -> Path:
    """``out`` holding a world: kept when a finished one is there (``annotations.json`` is written last),
    else generated afresh (a half-written one is removed first). For scratch folders that reruns reuse."""
    out = Path(out)
    if not (out / "annotations.json").is_file():
        if out.exists():
            shutil.rmtree(out)
        generate_world(out, cfg)
    return out


def _readme(cfg: WorldConfig, annots: dict[str, Any]) -> str:
    lines = [
        f"Synthetic interaction-hotspot world (OPRA stand-in), made by `python -m {GENERATOR_NAME}`.",
        "",
        f"seed={cfg.seed} split={cfg.split} image_size={cfg.image_size} generator version {GENERATOR_VERSION}",
        f"train categories: {', '.join(annots['train_categories'])}",
        f"test categories:  {', '.join(annots['test_categories'])}",
        f"train clips {len(annots['train_clips'])}, test clips {len(annots['test_clips'])}, "
        f"train images {len(annots['train_images'])}, test images {len(annots['test_images'])} "
        f"({sum(1 for e in annots['test_images'] if not e['points'])} with no points)",
        "",
        "Layout (same as OPRA, read by training.data.OPRAClips / HotspotTestImages):",
        "  annotations.json  verbs, nouns, train_clips/test_clips {clip:[ch,pl,vid,start,dur], nframes, verb,",
        "                    noun, image}, train_images/test_images {image, verb, points [[row,col],...],",
        "                    shape [H,W]} + extra keys (noun, part, part_rows, part_cols, categories ...)",
        "  frames/<ch>/<pl>/<vid>/<start>_<dur>.mp4/image-%08d.jpg   clip frames (5 fps, from 1)",
        "  images/<ch>/<pl>/<vid>/catalog.jpg                        product (inactive / test) images",
        "  clips/<ch>/<pl>/<vid>/<start>_<dur>.mp4                   source videos (only with --write-mp4)",
        "",
        "Each clip: a hand approaches the part its verb needs and acts on it; catalogue images show the",
        "same product at rest on a clean background. Points mark the part of the verb (OPRA convention:",
        "point = [row, col], GT map shape = [H, W], no transpose).",
        "",
        "Categories: verb -> part",
    ]
    for c in annots["categories"]:
        v = CATEGORY_BY_NAME[c].verbs
        lines.append(f"  {c:9s} " + ", ".join(f"{k} -> {v[k]}" for k in VERBS if k in v))
    if annots["short_clips"]:
        lines += [
            "",
            f"{len(annots['short_clips'])} train clips miss their last frame on disk "
            "(nframes unchanged; reference issue #5 stand-in).",
        ]
    if cfg.dan_labels:
        lines += readme_lines(annots)
    return "\n".join(lines) + "\n"
