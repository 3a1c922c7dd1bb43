"""Data for the Dual Attention Network: clips of a ``--dan-labels`` synthetic world, frame sampling, and
a cache of frozen-backbone features of every frame.

* ``load_dan_world(root)``: vocabularies and train/test ``DanClip`` lists from ``annotations.json``
  (frames that are not on disk are dropped, with their boxes).
* ``sample_frames``: TSN segment sampling (one frame per equal segment; random in training, the middle
  in evaluation).
* ``ensure_feature_cache``: the backbone is frozen and in eval mode, so its features depend only on the
  pixels. Every frame of every clip is resized straight to ``input_size`` (frames are square), run once
  and stored as float16 (F,d,h,w). The cache is rebuilt when its key (``DanCacheKey``: backbone, its
  weights' sha256, input size, normalisation, annotations sha256) changes; the folder, its ``meta.json``
  and the hit / stale decision are ``training.feature_cache``'s, shared with ``training.train``'s clip cache.
* ``DanFeatureClips``: a Dataset of (T,d,h,w) features + labels read from the cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from hotspot_core.image.preprocess import to_input_batch
from hotspot_core.weights import state_sha256

from ..feature_cache import META, begin_build, cache_is_current, finish_build
from ..synthetic.config import FPS

log = logging.getLogger("training.dan.data")

# 2: meta.json of training.feature_cache (fingerprint, key, complete); version-1 caches are rebuilt once.
CACHE_VERSION = 2
FRAME_NAME = "image-%08d.jpg"


@dataclass(frozen=True)
class DanClip:
    """One clip: its frame files (those on disk), labels and evaluation-only per-frame boxes."""

    key: str
    frames: tuple[Path, ...]
    action: int
    objects: tuple[int, int]  # (noun, second noun or -1)
    object_boxes: tuple[Any, ...]
    second_object_boxes: tuple[Any, ...] | None
    hand_boxes: tuple[Any, ...]
    contact_frame: int

    @property
    def num_frames(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class DanWorld:
    """Vocabularies and clips of a DAN world."""

    root: Path
    actions: tuple[str, ...]
    objects: tuple[str, ...]
    image_size: int
    fps: float
    train: tuple[DanClip, ...]
    test: tuple[DanClip, ...]
    annotations_sha256: str

    def split(self, name: str) -> tuple[DanClip, ...]:
        if name not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {name!r}")
        return self.train if name == "train" else self.test


def _clip(root: Path, e: dict[str, Any]) -> DanClip | None:
    ch, pl, vid, start, dur = e["clip"]
    folder = root / "frames" / ch / pl / vid / f"{start}_{dur}.mp4"
    frames = []
    for i in range(1, int(e["nframes"]) + 1):
        p = folder / (FRAME_NAME % i)
        if not p.is_file():
            break  # a missing frame ends the clip (the world's short clips lose their last frame)
        frames.append(p)
    if not frames:
        return None
    n = len(frames)
    second = e.get("second_object_boxes")
    return DanClip(
        f"{ch}/{pl}/{vid}/{start}_{dur}",
        tuple(frames),
        int(e["dan_action"]),
        (int(e["objects"][0]), int(e["objects"][1])),
        tuple(e["object_boxes"][:n]),
        tuple(second[:n]) if second else None,
        tuple(e["hand_boxes"][:n]),
        int(e["contact_frame"]),
    )


def load_dan_world(root: str | Path) -> DanWorld:
    """Read a world generated with ``python -m training.synthetic --dan-labels``."""
    root = Path(root)
    path = root / "annotations.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found (generate a world with --dan-labels)")
    raw = path.read_bytes()
    annots = json.loads(raw)
    if "dan_actions" not in annots:
        raise ValueError(f"{root} has no DAN labels: generate it with `python -m training.synthetic --dan-labels`")
    splits = {}
    for split in ("train", "test"):
        clips = [_clip(root, e) for e in annots[f"{split}_clips"]]
        splits[split] = tuple(c for c in clips if c is not None)
    return DanWorld(
        root,
        tuple(annots["dan_actions"]),
        tuple(annots["nouns"]),
        int(annots["generator"]["args"]["image_size"]),
        float(FPS),
        splits["train"],
        splits["test"],
        hashlib.sha256(raw).hexdigest(),
    )


def sample_frames(num_frames: int, segments: int, train: bool, rng: np.random.Generator | None = None) -> np.ndarray:
    """TSN sampling: one frame index from each of ``segments`` equal parts of the clip.

    Training draws uniformly inside each part, evaluation takes its middle; clips shorter than
    ``segments`` repeat frames.
    """
    if num_frames < 1 or segments < 1:
        raise ValueError(f"bad sampling request: {num_frames} frames, {segments} segments")
    edges = np.linspace(0, num_frames, segments + 1)
    if train:
        if rng is None:
            raise ValueError("training sampling needs a numpy Generator")
        pos = edges[:-1] + rng.random(segments) * (edges[1:] - edges[:-1])
    else:
        pos = (edges[:-1] + edges[1:]) / 2
    return np.clip(np.floor(pos).astype(np.int64), 0, num_frames - 1)


# ---------------------------------------------------------------------------------------------- cache
@dataclass(frozen=True)
class DanCacheKey:
    """Everything the cached DAN frame features depend on."""

    backbone: str
    backbone_sha256: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    annotations_sha256: str
    version: int = CACHE_VERSION


def cache_key(
    backbone_name: str,
    backbone: torch.nn.Module,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    world: DanWorld,
) -> DanCacheKey:
    return DanCacheKey(
        backbone_name, state_sha256(backbone), int(input_size), tuple(mean), tuple(std), world.annotations_sha256
    )


def default_cache(world_root: str | Path) -> Path:
    """Where a world's DAN feature cache lives unless a run names another folder."""
    return Path(world_root) / ".dan_cache"


def read_frames(paths: Sequence[Path], size: int) -> list[np.ndarray]:
    """RGB uint8 frames resized straight to size x size."""
    out = []
    for p in paths:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read frame {p}")
        out.append(cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_AREA))
    return out


class DanFeatureCache:
    """Backbone features of every frame: ``features(key)`` -> (F,d,h,w) float16 array of one clip."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / META).read_text(encoding="utf-8"))
        self.array = np.load(self.folder / "features.npy", mmap_mode="r")
        self.index: dict[str, tuple[int, int]] = {k: (int(o), int(n)) for k, (o, n) in self.meta["index"].items()}

    def load_into_memory(self) -> DanFeatureCache:
        self.array = np.asarray(self.array)
        return self

    def features(self, key: str) -> np.ndarray:
        offset, count = self.index[key]
        return self.array[offset : offset + count]

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape[1:])  # type: ignore[return-value]


def ensure_feature_cache(
    folder: str | Path,
    world: DanWorld,
    backbone_name: str,
    backbone: torch.nn.Module,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 32,
) -> DanFeatureCache:
    """Build (or reuse) the feature cache of every train and test frame of ``world`` in ``folder``."""
    folder = Path(folder)
    key = cache_key(backbone_name, backbone, input_size, mean, std, world)
    if cache_is_current(folder, key):
        return DanFeatureCache(folder)
    begin_build(folder, key)
    clips = list(world.train) + list(world.test)
    total = sum(c.num_frames for c in clips)
    probe = backbone(torch.zeros(1, 3, input_size, input_size))
    shape = (total, *probe.shape[1:])
    arr = np.lib.format.open_memmap(folder / "features.npy", mode="w+", dtype=np.float16, shape=shape)
    index: dict[str, tuple[int, int]] = {}
    jobs: list[Path] = []
    offset = 0
    for c in clips:
        index[c.key] = (offset, c.num_frames)
        offset += c.num_frames
        jobs.extend(c.frames)
    t0 = time.perf_counter()
    backbone.eval()
    with torch.no_grad():
        for s in range(0, total, batch_size):
            batch = to_input_batch(read_frames(jobs[s : s + batch_size], input_size), mean, std)
            arr[s : s + batch.shape[0]] = backbone(batch).numpy().astype(np.float16)
            if (s // batch_size) % 20 == 0:
                log.info("features %d/%d frames (%.0f s)", s + batch.shape[0], total, time.perf_counter() - t0)
    arr.flush()
    del arr
    finish_build(folder, key, index=index, frames=total)
    log.info("feature cache: %d frames %s in %.0f s -> %s", total, shape[1:], time.perf_counter() - t0, folder)
    return DanFeatureCache(folder)


class DanFeatureClips(Dataset):
    """(T,d,h,w) cached features of ``num_frames`` sampled frames per clip, with action and objects.

    Sampling is a pure function of (seed, epoch, index) in training; fixed in evaluation.
    """

    def __init__(
        self, cache: DanFeatureCache, clips: Sequence[DanClip], num_frames: int, train: bool, seed: int = 0
    ) -> None:
        self.cache = cache
        self.clips = list(clips)
        self.num_frames = num_frames
        self.train = train
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        clip = self.clips[index]
        rng = np.random.default_rng([self.seed, self.epoch, index]) if self.train else None
        idx = sample_frames(clip.num_frames, self.num_frames, self.train, rng)
        feats = np.asarray(self.cache.features(clip.key)[idx], dtype=np.float32)
        return {
            "features": torch.from_numpy(feats),
            "action": clip.action,
            "objects": torch.tensor(clip.objects, dtype=torch.long),
            "index": index,
        }
