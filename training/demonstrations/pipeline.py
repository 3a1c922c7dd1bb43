"""Recording -> deployed model in one call: find (or a find folder) -> labels -> build -> train -> locate.

``teach`` runs what the commands ``find``, ``build``, ``python -m training.train`` and ``python -m
training.locate`` do, with the shipped demo model's settings (``training.make_demo_model``: EfficientNet-Lite0,
its features cached, anticipation + MSE, 60 epochs, batch 16; then the located part head), and writes one
checkpoint that the node loads with ``model_path``.

The contact fit (``training.locate``, method 'contact') needs to know where the hand touches the object in
each clip. ``cue`` 'frames' (the default) finds it from frame differences (``training.contact``: the tip
of the changed region reaching in from the border, when the hand arrives). ``cue`` 'hands' uses the
recorded hand boxes instead (``hand_cue``: where they overlap the object's box, in the first half of the
contact). Measured on the synthetic scene (docs/demonstrations-research.md), the hand boxes were the
worse cue there: a box covers the whole hand, the changed region's tip is the fingertips. So 'frames' is
the default, and 'hands' stays for a recording where frame differences fail (moving camera, clutter).
Either falls back to the other for a clip where it finds nothing (``contact_cues``).

The part maps are fitted on each clip's at-rest views of the dataset's ``fit_images`` (``fit_clips``: by
default the window the model trains on, the tight box and a view between them, each also mirrored, each
clip's contact carried to all six): fitted on fewer views they peaked on the part in fewer catalogue test
images (docs/demonstrations-research.md, *The gap*, 1). Each contact is then grown to the part's extent on its at-rest
image (``extent`` 'grow', ``training.locate.grow_extent``): on the benchmark's three scenes it made the model
better on KLD, SIM, AUC-J and peak-on-part (docs/demonstrations.md, *Training*).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hotspot_core.errors import ConfigError
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint

from ..contact import ContactConfig
from ..data.config import DatasetConfig
from ..locate import LocateClip, LocateConfig, locate_model, training_clips
from ..make_demo_model import demo_train_config
from ..train import train
from .build import BuildConfig, build_dataset
from .find import FindConfig, find_demonstrations
from .labels import resolve_labels, write_labels

__all__ = ["CUES", "TeachConfig", "contact_cues", "fit_clips", "hand_cue", "teach"]

CUES = ("hands", "frames")


@dataclass(frozen=True)
class TeachConfig:
    """find / build: their settings; epochs: training epochs (the demo model's 60); cue: the contact fit's
    cue, 'frames' (frame differences) or 'hands' (the recorded hand boxes), each falling back to the other for
    a clip where it finds no contact (``contact_cues``); extent, grow_similarity: the contact fit's part
    extent (``training.locate``: 'grow' grows each contact over the at-rest image's cells that look like it, at
    the similarity chosen for issue 21; 'none' the shipped demo model's fit); min_confidence: the DAN labels'
    threshold; seed: training and fit; cache_views: augmented views of each clip in the feature cache (the demo
    model's 4; fewer builds the cache faster)."""

    find: FindConfig = dataclasses.field(default_factory=FindConfig)
    build: BuildConfig = dataclasses.field(default_factory=BuildConfig)
    epochs: int = 60
    cue: str = "frames"
    extent: str = "grow"
    grow_similarity: float = 0.7
    min_confidence: float = 0.5
    seed: int = 0
    cache_views: int = 4

    def __post_init__(self) -> None:
        if self.cue not in CUES:
            raise ConfigError(f"cue {self.cue!r} is not one of {CUES}")
        if self.epochs < 1:
            raise ConfigError("epochs must be >= 1")
        self.locate_config()  # its own checks of extent and grow_similarity

    def locate_config(self) -> LocateConfig:
        """The contact fit's settings: ``training.locate``'s defaults with this extent and seed."""
        return LocateConfig(seed=self.seed, extent=self.extent, grow_similarity=self.grow_similarity)


def hand_cue(entry: dict[str, Any], cfg: ContactConfig) -> np.ndarray | None:
    """(size, size) float32 in [0, 1]: how often each pixel lies in a hand box and in the object's box over the
    first half of the clip's contact frames; None when no hand box overlaps the object there."""
    contact = entry.get("contact_frames") or []
    frames = contact[: max(1, (len(contact) + 1) // 2)]
    side = float(entry["window"][2] - entry["window"][0])  # the clip's frames are this square window
    k = cfg.size / max(side, 1.0)
    acc = np.zeros((cfg.size, cfg.size), np.float32)
    for i in frames:
        obj = entry["object_boxes"][i]
        for h in entry["hands"][i]:
            if obj is None:
                continue
            x0, y0 = max(h[0], obj[0]) * k, max(h[1], obj[1]) * k
            x1, y1 = min(h[2], obj[2]) * k, min(h[3], obj[3]) * k
            if x1 - x0 < 1 or y1 - y0 < 1:
                continue
            acc[
                int(max(0, y0)) : int(np.ceil(min(cfg.size, y1))), int(max(0, x0)) : int(np.ceil(min(cfg.size, x1)))
            ] += 1
    if acc.max() <= 0:
        return None
    return acc / acc.max()


def _entries_by_folder(dataset: Path) -> dict[str, dict[str, Any]]:
    """The dataset's training clip entries by their frame folder (as ``LocateClip.frames`` name it)."""
    from .build import CHANNEL

    annots = json.loads((dataset / "annotations.json").read_text(encoding="utf-8"))
    out = {}
    for e in annots["train_clips"]:
        c = e["clip"]
        out[str(dataset / "frames" / CHANNEL / c[1] / c[2] / f"{c[3]}_{c[4]}.mp4")] = e
    return out


def _clip_folder(clip: LocateClip) -> str:
    """A clip's frame folder: the key of its dataset entry and of its cue."""
    return str(Path(clip.frames[0]).parent)


def fit_clips(dataset: Path) -> list[LocateClip]:
    """The contact fit's clips: each training clip once per at-rest image of its entry's ``fit_images`` (its
    training image where the entry has none: a dataset of an older build)."""
    by_folder = _entries_by_folder(dataset)
    out = []
    for clip in training_clips(DatasetConfig(name="opra", root=dataset)):
        entry = by_folder.get(_clip_folder(clip), {})
        images = [dataset / "images" / Path(*im) for im in entry.get("fit_images", [])] or [clip.image]
        out += [dataclasses.replace(clip, image=im) for im in images]
    return out


def contact_cues(
    dataset: Path, cfg: ContactConfig, hands: bool
) -> tuple[Callable[[LocateClip, list[np.ndarray]], Any], dict[str, int]]:
    """A ``cue(clip, frames)`` for ``locate_model``, found once per clip however many at-rest images the clip
    is carried to; and its counters of clips by where their cue came from ('hands', 'frames', 'none').
    ``hands``: ``hand_cue`` of the clip's dataset entry, the frame difference cue (``training.contact``) where a
    clip has no hand box on its object; else the frame cue, the hand boxes where it finds no contact (a hand of
    the table's grey level: no change reaching the border). 'none': neither; the fit counts and logs those clips and
    gives them the object map alone.
    Why the fallback: a recorded hand box says more than the object map; on the benchmark's seed-3 scene 5 of
    40 clips had no frame cue, and their hand boxes made the model better on all four measures
    (docs/demonstrations-research.md, *The hand boxes where the frames find nothing*)."""
    from ..contact import contact_region

    by_folder = _entries_by_folder(dataset)
    seen: dict[str, np.ndarray | None] = {}
    counts = {"hands": 0, "frames": 0, "none": 0}

    def cue(clip: LocateClip, frames: list[np.ndarray]) -> np.ndarray | None:
        key = _clip_folder(clip)
        if key not in seen:
            entry = by_folder.get(key)
            finders = {
                "hands": lambda: hand_cue(entry, cfg) if entry is not None else None,
                "frames": lambda: contact_region(frames, cfg),
            }
            found, source = None, "none"
            for name in ("hands", "frames") if hands else ("frames", "hands"):
                found = finders[name]()
                if found is not None:
                    source = name
                    break
            counts[source] += 1
            seen[key] = found
        return seen[key]

    return cue, counts


def _log(message: str) -> None:
    print(f"training.demonstrations: {message}", flush=True)


def teach(
    bag: str | os.PathLike,
    out: str | os.PathLike,
    cfg: TeachConfig | None = None,
    labels: str | os.PathLike | None = None,
    dan: str | os.PathLike | None = None,
    work: str | os.PathLike | None = None,
    truth: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``bag`` (a recording, or a find output folder to reuse) -> the located model at ``out``. Returns the
    stages' seconds and counts. ``work`` keeps the find folder, dataset and training run (default: a temporary
    folder, removed). The model is written beside ``out`` and renamed: a failed run leaves no model."""
    cfg = cfg or TeachConfig()
    bag, out = Path(bag), Path(out)
    if out.suffix != ".safetensors":
        raise ConfigError(f"{out}: the model file must end in .safetensors")
    keep = work is not None
    root = Path(work) if keep else Path(tempfile.mkdtemp(prefix="hotspots_teach_"))
    times: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        if (bag / "interactions.json").is_file():
            found_dir = bag
        else:
            found_dir = root / "found"
            find_demonstrations(bag, found_dir, cfg.find)
        found = json.loads((found_dir / "interactions.json").read_text(encoding="utf-8"))
        times["find"] = time.perf_counter() - t0
        _log(f"{len(found['interactions'])} interactions in {found_dir} ({times['find']:.1f} s)")

        t0 = time.perf_counter()
        labs = resolve_labels(found_dir, found, labels, dan, cfg.min_confidence)
        root.mkdir(parents=True, exist_ok=True)
        write_labels(root / "labels_used.csv", found, labs)
        dataset = root / "dataset"
        if dataset.exists():
            shutil.rmtree(dataset)
        annots = build_dataset(found_dir, labs, dataset, cfg.build, truth)
        times["label_build"] = time.perf_counter() - t0
        _log(
            f"dataset {dataset}: {len(annots['train_clips'])} training clips of verbs {annots['verbs']} "
            f"({times['label_build']:.1f} s)"
        )

        t0 = time.perf_counter()
        run = root / "run"
        if run.exists():
            shutil.rmtree(run)
        tcfg = dataclasses.replace(
            demo_train_config(dataset, run, root / "cache"),
            epochs=cfg.epochs,
            seed=cfg.seed,
            milestones=None,
            cache_views=cfg.cache_views,
        )
        result = train(tcfg)
        times["train"] = time.perf_counter() - t0
        _log(f"trained {result.checkpoint} ({times['train']:.1f} s, final loss {result.epoch_losses[-1]:.4f})")

        t0 = time.perf_counter()
        lcfg = cfg.locate_config()
        clips = fit_clips(dataset)
        cue, counts = contact_cues(dataset, lcfg.contact, hands=cfg.cue == "hands")
        located = locate_model(load_model(result.checkpoint), clips, lcfg, cue)
        _, extra = read_metadata(result.checkpoint)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        save_checkpoint(
            located,
            tmp,
            extra={
                **extra,
                "located": {
                    **dataclasses.asdict(lcfg),
                    "cue": cfg.cue,
                    "cue_counts": counts,
                    "fit_images": annots["demonstrations"]["fit_images"],
                    "fit_mirror": annots["demonstrations"]["fit_mirror"],
                },
                "demonstrations": {
                    "bag": found.get("bag"),
                    "label_sources": annots["demonstrations"]["label_sources"],
                    "clips_per_verb": annots["demonstrations"]["clips_per_verb"],
                },
            },
        )
        load_model(tmp)  # what the node will do: a file that does not load is not shipped
        tmp.replace(out)
        times["locate"] = time.perf_counter() - t0
        _log(f"located ({counts}) -> {out} ({times['locate']:.1f} s)")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        stale = out.with_name(f".{out.name}.tmp")
        if stale.exists():
            stale.unlink()
    return {"seconds": times, "interactions": len(found["interactions"]), "labels": len(labs), "cue": counts}
