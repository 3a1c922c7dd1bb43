"""``DatasetConfig``: where a dataset lives and how it is windowed/resized, from YAML or CLI flags.

Paths never live in source. A YAML file looks like::

    name: opra            # 'opra' or 'epic'
    root: /data/opra      # folder holding annotations.json (see training/data/opra.py, epic.py)
    max_len: 8
    resize: 256
    crop: 224
    eval_size: 224

Relative paths are taken relative to the current working directory. ``annotations``, ``frames_dir``
and ``images_dir`` default to the standard layout under ``root`` and may be overridden (relative to
``root``, or absolute) when the pieces live elsewhere, e.g. OPRA frames extracted next to the OPRA
toolkit's clips.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotspot_core.config import check_config_mapping
from hotspot_core.errors import ConfigError

__all__ = [
    "ConfigError",
    "DatasetConfig",
    "add_dataset_args",
    "dataset_config_from_args",
    "layout_name",
    "resolve_path",
    "DATASET_NAMES",
    "DEFAULT_SAMPLE_RATE",
    "ANNOTATIONS_FILE",
    "IMAGES_DIR",
    "FRAMES_DIR",
    "DETECTION_DIR",
]

DATASET_NAMES = ("opra", "epic")
# Frame sub-sampling per dataset (spec 4.1/4.2): OPRA frames are already 5 fps, EPIC takes every 10th.
DEFAULT_SAMPLE_RATE = {"opra": 1, "epic": 10}
# The standard layout under a dataset root (training/data/opra.py, epic.py document the trees).
ANNOTATIONS_FILE = "annotations.json"
IMAGES_DIR = "images"  # OPRA catalogue images; EPIC's cropped test images
FRAMES_DIR = {"opra": "frames", "epic": "frames_rgb_flow/rgb/train"}
DETECTION_DIR = "object_detection_images/train"  # EPIC object-detection frames (inactive boxes)


def resolve_path(root: Path, override: str | Path | None, default: str) -> Path:
    """``root/default`` if no override, else the override (relative ones are taken under ``root``)."""
    if override is None:
        return root / default
    p = Path(override)
    return p if p.is_absolute() else root / p


def layout_name(root: Path) -> str:
    """The dataset name a root's tree shows (EPIC's frames_rgb_flow/, OPRA's frames/ or clips/), for a config
    that names none; ``ConfigError`` when the tree shows neither."""
    if not root.is_dir():
        raise ConfigError(f"dataset root {str(root)!r} does not exist or is not a folder")
    if (root / "frames_rgb_flow").is_dir() or (root / DETECTION_DIR).is_dir():
        return "epic"
    if (root / FRAMES_DIR["opra"]).is_dir() or (root / "clips").is_dir():
        return "opra"
    raise ConfigError(
        f"dataset name not given and {str(root)!r} has neither OPRA's frames/ nor EPIC's frames_rgb_flow/: "
        f"give --data-name ({' or '.join(DATASET_NAMES)}) or name: in the dataset YAML"
    )


@dataclass(frozen=True)
class DatasetConfig:
    """Dataset location and preprocessing sizes.

    name: 'opra' or 'epic'.
    root: dataset root (holds ``annotations.json``).
    max_len: frames per training window (8 in the reference).
    resize / crop: shorter-side resize and square crop for training clips and inactive images.
    eval_size: side of the straight resize used for test images and GT heatmaps.
    sample_rate: frame stride (None -> 1 for OPRA, 10 for EPIC).
    k_ratio: GT Gaussian kernel ratio (spec 3.1).
    seed: base seed for per-sample randomness.
    annotations / frames_dir / images_dir: overrides of the standard layout (None -> default).
    """

    name: str
    root: Path
    max_len: int = 8
    resize: int = 256
    crop: int = 224
    eval_size: int = 224
    sample_rate: int | None = None
    k_ratio: float = 3.0
    seed: int = 0
    annotations: Path | None = None
    frames_dir: Path | None = None
    images_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.name not in DATASET_NAMES:
            raise ConfigError(f"dataset name must be one of {DATASET_NAMES}, got {self.name!r}")
        if self.root is None or str(self.root) == "":
            raise ConfigError("dataset 'root' is required")
        # Absolute now, so a relative root means the current directory's, as documented, and the derived
        # paths (annotations_path ...) are not re-joined onto the root by the datasets' path resolution.
        object.__setattr__(self, "root", Path(self.root).expanduser().absolute())
        for key in ("annotations", "frames_dir", "images_dir"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, Path(v).expanduser())
        for key in ("max_len", "resize", "crop", "eval_size", "seed"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"{key} must be an int, got {v!r}")
        if self.max_len < 1:
            raise ConfigError(f"max_len must be >= 1, got {self.max_len}")
        if self.crop < 1 or self.resize < self.crop:
            raise ConfigError(f"need 1 <= crop <= resize, got crop={self.crop}, resize={self.resize}")
        if self.eval_size < 1:
            raise ConfigError(f"eval_size must be >= 1, got {self.eval_size}")
        if self.sample_rate is None:
            object.__setattr__(self, "sample_rate", DEFAULT_SAMPLE_RATE[self.name])
        elif isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, int) or self.sample_rate < 1:
            raise ConfigError(f"sample_rate must be an int >= 1, got {self.sample_rate!r}")
        if not isinstance(self.k_ratio, (int, float)) or self.k_ratio <= 0:
            raise ConfigError(f"k_ratio must be > 0, got {self.k_ratio!r}")
        object.__setattr__(self, "k_ratio", float(self.k_ratio))

    # Resolved paths -------------------------------------------------------------------------------
    @property
    def annotations_path(self) -> Path:
        return resolve_path(self.root, self.annotations, ANNOTATIONS_FILE)

    @property
    def frames_path(self) -> Path:
        """OPRA: ``<root>/frames``; EPIC: ``<root>/frames_rgb_flow/rgb/train``."""
        return resolve_path(self.root, self.frames_dir, FRAMES_DIR[self.name])

    @property
    def images_path(self) -> Path:
        """Catalogue (OPRA) / cropped test (EPIC) images: ``<root>/images``."""
        return resolve_path(self.root, self.images_dir, IMAGES_DIR)

    @property
    def detection_images_path(self) -> Path:
        """EPIC object-detection frames: ``<root>/object_detection_images/train``."""
        return self.root / DETECTION_DIR

    def check_paths(self) -> None:
        """Raise ``ConfigError`` naming the missing path if the root or annotations file is absent."""
        if not self.root.is_dir():
            raise ConfigError(f"dataset root {str(self.root)!r} does not exist or is not a folder")
        if not self.annotations_path.is_file():
            raise ConfigError(f"annotations file {str(self.annotations_path)!r} not found")

    # (De)serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], check_paths: bool = False) -> DatasetConfig:
        """Build from a mapping; unknown keys or a missing root raise ``ConfigError``. A missing name is read
        from the root's tree (``layout_name``)."""
        check_config_mapping(cls, data, "dataset")
        if data.get("root") in (None, ""):
            raise ConfigError("dataset config is missing required key 'root' (--data-root)")
        if data.get("name") in (None, ""):
            data = {**data, "name": layout_name(Path(data["root"]))}
        try:
            cfg = cls(**dict(data))
        except TypeError as exc:  # e.g. a list where a path was expected
            raise ConfigError(f"bad dataset config: {exc}") from exc
        if check_paths:
            cfg.check_paths()
        return cfg

    @classmethod
    def from_yaml(cls, path: str | Path, check_paths: bool = False, **overrides: Any) -> DatasetConfig:
        """Load a YAML file (optionally under a top-level ``dataset:`` key); ``overrides`` win."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"dataset config file {str(path)!r} not found")
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        if isinstance(data, Mapping) and set(data) == {"dataset"}:
            data = data["dataset"]
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: expected a mapping, got {type(data).__name__}")
        data = dict(data)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data, check_paths=check_paths)


_CLI_FIELDS = {
    "data_name": ("name", str),
    "data_root": ("root", str),
    "max_len": ("max_len", int),
    "resize": ("resize", int),
    "crop": ("crop", int),
    "eval_size": ("eval_size", int),
    "data_seed": ("seed", int),
}


def add_dataset_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-config`` plus per-field overrides (``--data-root``, ``--max-len`` ...) to a parser."""
    g = parser.add_argument_group("dataset")
    g.add_argument("--data-config", type=Path, default=None, help="YAML file with a DatasetConfig")
    g.add_argument("--data-name", choices=DATASET_NAMES, default=None)
    g.add_argument("--data-root", default=None, help="dataset root (holds annotations.json)")
    g.add_argument("--max-len", type=int, default=None)
    g.add_argument("--resize", type=int, default=None)
    g.add_argument("--crop", type=int, default=None)
    g.add_argument("--eval-size", type=int, default=None)
    g.add_argument("--data-seed", type=int, default=None)


def dataset_config_from_args(args: argparse.Namespace, check_paths: bool = True) -> DatasetConfig:
    """Merge ``--data-config`` with flag overrides (flags win)."""
    overrides = {
        field: getattr(args, attr) for attr, (field, _) in _CLI_FIELDS.items() if getattr(args, attr, None) is not None
    }
    if getattr(args, "data_config", None) is not None:
        return DatasetConfig.from_yaml(args.data_config, check_paths=check_paths, **overrides)
    return DatasetConfig.from_dict(overrides, check_paths=check_paths)
