"""EPIC-Kitchens (EPIC-55) training clips (reference ``data/epic.py``, spec 4.2).

Expected tree under the dataset root::

    <root>/
      annotations.json          # verbs, nouns, train_clips, test_images, inactive_images (spec 4.6)
      frames_rgb_flow/rgb/train/<P##>/<P##_##>/frame_0000000001.jpg ...   # EPIC-55 RGB frames
      object_detection_images/train/<P##>/<P##_##>/0000000001.jpg ...     # object-detection frames
      images/<name>             # pre-cropped test images (HotspotTestImages)

A clip entry is ``{v_id: 'P01_01', start, stop, verb, noun}``; its frames are
``range(start, stop + 1, sample_rate)`` (sample_rate 10). ``inactive_images`` maps a noun name to
``[{v_id, f_id, box: [x0, y0, x1, y1]}]`` boxes on object-detection frames.

Each sample: ``frames`` (max_len,3,S,S), ``length``, ``verb``, ``inactive`` = a random inactive box of
the clip's noun (a different instance), ``negative`` = a random box of a random noun key (it may be the
same noun, as in the reference), both cropped with ``CropPerturb`` then the training image transform;
``key`` = ``'<v_id>/<start>_<stop>'``. Clips whose noun has no usable inactive image are dropped and
counted in ``dropped_no_inactive``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch

from .clips import ClipDatasetBase, ClipItem, ClipOptions, FrameIndex, check_clip_frames, load_rgb
from .config import DETECTION_DIR, DatasetConfig, resolve_path
from .transforms import CropPerturb

__all__ = ["EPICClips", "epic_frame_name", "epic_detection_name", "participant"]


def participant(v_id: str) -> str:
    """``'P01_01'`` -> ``'P01'``."""
    return v_id.split("_")[0]


def epic_frame_name(i: int) -> str:
    return "frame_%010d.jpg" % i


def epic_detection_name(i: int) -> str:
    return "%010d.jpg" % i


class EPICClips(ClipDatasetBase):
    """EPIC-55 clips with inactive object crops of the same (positive) and a random (negative) noun."""

    name = "EPICClips"
    dataset_name = "epic"

    def __init__(
        self, root: str | Path, *, detection_dir: str | Path | None = None, **options: Unpack[ClipOptions]
    ) -> None:
        """``options``: the arguments every clip dataset takes (``ClipDatasetBase``); ``detection_dir``
        overrides ``<root>/object_detection_images/train`` (the inactive images' frames)."""
        self._detection_dir = detection_dir
        super().__init__(root, **options)

    @classmethod
    def layout_options(cls, cfg: DatasetConfig) -> dict[str, Any]:
        return {"detection_dir": cfg.detection_images_path}

    def _add_items(self, annots: dict[str, Any], entries: list[dict[str, Any]], index: FrameIndex) -> None:
        self.detection_root = resolve_path(self.root, self._detection_dir, DETECTION_DIR)
        self.crop_perturb = CropPerturb()
        self.nouns: list[str] = list(annots["nouns"])

        # Inactive boxes whose object-detection frame exists, per noun name.
        self.inactive: dict[str, list[tuple[str, list[float]]]] = {}
        self.missing_inactive = 0
        for noun, boxes in annots.get("inactive_images", {}).items():
            kept = []
            for e in boxes:
                folder = self.detection_root / participant(e["v_id"]) / e["v_id"]
                name = epic_detection_name(int(e["f_id"]))
                names = index.names(folder)
                if names is None or name not in names:
                    self.missing_inactive += 1
                    continue
                kept.append((str(folder / name), [float(v) for v in e["box"]]))
            if kept:
                self.inactive[noun] = kept
        self._noun_keys = sorted(self.inactive)

        self.dropped_no_inactive = 0
        for entry in entries:
            v_id = str(entry["v_id"])
            noun = self.nouns[int(entry["noun"])]
            start, stop = int(entry["start"]), int(entry["stop"])
            names = [epic_frame_name(i) for i in range(start, stop + 1, self.sample_rate)]
            frames = check_clip_frames(index, self.frames_root / participant(v_id) / v_id, names, self.report)
            if frames is None:
                continue
            if noun not in self.inactive:
                self.dropped_no_inactive += 1
                continue
            self.items.append(ClipItem(frames, int(entry["verb"]), f"{v_id}/{start}_{stop}", {"noun": noun}))
        if self.missing_inactive or self.dropped_no_inactive:
            warnings.warn(
                f"{self.name}: {self.missing_inactive} inactive boxes skipped (detection frame missing); "
                f"{self.dropped_no_inactive} clips dropped (no inactive image of their noun)",
                RuntimeWarning,
                stacklevel=4,  # -> the caller of EPICClips(...)
            )

    def _crop(self, entry: tuple[str, list[float]], rng: np.random.Generator) -> torch.Tensor:
        path, box = entry
        return self.image_transform(self.crop_perturb(load_rgb(path), box, rng), rng)

    def _inactive(self, index: int, item: ClipItem, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pos_list = self.inactive[item.extra["noun"]]
        positive = self._crop(pos_list[int(rng.integers(0, len(pos_list)))], rng)
        neg_noun = self._noun_keys[int(rng.integers(0, len(self._noun_keys)))]
        neg_list = self.inactive[neg_noun]
        negative = self._crop(neg_list[int(rng.integers(0, len(neg_list)))], rng)
        return positive, negative

    def counters(self) -> dict[str, int]:
        """Data-quality counters, including the inactive-image ones."""
        return {
            **super().counters(),
            "missing_inactive": self.missing_inactive,
            "dropped_no_inactive": self.dropped_no_inactive,
        }
