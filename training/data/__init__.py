"""Datasets for training and evaluating interaction hotspots (OPRA, EPIC-Kitchens, synthetic world).

Modules: ``config`` (DatasetConfig), ``transforms`` (spec 1.2 preprocessing, CropPerturb), ``clips``
(windows, missing-frame checks), ``opra`` / ``epic`` (training clips), ``test_images`` (GT heatmaps),
``sampler`` (class-balanced sampler). On-disk layouts are documented in ``opra`` and ``epic``.
"""

from __future__ import annotations

from .clips import ClipDatasetBase, FrameCheckReport, select_window
from .config import ConfigError, DatasetConfig, add_dataset_args, dataset_config_from_args
from .epic import EPICClips
from .opra import OPRAClips
from .sampler import class_balanced_sampler, class_balanced_weights
from .test_images import HotspotTestImages, collate_test_images, image_key
from .transforms import ClipTransform, CropPerturb, EvalTransform, ImageTransform

__all__ = [
    "ClipDatasetBase",
    "ClipTransform",
    "ConfigError",
    "CropPerturb",
    "DatasetConfig",
    "EPICClips",
    "EvalTransform",
    "FrameCheckReport",
    "HotspotTestImages",
    "ImageTransform",
    "OPRAClips",
    "add_dataset_args",
    "build_clip_dataset",
    "build_test_images",
    "class_balanced_sampler",
    "class_balanced_weights",
    "collate_test_images",
    "dataset_config_from_args",
    "image_key",
    "select_window",
]


def build_clip_dataset(cfg: DatasetConfig, split: str = "train", train: bool | None = None) -> ClipDatasetBase:
    """Training/validation clips for ``cfg.name`` ('opra' -> OPRAClips, 'epic' -> EPICClips)."""
    cls = OPRAClips if cfg.name == "opra" else EPICClips
    return cls.from_config(cfg, split=split, train=train)


def build_test_images(cfg: DatasetConfig, split: str = "test") -> HotspotTestImages:
    """Test images with GT heatmaps for ``cfg.name``."""
    return HotspotTestImages.from_config(cfg, split=split)
