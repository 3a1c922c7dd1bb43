"""Frozen-backbone feature cache: run the backbone once, train the head on what it wrote many times.

The backbone is frozen and in eval mode (spec 1.1), so its outputs depend only on the input pixels. The
cache stores, per training clip and per *view*, the pooled features of the clip's real frames (T,C)
and the spatial features of its inactive image (C,h,w) -- everything ``compute_losses`` needs -- plus
the pooled negative image for the EPIC triplet loss. Pooled vectors are stored for every pool of
``hotspot_core.config.POOLS`` (L2 and average: cheap next to the backbone), so models that differ only
in their pooling share one cache.

Augmentation: training crops and flips are random per epoch, so a cache of one draw would remove them.
Instead ``views`` augmented draws are pre-computed per item, and view ``v`` of item ``i`` is exactly what
the dataset yields for item ``i`` in epoch ``v`` (its draws are a pure function of (seed, epoch, index)).
Epoch ``e`` reads view ``e % views``: with ``views >= epochs`` a cached run sees the very same inputs as
an uncached one; with fewer views the draws repeat cyclically. Spatial maps are stored as float16
(halves the disk and page-cache cost; the difference is far below the training noise), pooled vectors
as float32. Padding frames are never computed (the LSTM never reads them).

Fingerprint: backbone name, sha256 of the backbone weights, input size, augmentation settings (resize,
crop, flip, window length, frame stride, data seed, number of views), dataset name/split and the sha256
of ``annotations.json``. A cache whose fingerprint differs is rebuilt, with a log line naming what
changed. Under DDP every rank computes its share of the items into the same memory-mapped files, so
the cache folder must be visible to all ranks (one node, or a shared filesystem).

The folder mechanism is shared with the Dual Attention Network's per-frame cache (``training.dan.data``):
a key dataclass names everything the features depend on; ``meta.json`` holds its fingerprint, the key
itself and ``complete`` (written last, so an interrupted build is never read); ``cache_is_current``
decides hit / rebuild with a log line naming the changed fields; ``begin_build`` / ``finish_build``
bracket a build and only ever delete a folder that is a cache (has ``meta.json``) or is empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset

from hotspot_core.hotspots.config import POOLS
from hotspot_core.hotspots.model import spatial_pool

from .data.clips import ClipDatasetBase
from .distributed import DistInfo, barrier

log = logging.getLogger("training.feature_cache")

__all__ = [
    "CacheKey",
    "CachedClipFeatures",
    "ensure_feature_cache",
    "key_fingerprint",
    "key_diff",
    "read_meta",
    "cache_is_current",
    "begin_build",
    "finish_build",
    "META",
]

CACHE_VERSION = 2  # 2: pooled vectors per pool kind (pooled_l2.npy, pooled_avg.npy, ...)
AUGMENTATION = "shorter-side resize, one random crop per clip, clip-wide flip p=0.5; inactive: own crop/flip"
META = "meta.json"


class DataclassKey(Protocol):
    """A frozen dataclass of everything a cache's contents depend on (JSON-serialisable fields)."""

    __dataclass_fields__: dict[str, Any]


def key_fingerprint(key: DataclassKey) -> str:
    """Short sha256 of the key's fields (sorted JSON): equal fingerprints, interchangeable caches."""
    return hashlib.sha256(json.dumps(dataclasses.asdict(key), sort_keys=True).encode()).hexdigest()[:20]


def key_diff(key: DataclassKey, other: dict[str, Any]) -> list[str]:
    """Human-readable ``field: old -> new`` for every field of ``key`` that differs from ``other``."""
    mine = json.loads(json.dumps(dataclasses.asdict(key)))  # as meta.json holds it (tuples -> lists)
    out = []
    for k in sorted(set(mine) | set(other)):
        old, new = other.get(k), mine.get(k)
        if old != new:
            if isinstance(old, str) and len(old) > 16:
                old = old[:12] + "..."
            if isinstance(new, str) and len(new) > 16:
                new = new[:12] + "..."
            out.append(f"{k}: {old!r} -> {new!r}")
    return out


def read_meta(folder: str | Path) -> dict[str, Any] | None:
    """The folder's ``meta.json``; None when it is absent or unreadable."""
    try:
        return json.loads((Path(folder) / META).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def cache_is_current(folder: str | Path, key: DataclassKey, info: DistInfo | None = None) -> bool:
    """Whether ``folder`` holds a complete cache of ``key`` (else it must be built), with a log line.

    Under DDP rank 0 decides and tells the others (they must all call this).
    """
    folder = Path(folder)
    decision: list[bool | None] = [None]
    if info is None or info.is_main:
        fingerprint = key_fingerprint(key)
        meta = read_meta(folder) if (folder / META).is_file() else None
        if meta is not None and meta.get("fingerprint") == fingerprint and meta.get("complete"):
            log.info("feature cache hit: %s (fingerprint %s)", folder, fingerprint)
            decision[0] = True
        elif (folder / META).is_file():
            changed = key_diff(key, meta["key"]) if meta and meta.get("key") else ["unreadable or incomplete"]
            if meta and meta.get("key") and not changed:
                changed = ["incomplete"]
            log.info("feature cache %s is stale (%s): rebuilding", folder, "; ".join(changed))
            decision[0] = False
        else:
            log.info("feature cache %s: none yet, building (fingerprint %s)", folder, fingerprint)
            decision[0] = False
    if info is not None and info.distributed:
        dist.broadcast_object_list(decision, src=0)
    return bool(decision[0])


def begin_build(folder: str | Path, key: DataclassKey) -> Path:
    """Empty ``folder`` for a new build of ``key`` and mark it as an incomplete cache.

    Refuses to delete a non-empty folder that is not a cache (no ``meta.json``): a mistyped path must
    not cost anyone their files.
    """
    folder = Path(folder)
    if folder.exists():
        if not (folder / META).is_file() and any(folder.iterdir()):
            raise FileExistsError(f"{folder} is not empty and is not a feature cache (no {META}): not deleting it")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _write_meta(folder, key, complete=False)
    return folder


def finish_build(folder: str | Path, key: DataclassKey, **extra: Any) -> None:
    """Mark ``folder`` as a complete cache of ``key``; ``extra`` goes into ``meta.json`` too."""
    _write_meta(Path(folder), key, complete=True, **extra)


def _write_meta(folder: Path, key: DataclassKey, complete: bool, **extra: Any) -> None:
    meta = {"fingerprint": key_fingerprint(key), "key": dataclasses.asdict(key), "complete": complete, **extra}
    (folder / META).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class CacheKey:
    """Everything the cached clip features of ``train.py`` depend on."""

    backbone: str
    backbone_sha256: str
    input_size: int
    resize: int
    max_len: int
    sample_rate: int
    data_seed: int
    views: int
    dataset: str
    split: str
    annotations_sha256: str
    negatives: bool
    augmentation: str = AUGMENTATION
    version: int = CACHE_VERSION

    def fingerprint(self) -> str:
        return key_fingerprint(self)

    def diff(self, other: dict[str, Any]) -> list[str]:
        """Human-readable ``field: old -> new`` for every field that differs from ``other``."""
        return key_diff(self, other)


class CachedClipFeatures(Dataset):
    """Reads a built cache: item ``i`` of epoch ``e`` is view ``e % views`` of clip ``i``.

    pool: which pooled vectors to serve ('l2' or 'avg', the model's ``config.pool``).
    """

    def __init__(self, folder: str | Path, pool: str = "l2") -> None:
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        self.folder = Path(folder)
        with open(self.folder / META, encoding="utf-8") as f:
            self.meta = json.load(f)
        self.pooled = np.load(self.folder / f"pooled_{pool}.npy", mmap_mode="r")
        self.lengths = np.load(self.folder / "lengths.npy")
        self.verbs = np.load(self.folder / "verbs.npy")
        self.inactive = np.load(self.folder / "inactive.npy", mmap_mode="r")
        neg = self.folder / f"negative_{pool}.npy"
        self.negative = np.load(neg, mmap_mode="r") if self.meta["key"]["negatives"] else None
        self.views = int(self.meta["key"]["views"])
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    @property
    def labels(self) -> list[int]:
        return [int(v) for v in self.verbs]

    def __len__(self) -> int:
        return int(self.verbs.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        v = self.epoch % self.views
        item = {
            "pooled_frames": torch.from_numpy(np.array(self.pooled[index, v], dtype=np.float32)),
            "length": int(self.lengths[index, v]),
            "verb": int(self.verbs[index]),
            "inactive_features": torch.from_numpy(np.array(self.inactive[index, v], dtype=np.float32)),
        }
        if self.negative is not None:
            item["negative_pooled"] = torch.from_numpy(np.array(self.negative[index, v], dtype=np.float32))
        return item


def ensure_feature_cache(
    folder: str | Path,
    key: CacheKey,
    dataset: ClipDatasetBase,
    features: Callable[[torch.Tensor], torch.Tensor],
    info: DistInfo,
    batch_size: int = 16,
    num_workers: int = 0,
    progress: bool = False,
    pool: str = "l2",
) -> CachedClipFeatures:
    """Open the cache in ``folder``, building it first if it is absent or its fingerprint differs.

    ``features``: the frozen backbone, (N,3,S,S) normalised images -> (N,C,h,w) float32 on ``info.device``
    (``training.engine.BackboneRunner`` applies autocast and channels-last on CUDA).
    pool: the pooled vectors the returned dataset serves (every kind is cached).
    """
    folder = Path(folder)
    if not cache_is_current(folder, key, info):
        _build(folder, key, dataset, features, info, batch_size, num_workers, progress)
    barrier()
    return CachedClipFeatures(folder, pool)


def _build(
    folder: Path,
    key: CacheKey,
    dataset: ClipDatasetBase,
    features: Callable[[torch.Tensor], torch.Tensor],
    info: DistInfo,
    batch_size: int,
    num_workers: int,
    progress: bool,
) -> None:
    t0 = time.perf_counter()
    n, views, t_max = len(dataset), key.views, key.max_len
    probe = dataset[0]  # shapes only; its draw is epoch 0's, recomputed below like every other item
    with torch.no_grad():
        shape = tuple(features(probe["inactive"][None].to(info.device)).shape[1:])
    c = shape[0]
    if info.is_main:
        begin_build(folder, key)
        fmt = np.lib.format
        for kind in POOLS:
            fmt.open_memmap(folder / f"pooled_{kind}.npy", "w+", np.float32, (n, views, t_max, c)).flush()
            if key.negatives:
                fmt.open_memmap(folder / f"negative_{kind}.npy", "w+", np.float32, (n, views, c)).flush()
        fmt.open_memmap(folder / "inactive.npy", "w+", np.float16, (n, views, *shape)).flush()
        np.save(folder / "verbs.npy", np.asarray(dataset.labels, dtype=np.int64))
    barrier()
    pooled = {kind: np.load(folder / f"pooled_{kind}.npy", mmap_mode="r+") for kind in POOLS}
    inactive = np.load(folder / "inactive.npy", mmap_mode="r+")
    negative = (
        {kind: np.load(folder / f"negative_{kind}.npy", mmap_mode="r+") for kind in POOLS} if key.negatives else None
    )
    lengths = np.zeros((n, views), dtype=np.int64)
    mine = list(range(info.rank, n, info.world_size))
    iterator = range(views)
    if progress and info.is_main:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="caching views", unit="view")
    for v in iterator:
        dataset.set_epoch(v)  # view v = the draws of epoch v
        loader = DataLoader(
            Subset(dataset, mine),
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=_collate_for_cache,
        )
        pos = 0
        for batch in loader:
            idx = mine[pos : pos + len(batch["length"])]
            pos += len(idx)
            with torch.no_grad():
                real = torch.cat([f[:length] for f, length in zip(batch["frames"], batch["length"])])
                real_features = features(real.to(info.device)).float()
                frame_pooled = {kind: spatial_pool(real_features, kind).cpu().numpy() for kind in POOLS}
                inact = features(batch["inactive"].to(info.device)).float().cpu().numpy()
                if negative is not None:
                    neg_features = features(batch["negative"].to(info.device)).float()
                    neg = {kind: spatial_pool(neg_features, kind).cpu().numpy() for kind in POOLS}
            start = 0
            for j, (i, length) in enumerate(zip(idx, batch["length"])):
                for kind in POOLS:
                    pooled[kind][i, v, :length] = frame_pooled[kind][start : start + length]
                    pooled[kind][i, v, length:] = 0.0
                    if negative is not None:
                        negative[kind][i, v] = neg[kind][j]
                start += length
                lengths[i, v] = length
                inactive[i, v] = inact[j].astype(np.float16)
    for arr in (*pooled.values(), inactive, *(negative or {}).values()):
        arr.flush()
    np.save(folder / f"lengths.rank{info.rank}.npy", lengths)
    barrier()
    if info.is_main:
        total = np.zeros((n, views), dtype=np.int64)
        for r in range(info.world_size):
            part = folder / f"lengths.rank{r}.npy"
            total += np.load(part)
            part.unlink()
        np.save(folder / "lengths.npy", total)
        finish_build(folder, key, items=n, feature_shape=list(shape), build_seconds=round(time.perf_counter() - t0, 2))
        log.info(
            "feature cache %s built: %d clips x %d views, features %s, %.1f s",
            folder,
            n,
            views,
            list(shape),
            time.perf_counter() - t0,
        )


def _collate_for_cache(batch: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "frames": [b["frames"] for b in batch],
        "length": [int(b["length"]) for b in batch],
        "inactive": torch.stack([b["inactive"] for b in batch]),
        "negative": torch.stack([b["negative"] for b in batch]),
    }
