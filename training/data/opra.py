"""OPRA training clips (reference ``data/opra.py``, spec 4.1).

Expected tree under the dataset root (the reference's ``data/opra`` plus the extracted frames)::

    <root>/
      annotations.json                    # schema: spec 4.6 (verbs, nouns, train_clips, test_images, ...)
      frames/<ch>/<pl>/<vid>/<start>_<dur>.mp4/image-00000001.jpg ...   # 5 fps, 256x256, from 1
      images/<image path parts...>        # catalogue (product) images; test images live here too
      clips/<ch>/<pl>/<vid>/<start>_<dur>.mp4                           # optional: only for extraction

A clip entry is ``{clip: [ch, pl, vid, start, dur], nframes, verb, noun, image: [path parts]}``; its
frames are ``image-%08d.jpg`` for ``1..nframes`` (every ``sample_rate``-th). The frame folder keeps the
``.mp4`` suffix, as the reference's ffmpeg extraction writes it (``python -m training.extract_frames``).

Each sample: ``frames`` (max_len,3,S,S) float32 zero-padded, ``length`` (true number of frames),
``verb``, ``inactive`` (3,S,S) = the clip's catalogue image, ``negative`` (3,S,S) = the catalogue image
of a different product (``image[0:3]`` differs; unused by the MSE loss but returned as the reference
does), ``key`` = the clip's relative frame folder. Clips whose catalogue image is missing are dropped and
counted in ``missing_images``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch

from .clips import ClipDatasetBase, ClipItem, ClipOptions, FrameIndex, check_clip_frames, load_rgb
from .config import IMAGES_DIR, DatasetConfig, resolve_path

__all__ = ["OPRAClips", "opra_clip_dir", "opra_frame_name"]


def opra_clip_dir(clip: Sequence[Any]) -> str:
    """Relative frame folder of a clip entry: ``ch/pl/vid/start_dur.mp4`` (reference format)."""
    if len(clip) != 5:
        raise ValueError(f"OPRA 'clip' must have 5 parts [ch, pl, vid, start, dur], got {clip!r}")
    return "%s/%s/%s/%s_%s.mp4" % tuple(clip)


def opra_frame_name(i: int) -> str:
    """File name of frame ``i`` (1-based), as ffmpeg's ``image-%08d.jpg`` writes it."""
    return "image-%08d.jpg" % i


class OPRAClips(ClipDatasetBase):
    """OPRA training/validation clips with their catalogue (inactive) images."""

    name = "OPRAClips"
    dataset_name = "opra"

    def __init__(
        self, root: str | Path, *, images_dir: str | Path | None = None, **options: Unpack[ClipOptions]
    ) -> None:
        """``options``: the arguments every clip dataset takes (``ClipDatasetBase``); ``images_dir``
        overrides ``<root>/images`` (the catalogue images)."""
        self._images_dir = images_dir
        super().__init__(root, **options)
        self._setup_negatives()

    @classmethod
    def layout_options(cls, cfg: DatasetConfig) -> dict[str, Any]:
        return {"images_dir": cfg.images_path}

    def _add_items(self, annots: dict[str, Any], entries: list[dict[str, Any]], index: FrameIndex) -> None:
        self.images_root = resolve_path(self.root, self._images_dir, IMAGES_DIR)
        self.nouns: list[str] = list(annots.get("nouns", []))
        self.missing_images = 0  # clips dropped because their catalogue image is missing
        for entry in entries:
            rel = opra_clip_dir(entry["clip"])
            names = [opra_frame_name(i) for i in range(1, int(entry["nframes"]) + 1, self.sample_rate)]
            frames = check_clip_frames(index, self.frames_root / rel, names, self.report)
            if frames is None:
                continue
            image = [str(p) for p in entry["image"]]
            img_path = self.image_path(image)
            present = index.names(img_path.parent)
            if present is None or img_path.name not in present:
                self.missing_images += 1
                continue
            self.items.append(ClipItem(frames, int(entry["verb"]), rel, {"image": image}))
        if self.missing_images:
            warnings.warn(
                f"{self.name}: {self.missing_images} clips dropped (catalogue image missing)",
                RuntimeWarning,
                stacklevel=4,
            )  # -> the caller of OPRAClips(...)

    def counters(self) -> dict[str, int]:
        """Data-quality counters, including clips dropped for a missing catalogue image."""
        return {**super().counters(), "missing_images": self.missing_images}

    def _setup_negatives(self) -> None:
        # Product = image[0:3]; a negative is drawn uniformly over the split's entries of other products.
        ids: dict[tuple[str, ...], int] = {}
        self._product_ids = np.array(
            [ids.setdefault(tuple(it.extra["image"][:3]), len(ids)) for it in self.items], dtype=np.int64
        )
        if len(ids) < 2:
            warnings.warn(
                f"{self.name}: only one product in the split; negatives will be the same product",
                RuntimeWarning,
                stacklevel=3,
            )

    def image_path(self, parts: Sequence[str]) -> Path:
        return self.images_root.joinpath(*parts)

    def _negative_index(self, index: int, rng: np.random.Generator) -> int:
        own = self._product_ids[index]
        n = len(self.items)
        for _ in range(64):  # rejection sampling keeps the draw uniform over other products' entries
            j = int(rng.integers(0, n))
            if self._product_ids[j] != own:
                return j
        others = np.flatnonzero(self._product_ids != own)
        return int(rng.choice(others)) if len(others) else index

    def _inactive(self, index: int, item: ClipItem, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        inactive = self.image_transform(load_rgb(self.image_path(item.extra["image"])), rng)
        j = self._negative_index(index, rng)
        negative = self.image_transform(load_rgb(self.image_path(self.items[j].extra["image"])), rng)
        return inactive, negative
