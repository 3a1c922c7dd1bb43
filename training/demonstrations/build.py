"""A training dataset from labelled demonstrations, in OPRA's layout (``training/data/opra.py``), so that
``training.train``, ``training.locate`` and ``training.evaluate`` read it with ``--data-name opra``::

    annotations.json      verbs, nouns, train_clips, test_clips, train_images, test_images (OPRA's schema) and
                          ``demonstrations`` (where it came from: the find folder, label sources, counts)
    frames/demo/<class>/<track>/<start>_<dur>.mp4/image-%08d.jpg   each interaction's clip (resampled to ``fps``)
    images/demo/<class>/<track>/<NNNN>.jpg                         the object at rest before the hand came
                          (``image`` 'window': in the clip's window, with the context the frames show;
                          'tight': its box grown by 10 %)
    images/demo/<class>/<track>/<NNNN>_<kind>.jpg                  the other at-rest image of ``fit_images``
    README.txt

A clip entry is OPRA's (``clip: [demo, class, track, start, dur]``, ``nframes``, ``verb``, ``noun``,
``image``) plus ours: ``interaction`` (its id in the find folder), ``label_source`` (csv / interval / dan),
``label_confidence`` (the DAN's probability or null), ``hands`` and ``object_boxes`` (per written frame, in
the frame's pixels: the contact fit of ``training.locate`` uses the hands), ``contact_frames`` (the written
frames with the hand on the object), ``fit_images`` (the at-rest images the contact fit of ``training.locate``
carries each clip's contact to: 'window' and 'tight' by default, ``BuildConfig``). The product, whose images OPRA draws negatives from, is the tracked
object (``image[:3]``: demo, class, track).

``test_frac`` holds out that share of each verb's interactions (seeded) as ``test_clips``. Test *images* need
ground-truth points, which a recording does not have: with ``truth`` (a synthetic scene's ``scene.json``)
each held-out interaction's at-rest image becomes a ``test_images`` entry with points on the true part;
without it none are written (a warning says so).

Everything is written into a temporary folder beside ``out``, renamed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hotspot_core.errors import ConfigError

from .find import FindConfig, square_window, warn
from .labels import Label, LabelError
from .staging import check_empty, staged_folder

__all__ = ["BuildConfig", "build_dataset", "CHANNEL"]

CHANNEL = "demo"  # OPRA's first path part (its YouTube channel)
IMAGES = ("window", "tight")  # the at-rest images a model trains on
# the at-rest views the contact fit may use: those two and "mid", a square MID_CONTEXT times the object's longer
# side around its box, cut from the window (a scale between the window's and the tight box's)
FIT_IMAGES = (*IMAGES, "mid")
MID_CONTEXT = 1.5


@dataclass(frozen=True)
class BuildConfig:
    """fps: the clips' frame rate in the dataset (OPRA's frames are 5 fps; the model's 8-frame window then
    spans 1.6 s, reach and use); min_clips: the fewest training clips a verb needs; verbs: the dataset's verb
    list in order (None: the labels' verbs, sorted; a label outside it is an error); test_frac: share of each
    verb's interactions held out; seed: the hold-out draw; min_objects: distinct objects needed (OPRA draws
    its negatives from other products); image: the at-rest image the model trains on, 'window' (the clip's
    window, the object at about half its side as in the clip frames and in catalogue photos) or 'tight' (the
    object's box + 10 %); fit_images: the at-rest views the contact fit (``training.locate``) fits the part
    maps on, each clip's contact carried to every one of them (FIT_IMAGES); fit_mirror: each of them also
    mirrored left-right. A recording shows each object in one pose at one scale, so the fit sees it in several:
    fitted on the window alone the maps peaked on the part in 0.69 of the catalogue test images, on window and
    tight in 0.80 (seed 1), with the mid view and the mirrored ones in 0.83 (seed 1; seed 2: 0.76 -> 0.85;
    docs/demonstrations-research.md, *The gap*, 1)."""

    fps: float = 5.0
    min_clips: int = 3
    verbs: tuple[str, ...] | None = None
    test_frac: float = 0.0
    seed: int = 0
    min_objects: int = 1
    image: str = "window"
    fit_images: tuple[str, ...] = FIT_IMAGES
    fit_mirror: bool = True

    def __post_init__(self) -> None:
        if self.image not in IMAGES:
            raise ConfigError(f"build: image must be one of {IMAGES}, got {self.image!r}")
        fit = list(self.fit_images)
        if not fit or len(set(fit)) != len(fit) or not set(fit) <= set(FIT_IMAGES):
            raise ConfigError(f"build: fit_images must be some of {FIT_IMAGES} without repeats, got {fit}")
        if not 0.5 <= self.fps <= 60 or self.min_clips < 1 or not 0.0 <= self.test_frac < 1.0:
            raise ConfigError("build: fps must be 0.5..60, min_clips >= 1, test_frac 0..1 (exclusive)")
        if self.verbs is not None and (not self.verbs or len(set(self.verbs)) != len(self.verbs)):
            raise ConfigError(f"build: verbs must be a non-empty list without repeats, got {list(self.verbs)}")


def _check_labels(labels: Sequence[Label], cfg: BuildConfig) -> list[str]:
    if not labels:
        raise LabelError("no labelled interactions: nothing to build")
    if cfg.verbs is not None:
        for lab in labels:
            if lab.verb not in cfg.verbs:
                raise LabelError(f"{lab.origin or lab.id}: verb {lab.verb!r} is not one of --verbs {list(cfg.verbs)}")
        return list(cfg.verbs)
    return sorted({lab.verb for lab in labels})


def _split(labels: Sequence[Label], cfg: BuildConfig) -> tuple[list[Label], list[Label]]:
    if cfg.test_frac <= 0:
        return list(labels), []
    rng = np.random.default_rng(cfg.seed)
    train, test = [], []
    for verb in sorted({lab.verb for lab in labels}):
        group = [lab for lab in labels if lab.verb == verb]
        order = rng.permutation(len(group))
        n_test = int(round(cfg.test_frac * len(group)))
        n_test = min(n_test, max(0, len(group) - cfg.min_clips))  # the training split keeps min_clips
        held = set(int(i) for i in order[:n_test])
        for i, lab in enumerate(group):
            (test if i in held else train).append(lab)
    return sorted(train, key=lambda lab: lab.id), sorted(test, key=lambda lab: lab.id)


def _check_counts(train: Sequence[Label], verbs: Sequence[str], cfg: BuildConfig) -> None:
    counts = Counter(lab.verb for lab in train)
    few = [v for v in verbs if 0 < counts[v] < cfg.min_clips]
    if few:
        v = few[0]
        where = ", ".join(lab.origin or str(lab.id) for lab in train if lab.verb == v)
        raise LabelError(
            f"verb {v!r} has {counts[v]} training clip(s), fewer than --min-clips {cfg.min_clips} "
            f"(record more or fix a typo): {where}"
        )
    unused = [v for v in verbs if counts[v] == 0]
    if unused:
        warn(f"verbs {unused} have no training clip: the model's maps for them stay untrained")


def _test_points(inter: dict[str, Any], truth: dict[str, Any] | None, image: str) -> list[list[float]] | None:
    """Points ``[row, col]`` on the true part in the at-rest image (a 3x3 grid over its middle), from a scene's
    truth: the true demonstration on the same object that overlaps the interaction most."""
    if truth is None:
        return None
    t0 = int(inter["start_ns"]), int(inter["release_ns"])
    best, best_overlap = None, 0
    for d in truth["interactions"]:
        if d["track_id"] != inter["object"]["track_id"]:
            continue
        overlap = min(t0[1], d["release_ns"]) - max(t0[0], d["contact_start_ns"])
        if overlap > best_overlap:
            best, best_overlap = d, overlap
    if best is None:
        return None
    if image == "window":
        x0, y0 = inter["window"][0], inter["window"][1]
    else:  # the crop of find: the box at rest grown by 10 %, clipped at the frame
        box = inter["object"]["box"]
        cx, cy, w, h = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, (box[2] - box[0]) * 1.1, (box[3] - box[1]) * 1.1
        x0, y0 = max(0, int(np.floor(cx - w / 2))), max(0, int(np.floor(cy - h / 2)))
    px = best["part_box"]
    pts = []
    for fy in (0.3, 0.5, 0.7):
        for fx in (0.3, 0.5, 0.7):
            col = px[0] + fx * (px[2] - px[0]) - x0
            row = px[1] + fy * (px[3] - px[1]) - y0
            pts.append([round(row, 1), round(col, 1)])
    return pts


def build_dataset(
    found_dir: str | os.PathLike,
    labels: Sequence[Label],
    out: str | os.PathLike,
    cfg: BuildConfig | None = None,
    truth: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the dataset of the labelled interactions of ``found_dir`` (``find``'s output) under ``out`` (absent
    or empty). Returns its annotations. LabelError on labels it cannot use; nothing is left under ``out`` then."""
    import cv2

    cfg = cfg or BuildConfig()
    found_dir, out = Path(found_dir), Path(out)
    check_empty(out)
    path = found_dir / "interactions.json"
    if not path.is_file():
        raise FileNotFoundError(2, "No interactions.json (not a find output folder)", str(path))
    found = json.loads(path.read_text(encoding="utf-8"))
    by_id = {int(r["id"]): r for r in found["interactions"]}
    unknown = [lab for lab in labels if lab.id not in by_id]
    if unknown:
        raise LabelError(f"{unknown[0].origin or unknown[0].id}: no interaction {unknown[0].id} in {path}")
    verbs = _check_labels(labels, cfg)
    train, test = _split(labels, cfg)
    _check_counts(train, verbs, cfg)
    nouns = sorted({by_id[lab.id]["object"]["class"] for lab in labels})
    objects = {by_id[lab.id]["object"]["track_id"] for lab in train}
    if len(objects) < cfg.min_objects:
        raise LabelError(f"the labelled interactions use {len(objects)} object(s), fewer than {cfg.min_objects}")
    if len(objects) < 2:
        warn("one object only: the training's negative images will be the same object")

    image_kind, fit_kinds = cfg.image, tuple(cfg.fit_images)
    no_window = any("window_file" not in by_id[lab.id]["inactive"] for lab in labels)
    if no_window and {"window", "mid"} & {image_kind, *fit_kinds}:
        warn(f"{found_dir}: made by an older find without the at-rest window image: the tight crop is used")
        image_kind, fit_kinds = "tight", ("tight",)

    with staged_folder(out) as tmp:
        annots: dict[str, Any] = {
            "verbs": verbs,
            "nouns": nouns,
            "train_clips": [],
            "test_clips": [],
            "train_images": [],
            "test_images": [],
        }
        no_points = 0
        for split, group in (("train", train), ("test", test)):
            for lab in group:
                inter = by_id[lab.id]
                entry = _write_clip(found_dir, tmp, inter, lab, verbs, nouns, cfg, cv2, image_kind, fit_kinds)
                annots[f"{split}_clips"].append(entry)
                if split == "test":
                    pts = _test_points(inter, truth, image_kind)
                    if pts is None:
                        no_points += 1
                        continue
                    img = cv2.imread(str(tmp / "images" / Path(*entry["image"])))
                    annots["test_images"].append(
                        {
                            "image": entry["image"],
                            "verb": entry["verb"],
                            "points": pts,
                            "shape": [int(img.shape[0]), int(img.shape[1])],
                            "noun": entry["noun"],
                            "interaction": lab.id,
                        }
                    )
        if test and no_points:
            warn(
                f"{no_points} held-out interactions have no test image: test images need points on the part "
                "(a recording has none; a synthetic scene's --truth gives them); they stay test clips"
            )
        annots["demonstrations"] = {
            "found": str(found_dir.resolve()),
            "bag": found.get("bag"),
            "fps": cfg.fps,
            "image": image_kind,
            "fit_images": list(fit_kinds),
            "fit_mirror": cfg.fit_mirror,
            "label_sources": dict(Counter(lab.source for lab in labels)),
            "clips_per_verb": {v: sum(1 for lab in train if lab.verb == v) for v in verbs},
            "unlabelled": len(by_id) - len(labels),
        }
        (tmp / "annotations.json").write_text(json.dumps(annots, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.txt").write_text(_readme(annots), encoding="utf-8")
    return annots


def _write_clip(
    found_dir: Path,
    root: Path,
    inter: dict[str, Any],
    lab: Label,
    verbs: Sequence[str],
    nouns: Sequence[str],
    cfg: BuildConfig,
    cv2: Any,
    image_kind: str,
    fit_kinds: Sequence[str],
) -> dict[str, Any]:
    """Copy one interaction's frames (every ``step``-th, from the first) and its at-rest images; its clip entry."""
    frames = inter["frames"]
    stamps = [f["stamp_ns"] for f in frames]
    src_fps = (len(stamps) - 1) * 1e9 / max(1, stamps[-1] - stamps[0]) if len(stamps) > 1 else cfg.fps
    step = max(1, int(round(src_fps / cfg.fps)))
    kept = frames[::step]
    cls, track = inter["object"]["class"], inter["object"]["track_id"]
    start = f"{inter['start_s']:.3f}"
    dur = f"{(kept[-1]['stamp_ns'] - kept[0]['stamp_ns']) / 1e9:.3f}"
    clip = [CHANNEL, cls, track, start, dur]
    folder = root / "frames" / CHANNEL / cls / track / f"{start}_{dur}.mp4"
    folder.mkdir(parents=True)
    for i, f in enumerate(kept, start=1):
        src = found_dir / f["file"]
        if not src.is_file():
            raise FileNotFoundError(2, "Clip frame missing from the find folder", str(src))
        shutil.copyfile(src, folder / ("image-%08d.jpg" % i))
    image = [CHANNEL, cls, track, f"{int(inter['id']):04d}.jpg"]
    fit_images = []
    stem = f"{int(inter['id']):04d}"
    quality = [cv2.IMWRITE_JPEG_QUALITY, FindConfig().jpeg_quality]
    for kind in dict.fromkeys([image_kind, *fit_kinds]):  # the training image first, written once
        path = image if kind == image_kind else [*image[:3], f"{stem}_{kind}.jpg"]
        src = found_dir / inter["inactive"]["file" if kind == "tight" else "window_file"]
        pixels = cv2.imread(str(src))
        if pixels is None:
            raise FileNotFoundError(2, "At-rest image missing or unreadable in the find folder", str(src))
        (root / "images" / Path(*path)).parent.mkdir(parents=True, exist_ok=True)
        if kind == "mid":
            pixels = _mid_view(pixels, inter)
            cv2.imwrite(str(root / "images" / Path(*path)), pixels, quality)
        else:
            shutil.copyfile(src, root / "images" / Path(*path))
        if kind in fit_kinds:
            fit_images.append(path)
            if cfg.fit_mirror:
                mirrored = [*image[:3], f"{stem}_{kind}_mirror.jpg"]
                cv2.imwrite(str(root / "images" / Path(*mirrored)), pixels[:, ::-1], quality)
                fit_images.append(mirrored)
    contact = [i for i, f in enumerate(kept) if inter["start_ns"] <= f["stamp_ns"] <= inter["release_ns"]]
    return {
        "clip": clip,
        "nframes": len(kept),
        "verb": verbs.index(lab.verb),
        "noun": nouns.index(cls),
        "image": image,
        "interaction": int(inter["id"]),
        "label_source": lab.source,
        "label_confidence": lab.confidence,
        "window": inter["window"],
        "hands": [f["hands"] for f in kept],
        "object_boxes": [f["object_box"] for f in kept],
        "contact_frames": contact,
        "fit_images": fit_images,
    }


def _mid_view(window: np.ndarray, inter: dict[str, Any]) -> np.ndarray:
    """The at-rest window cut to a square of MID_CONTEXT times the object's longer side around its box."""
    x0, y0 = inter["window"][0], inter["window"][1]
    b = inter["object"]["box"]
    box = (b[0] - x0, b[1] - y0, b[2] - x0, b[3] - y0)
    h, w = window.shape[:2]
    wx0, wy0, wx1, wy1 = square_window(box, MID_CONTEXT, w, h)
    return window[wy0:wy1, wx0:wx1]


def _readme(annots: dict[str, Any]) -> str:
    d = annots["demonstrations"]
    return (
        "A dataset built from demonstrations in a recording (python -m training.demonstrations build), in OPRA's\n"
        "layout: train with python -m training.train --data-name opra --data-root <this folder> ...\n\n"
        f"recording: {d['bag']}\nfind folder: {d['found']}\n"
        f"verbs: {', '.join(annots['verbs'])}\nobjects: {', '.join(annots['nouns'])}\n"
        f"train clips: {len(annots['train_clips'])} ({d['clips_per_verb']}), test clips: {len(annots['test_clips'])}, "
        f"test images: {len(annots['test_images'])}\nlabel sources: {d['label_sources']}; unlabelled "
        f"interactions left out: {d['unlabelled']}\n"
        "Each clip entry also holds its interaction id, label source and confidence, hand and object boxes per\n"
        "frame (pixels of the frame) and the frames with the hand on the object.\n"
    )
