"""The synthetic world's configuration (``WorldConfig``), its constants and its seeded RNG streams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .catalogue import CATEGORIES, CATEGORY_BY_NAME, DEFAULT_NOVEL

__all__ = ["FPS", "GENERATOR_NAME", "GENERATOR_VERSION", "WorldConfig", "rng_stream"]

FPS = 5  # clip frame rate: a clip of n frames lasts n / FPS seconds (its name's <dur>)
# Recorded in annotations.json and README.txt. The name is the module that first wrote the format (now a
# shim over this package); it stays so that worlds are byte-identical across the move. Bump the version
# whenever the same arguments would give different files.
GENERATOR_NAME = "training.synthetic_world"
GENERATOR_VERSION = 1


def rng_stream(seed: int, *keys: int) -> np.random.Generator:
    """The RNG of one independent stream of the world, so adding a stream never shifts another.

    Streams in use (first key): 1 products, 2 annotator points, 3 clips, 4 empty point lists, 5 short clips,
    7 DAN labels of single-object clips, 8 two-object clips.
    """
    return np.random.default_rng([seed, *keys])


@dataclass(frozen=True)
class WorldConfig:
    """Size and content of a synthetic world (every field is a CLI flag)."""

    seed: int = 0
    split: str = "seen"
    categories: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
    novel_categories: tuple[str, ...] | None = None  # None -> DEFAULT_NOVEL present in categories
    products_per_category: int = 3
    clips_per_category: int = 6
    test_per_category: int = 2  # test products (catalogue images) per test category
    test_clips_per_category: int = 1
    image_size: int = 256
    min_frames: int = 6
    max_frames: int = 14
    annotators: int = 5
    empty_points_frac: float = 0.2
    short_clip_frac: float = 0.0
    write_mp4: bool = False
    jpeg_quality: int = 90
    # Dual Attention Network labels (training.synthetic.dan). Off by default: the defaults leave the
    # world byte-identical to a generator without these fields.
    dan_labels: bool = False
    dan_two_object_clips: int = 4  # per source category and split ("pour into", "put into"); dan only
    dan_extra_object_prob: float = 0.5  # single-object clips: chance of an untouched second object

    def __post_init__(self) -> None:
        if self.split not in ("seen", "novel"):
            raise ValueError(f"split must be 'seen' or 'novel', got {self.split!r}")
        unknown = [c for c in self.categories if c not in CATEGORY_BY_NAME]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(CATEGORY_BY_NAME)}")
        if len(set(self.categories)) != len(self.categories) or not self.categories:
            raise ValueError("categories must be non-empty and unique")
        if not 2 <= self.min_frames <= self.max_frames:
            raise ValueError("need 2 <= min_frames <= max_frames")
        if self.image_size < 32:
            raise ValueError("image_size must be >= 32")
        for k in ("products_per_category", "clips_per_category", "test_per_category", "annotators"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1")
        if not 0 <= self.empty_points_frac <= 1 or not 0 <= self.short_clip_frac <= 1:
            raise ValueError("fractions must be in [0, 1]")
        if self.dan_two_object_clips < 0 or not 0 <= self.dan_extra_object_prob <= 1:
            raise ValueError("dan_two_object_clips must be >= 0 and dan_extra_object_prob in [0, 1]")

    def category_split(self) -> tuple[list[str], list[str]]:
        """(train categories, test categories)."""
        cats = list(self.categories)
        if self.split == "seen":
            return cats, cats
        novel = (
            list(self.novel_categories)
            if self.novel_categories is not None
            else [c for c in DEFAULT_NOVEL if c in cats]
        )
        if not novel:
            novel = cats[-max(1, len(cats) // 4) :]
        bad = [c for c in novel if c not in cats]
        if bad:
            raise ValueError(f"novel categories {bad} are not among the categories")
        seen = [c for c in cats if c not in novel]
        if not seen:
            raise ValueError("the novel split needs at least one training category")
        seen_verbs = {v for c in seen for v in CATEGORY_BY_NAME[c].verbs}
        for c in novel:
            missing = set(CATEGORY_BY_NAME[c].verbs) - seen_verbs
            if missing:
                raise ValueError(f"novel category {c!r} has verbs {sorted(missing)} that no training category affords")
        return seen, novel
