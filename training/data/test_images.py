"""Static test images with keypoint-derived GT heatmaps (OPRA and EPIC; spec 3.1, 3.2, 4.1, 4.2).

Entries come from ``annotations.json[<split>_images]``: ``{image: [path parts], verb, points, shape}``,
image file ``<root>/images/<parts...>``. Each sample is a dict:

* ``image``: (3,S,S) float32, the eval transform (straight resize to S=224, aspect not kept).
* ``heatmap``: (S,S) float32 GT: ``gt_heatmap_from_points(points, shape, k_ratio=3, transpose=...)``
  (OPRA ``transpose=False``, EPIC ``transpose=True``) then ``gt_for_scoring(., S)``; an empty point
  list gives an all-zero map.
* ``verb``: int; ``key``: ``tuple(image) + (str(verb),)`` as the reference keys its GT.

Keys are tuples, so batch with ``collate_test_images`` (keeps them as a list of tuples).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from hotspot_core.eval.ground_truth import gt_for_scoring, gt_heatmap_from_points

from .clips import load_annotations, load_rgb
from .config import ANNOTATIONS_FILE, IMAGES_DIR, DatasetConfig, resolve_path
from .transforms import EvalTransform

__all__ = ["HotspotTestImages", "collate_test_images", "image_key"]


def _parts(image: str | Sequence[str]) -> tuple[str, ...]:
    return (image,) if isinstance(image, str) else tuple(str(p) for p in image)


def image_key(image: str | Sequence[str], verb: int) -> tuple[str, ...]:
    """The reference's GT key: ``tuple(image) + (str(verb),)``."""
    return _parts(image) + (str(int(verb)),)


class HotspotTestImages(Dataset):
    """Test (image, verb) pairs with GT heatmaps; ``dataset`` is 'opra' or 'epic'."""

    def __init__(
        self,
        root: str | Path,
        dataset: str = "opra",
        split: str = "test",
        size: int = 224,
        k_ratio: float = 3.0,
        annotations: str | Path | None = None,
        images_dir: str | Path | None = None,
    ) -> None:
        if dataset not in ("opra", "epic"):
            raise ValueError(f"dataset must be 'opra' or 'epic', got {dataset!r}")
        self.root = Path(root)
        self.dataset = dataset
        self.transpose = dataset == "epic"  # EPIC points are stored (x, y) with shape (W, H)
        self.size = int(size)
        self.k_ratio = float(k_ratio)
        self.transform = EvalTransform(self.size)
        self.annotations_path = resolve_path(self.root, annotations, ANNOTATIONS_FILE)
        self.images_root = resolve_path(self.root, images_dir, IMAGES_DIR)
        annots = load_annotations(self.annotations_path, f"{split}_images")
        self.verbs: list[str] = list(annots["verbs"])
        self.entries: list[dict[str, Any]] = list(annots[f"{split}_images"])

    @classmethod
    def from_config(cls, cfg: DatasetConfig, split: str = "test") -> HotspotTestImages:
        """Build from a ``DatasetConfig`` (name decides OPRA vs EPIC orientation)."""
        cfg.check_paths()
        return cls(
            cfg.root,
            dataset=cfg.name,
            split=split,
            size=cfg.eval_size,
            k_ratio=cfg.k_ratio,
            annotations=cfg.annotations_path,
            images_dir=cfg.images_path,
        )

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def labels(self) -> list[int]:
        return [int(e["verb"]) for e in self.entries]

    def keys(self) -> list[tuple[str, ...]]:
        return [image_key(e["image"], e["verb"]) for e in self.entries]

    def image_path(self, index: int) -> Path:
        return self.images_root.joinpath(*_parts(self.entries[index]["image"]))

    def heatmap(self, index: int) -> torch.Tensor:
        """(S,S) float32 GT map of entry ``index`` (spec 3.1 then 3.2 steps 2-3)."""
        e = self.entries[index]
        full = gt_heatmap_from_points(e["points"], e["shape"], k_ratio=self.k_ratio, transpose=self.transpose)
        return torch.from_numpy(gt_for_scoring(full, self.size).astype("float32", copy=False))

    def __getitem__(self, index: int) -> dict[str, Any]:
        e = self.entries[index]
        return {
            "image": self.transform(load_rgb(self.image_path(index))),
            "heatmap": self.heatmap(index),
            "verb": int(e["verb"]),
            "key": image_key(e["image"], e["verb"]),
        }


def collate_test_images(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack images/heatmaps/verbs; keep ``key`` as a list of tuples (default_collate would zip them)."""
    return {
        "image": torch.stack([b["image"] for b in batch]),
        "heatmap": torch.stack([b["heatmap"] for b in batch]),
        "verb": torch.tensor([b["verb"] for b in batch], dtype=torch.long),
        "key": [b["key"] for b in batch],
    }
