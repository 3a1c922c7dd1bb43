"""Shared machinery of the training clip datasets: windows, frame checks, seeded per-sample RNG.

* ``select_window``: which ``max_len`` frames of a clip to use (spec 4.1).
* ``FrameIndex``: one ``os.listdir`` per frame folder, so entries can be checked against the files that
  really exist (reference issue #5: a local ffmpeg may produce fewer frames than ``nframes``).
* ``ClipDatasetBase``: frames -> (T,3,S,S) zero-padded window + true length; missing frames are
  dropped from each clip at construction and counted (``missing_frames``, ``clamped_clips``), entries
  whose frame folder is missing (or that keep no frame) are dropped and counted (``dropped_entries``).
  It also owns the arguments every clip dataset takes (``ClipOptions``: split, train, window and crop
  sizes, frame stride, seed, layout overrides) and ``from_config``, so ``OPRAClips`` / ``EPICClips``
  only add their own folder and what their entries mean.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypedDict

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .config import ANNOTATIONS_FILE, DEFAULT_SAMPLE_RATE, FRAMES_DIR, DatasetConfig, resolve_path
from .transforms import ClipTransform, ImageTransform, pad_clip

log = logging.getLogger(__name__)

__all__ = [
    "select_window",
    "FrameIndex",
    "ClipItem",
    "FrameCheckReport",
    "ClipOptions",
    "ClipDatasetBase",
    "load_rgb",
    "check_clip_frames",
    "resolve_path",
]


def select_window(length: int, max_len: int, train: bool, rng: np.random.Generator | None = None) -> tuple[int, int]:
    """``(start, count)`` of the frames to use from a clip of ``length`` frames.

    Clips of at most ``max_len`` frames are used whole. Longer clips: training draws ``start`` uniformly
    from ``[0, length - max_len)``; the upper bound is exclusive as in the reference, so the very last
    window is never picked. Validation takes the centred window.
    """
    if length < 0 or max_len < 1:
        raise ValueError(f"bad window request: length={length}, max_len={max_len}")
    if length <= max_len:
        return 0, length
    if train:
        if rng is None:
            raise ValueError("a training window needs a numpy Generator")
        return int(rng.integers(0, length - max_len)), max_len
    return (length - max_len) // 2, max_len


def load_rgb(path: str | Path) -> Image.Image:
    """Open an image file as RGB (the file is closed before returning)."""
    with Image.open(path) as im:
        return im.convert("RGB")


class FrameIndex:
    """Caches the file names of frame folders (one listdir each) to test existence cheaply."""

    def __init__(self) -> None:
        self._cache: dict[str, frozenset[str] | None] = {}

    def names(self, folder: str | Path) -> frozenset[str] | None:
        """File names in ``folder``, or None if it is not a folder."""
        key = str(folder)
        if key not in self._cache:
            try:
                self._cache[key] = frozenset(os.listdir(key))
            except (FileNotFoundError, NotADirectoryError):
                self._cache[key] = None
        return self._cache[key]


@dataclass
class ClipItem:
    """One usable clip: existing frame files in order, its verb, key and dataset-specific extras."""

    frames: list[str]
    verb: int
    key: str
    extra: dict[str, Any]


@dataclass
class FrameCheckReport:
    """Counts from checking annotation entries against the files on disk."""

    entries: int = 0
    dropped_entries: int = 0  # frame folder missing, or no listed frame exists
    clamped_clips: int = 0  # clips that lost at least one listed frame
    missing_frames: int = 0  # listed frame files not on disk (issue #5)

    def summary(self, name: str, usable: int | None = None) -> str:
        usable = self.entries - self.dropped_entries if usable is None else usable
        return (
            f"{name}: {usable}/{self.entries} clips usable; "
            f"{self.dropped_entries} dropped (frame folder missing or empty); "
            f"{self.missing_frames} listed frames missing on disk in {self.clamped_clips} clips "
            f"(clamped to the frames that exist)"
        )


def check_clip_frames(
    index: FrameIndex, folder: Path, names: Sequence[str], report: FrameCheckReport
) -> list[str] | None:
    """Existing frame paths of one clip (listed order kept), or None if the clip must be dropped."""
    report.entries += 1
    present = index.names(folder)
    if present is None:
        report.dropped_entries += 1
        return None
    kept = [str(folder / n) for n in names if n in present]
    lost = len(names) - len(kept)
    if lost:
        report.clamped_clips += 1
        report.missing_frames += lost
    if not kept:
        report.dropped_entries += 1
        return None
    return kept


def load_annotations(path: Path, key: str) -> dict[str, Any]:
    """The parsed ``annotations.json`` at ``path``; KeyError naming the file when it has no list ``key``."""
    with open(path, encoding="utf-8") as f:
        annots = json.load(f)
    if key not in annots:
        raise KeyError(f"{path} has no {key!r} list")
    return annots


class ClipOptions(TypedDict, total=False):
    """The arguments every clip dataset takes besides ``root`` (see ``ClipDatasetBase``)."""

    split: str
    train: bool | None
    max_len: int
    resize: int
    crop: int
    sample_rate: int | None
    seed: int
    annotations: str | Path | None
    frames_dir: str | Path | None


class ClipDatasetBase(Dataset):
    """Base class of the clip datasets: it takes the arguments they share (``ClipOptions``), opens the
    annotations, finds the frames and checks the result; subclasses (one per ``dataset_name``) implement
    ``_add_items(annots, entries, index)`` (fill ``self.items``) and ``_inactive(index, item, rng)``."""

    name = "clips"
    dataset_name = ""  # the DatasetConfig name it reads: 'opra' or 'epic'

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        train: bool | None = None,
        max_len: int = 8,
        resize: int = 256,
        crop: int = 224,
        sample_rate: int | None = None,
        seed: int = 0,
        annotations: str | Path | None = None,
        frames_dir: str | Path | None = None,
    ) -> None:
        """``split``: 'train' or 'test' (the json's ``<split>_clips``); ``train`` (default: split ==
        'train') picks random windows/crops/flips versus centred ones; ``sample_rate`` (default: the
        dataset's, ``DEFAULT_SAMPLE_RATE``) is the frame stride; ``annotations`` / ``frames_dir`` override
        the standard layout (relative ones under ``root``)."""
        self.train = bool(split == "train" if train is None else train)
        self.max_len = int(max_len)
        self.crop = int(crop)
        if int(seed) < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self.sample_rate = DEFAULT_SAMPLE_RATE[self.dataset_name] if sample_rate is None else int(sample_rate)
        self.epoch = 0
        self.clip_transform = ClipTransform(self.train, resize, crop)
        self.image_transform = ImageTransform(self.train, resize, crop)
        self.items: list[ClipItem] = []
        self.report = FrameCheckReport()
        self.root = Path(root)
        self.annotations_path = resolve_path(self.root, annotations, ANNOTATIONS_FILE)
        annots = load_annotations(self.annotations_path, f"{split}_clips")
        self.verbs: list[str] = list(annots["verbs"])
        self.frames_root = resolve_path(self.root, frames_dir, FRAMES_DIR[self.dataset_name])
        self._add_items(annots, annots[f"{split}_clips"], FrameIndex())
        self._finish_check()

    @classmethod
    def from_config(cls, cfg: DatasetConfig, split: str = "train", train: bool | None = None) -> Self:
        """Build from a ``DatasetConfig`` whose name is this class's ``dataset_name``."""
        if cfg.name != cls.dataset_name:
            raise ValueError(f"{cls.__name__} needs an {cls.dataset_name!r} config, got {cfg.name!r}")
        cfg.check_paths()
        return cls(
            cfg.root,
            split=split,
            train=train,
            max_len=cfg.max_len,
            resize=cfg.resize,
            crop=cfg.crop,
            sample_rate=cfg.sample_rate,
            seed=cfg.seed,
            annotations=cfg.annotations_path,
            frames_dir=cfg.frames_path,
            **cls.layout_options(cfg),
        )

    @classmethod
    def layout_options(cls, cfg: DatasetConfig) -> dict[str, Any]:
        """The subclass's own constructor arguments taken from ``cfg`` (its extra folders)."""
        return {}

    def _add_items(self, annots: dict[str, Any], entries: list[dict[str, Any]], index: FrameIndex) -> None:
        """Append a ``ClipItem`` per usable entry of the split (``check_clip_frames`` counts the rest)."""
        raise NotImplementedError

    # Counters (also in self.report) ---------------------------------------------------------------
    @property
    def missing_frames(self) -> int:
        return self.report.missing_frames

    @property
    def clamped_clips(self) -> int:
        return self.report.clamped_clips

    @property
    def dropped_entries(self) -> int:
        return self.report.dropped_entries

    def counters(self) -> dict[str, int]:
        """Data-quality counters, for logging."""
        return {
            "entries": self.report.entries,
            "dropped_entries": self.dropped_entries,
            "clamped_clips": self.clamped_clips,
            "missing_frames": self.missing_frames,
        }

    def _finish_check(self) -> None:
        """Log one summary line, and warn once if anything was dropped or clamped."""
        msg = self.report.summary(self.name, len(self.items))
        if self.report.dropped_entries or self.report.missing_frames:
            warnings.warn(msg, RuntimeWarning, stacklevel=4)  # -> the subclass's caller
        log.info(msg)
        if not self.items:
            raise RuntimeError(f"{self.name}: no usable clips ({msg})")

    # Randomness -----------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Change the per-sample draws for a new epoch.

        Call it before creating the epoch's DataLoader iterator: workers receive a copy of the dataset
        when the iterator starts, so with ``persistent_workers=True`` the change would not reach them.
        """
        self.epoch = int(epoch)

    def rng_for(self, index: int) -> np.random.Generator:
        """Generator for sample ``index``: a pure function of (seed, epoch, index)."""
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    # Dataset API ----------------------------------------------------------------------------------
    @property
    def labels(self) -> list[int]:
        """Verb index of every item (for the class-balanced sampler)."""
        return [it.verb for it in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def load_window(self, item: ClipItem, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
        """(max_len,3,S,S) zero-padded frames of the selected window, and the true length."""
        start, count = select_window(len(item.frames), self.max_len, self.train, rng)
        imgs = [load_rgb(p) for p in item.frames[start : start + count]]
        frames = self.clip_transform(imgs, rng)
        return pad_clip(frames, self.max_len), count

    def _inactive(self, index: int, item: ClipItem, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(positive inactive image, negative image), each (3,S,S)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.items[index]
        rng = self.rng_for(index)
        frames, length = self.load_window(item, rng)
        inactive, negative = self._inactive(index, item, rng)
        return {
            "frames": frames,
            "length": length,
            "verb": item.verb,
            "inactive": inactive,
            "negative": negative,
            "key": item.key,
        }
