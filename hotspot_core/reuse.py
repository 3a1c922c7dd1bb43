"""Result reuse: an object whose pixels have not changed keeps the hotspots computed for it earlier.

The model only runs on objects at rest, and objects at rest look the same frame after frame. A detector's
boxes do not stay put on a still scene, though: they move by a few pixels from frame to frame. So reuse is
keyed on the scene, not on the box. Per object the cache keeps the last result, the detection's box, the
crop box (padded, clamped ROI) the model ran on and a fingerprint of that crop: the crop area-averaged to
``fingerprint_size`` x ``fingerprint_size`` colour cells (sensor noise averages out). A new frame's
detection

* is the same object as a remembered one when it has the same class and its box overlaps the remembered
  detection box with IoU >= ``min_box_iou`` (and, with a tracking id, the same id): a tolerance that a
  jittering detector stays inside, not a test of change;
* reuses that object's result when the current image, cropped at the *remembered* crop box, still has the
  remembered fingerprint: no cell differs by more than ``max_difference`` grey levels (mean over the colour
  channels). The largest cell, not the average, so that a local change (a swapped object, a hand entering
  part of the crop) is seen. Because both fingerprints are taken at the same box, the detector's jitter
  does not enter the comparison, and a slow slide is caught once the object has moved from where it was
  computed (the comparison is always with the computation's crop, never with the previous frame's).
  Measured on the sample frames (12x12 cells, ``scripts/bench_reuse.py --measure``): sensor-like noise
  and JPEG re-encoding stay below the threshold, an object moved by 4 px exceeds it.

A reused result is published on the remembered crop box, unchanged: its maps were computed on exactly
those pixels, which are verified unchanged, so that is where they are true; re-anchoring them to a
jittering box would only move the peaks by the detector's noise. A result older than ``max_age_sec`` is
recomputed all the same, which bounds how long a change the fingerprint cannot see (one that keeps every
cell's mean colour, e.g. one fine texture replaced by another) can go unnoticed. Entries not seen for
``expire_sec`` (frame stamps) are forgotten, and at most ``max_entries`` are kept (least recently seen
dropped first), so memory stays bounded. Thread-safe: a front end may look up on one thread while another
stores fresh results.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hotspot_core.errors import ConfigError
from hotspot_core.image.boxes import Box, Roi, iou
from hotspot_core.image.selection import Detection
from hotspot_core.predictor import ObjectHotspots

__all__ = ["ReuseConfig", "ResultCache", "Reused", "difference", "fingerprint"]


@dataclass(frozen=True)
class ReuseConfig:
    enabled: bool = True
    min_box_iou: float = 0.5  # same object: detection box vs the remembered one (detector jitter tolerance)
    max_difference: float = 12.0  # largest fingerprint cell difference, grey levels (0-255)
    fingerprint_size: int = 12  # fingerprint cells per side
    expire_sec: float = 1.0  # forget an object not seen for this long (frame stamps)
    max_age_sec: float = 10.0  # recompute a result this old even if unchanged (0: never)
    max_entries: int = 64  # objects remembered at most

    def __post_init__(self) -> None:
        checks = [
            ("min_box_iou", 0.0 < self.min_box_iou <= 1.0, "in (0, 1]"),
            ("max_difference", 0.0 <= self.max_difference <= 255.0, "in [0, 255]"),
            ("fingerprint_size", 1 <= self.fingerprint_size <= 256, "in [1, 256]"),
            ("expire_sec", self.expire_sec >= 0.0, ">= 0"),
            ("max_age_sec", self.max_age_sec >= 0.0, ">= 0"),
            ("max_entries", self.max_entries >= 1, ">= 1"),
        ]
        for name, ok, want in checks:
            if not ok:
                raise ConfigError(f"ReuseConfig.{name} must be {want}, got {getattr(self, name)!r}")


def fingerprint(rgb: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """The crop ``roi`` of an HxWx3 uint8 image, area-averaged to size x size x 3 float32."""
    crop = rgb[roi.y0 : roi.y1, roi.x0 : roi.x1]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest per-cell difference of two fingerprints (mean absolute over the colour channels)."""
    return float(np.abs(a - b).mean(axis=2).max())


@dataclass
class Reused:
    """A remembered result (on the crop box it was computed on) and the stamp of the frame it was computed on."""

    hotspots: ObjectHotspots
    stamp_ns: int


@dataclass
class _Entry:
    detection_id: str
    class_id: str
    box: Box  # the detection's box
    fingerprint: np.ndarray  # of the crop the model ran on (hotspots.roi)
    hotspots: ObjectHotspots
    stamp_ns: int  # the frame the model ran on
    seen_ns: int  # the last frame this object was looked up in


class ResultCache:
    """Remembered results by object (see the module docstring)."""

    def __init__(self, config: ReuseConfig | None = None) -> None:
        self.config = config or ReuseConfig()
        self._lock = threading.Lock()
        self._by_id: dict[str, _Entry] = {}
        self._anonymous: list[_Entry] = []  # objects without a tracking id

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id) + len(self._anonymous)

    def configure(self, config: ReuseConfig) -> None:
        with self._lock:
            if not config.enabled or config.fingerprint_size != self.config.fingerprint_size:
                self._by_id, self._anonymous = {}, []  # remembered fingerprints no longer comparable
            self.config = config

    def clear(self) -> None:
        with self._lock:
            self._by_id, self._anonymous = {}, []

    def fingerprints(self, rgb: np.ndarray, rois: Sequence[Roi]) -> list[np.ndarray | None]:
        """The crops' fingerprints (None each when reuse is off: nothing to compute)."""
        if not self.config.enabled:
            return [None] * len(rois)
        return [fingerprint(rgb, roi, self.config.fingerprint_size) for roi in rois]

    def lookup(self, objects: Sequence[tuple[Detection, Roi]], rgb: np.ndarray, stamp_ns: int) -> list[Reused | None]:
        """Per object: the remembered result if the current image ``rgb`` is unchanged at the crop box it was
        computed on, else None (compute it). Also expires entries."""
        cfg = self.config
        if not cfg.enabled:
            return [None] * len(objects)
        out: list[Reused | None] = []
        with self._lock:
            self._expire(stamp_ns)
            used: set[int] = set()
            for det, _ in objects:
                entry = self._associate(det, used)
                if entry is None:
                    out.append(None)
                    continue
                used.add(id(entry))
                entry.seen_ns = max(entry.seen_ns, stamp_ns)
                out.append(Reused(entry.hotspots, entry.stamp_ns) if self._unchanged(entry, rgb) else None)
        return out

    def store(self, det: Detection, fp: np.ndarray | None, hotspots: ObjectHotspots, stamp_ns: int) -> None:
        """Remember a fresh result computed on the crop ``hotspots.roi`` (replaces what was remembered for the
        same object)."""
        if not self.config.enabled or fp is None:
            return
        with self._lock:
            self._remove(det)
            entry = _Entry(det.detection_id, det.class_id, det.box, fp, hotspots, stamp_ns, stamp_ns)
            if det.detection_id:
                self._by_id[det.detection_id] = entry
            else:
                self._anonymous.append(entry)
            entries = list(self._by_id.values()) + self._anonymous
            if len(entries) > self.config.max_entries:
                for old in sorted(entries, key=lambda e: e.seen_ns)[: len(entries) - self.config.max_entries]:
                    self._drop(old)

    def forget(self, det: Detection) -> None:
        """Drop what is remembered for this object (e.g. a hand touches it: it may change unseen)."""
        with self._lock:
            self._remove(det)

    # ---------------------------------------------------------------------------- internals (locked)
    def _matches(self, entry: _Entry, det: Detection) -> bool:
        return entry.class_id == det.class_id and iou(entry.box, det.box) >= self.config.min_box_iou

    def _unchanged(self, entry: _Entry, rgb: np.ndarray) -> bool:
        """The image at the entry's crop box still has the fingerprint the result was computed with."""
        roi = entry.hotspots.roi
        if roi.x1 > rgb.shape[1] or roi.y1 > rgb.shape[0]:  # another image size: not the same scene
            return False
        now = fingerprint(rgb, roi, self.config.fingerprint_size)
        return difference(now, entry.fingerprint) <= self.config.max_difference

    def _associate(self, det: Detection, used: set[int]) -> _Entry | None:
        """The remembered object this detection is: by tracking id, else the best-overlapping anonymous entry;
        same class and box IoU >= min_box_iou either way (a recycled id on another object is not the same)."""
        if det.detection_id:
            entry = self._by_id.get(det.detection_id)
            return entry if entry is not None and id(entry) not in used and self._matches(entry, det) else None
        best, best_iou = None, -1.0
        for entry in self._anonymous:
            if id(entry) in used or entry.class_id != det.class_id:
                continue
            overlap = iou(entry.box, det.box)
            if overlap >= self.config.min_box_iou and overlap > best_iou:
                best, best_iou = entry, overlap
        return best

    def _remove(self, det: Detection) -> None:
        if det.detection_id:
            self._by_id.pop(det.detection_id, None)
        else:
            self._anonymous = [e for e in self._anonymous if not self._matches(e, det)]

    def _drop(self, entry: _Entry) -> None:
        if entry.detection_id:
            self._by_id.pop(entry.detection_id, None)
        else:
            self._anonymous = [e for e in self._anonymous if e is not entry]

    def _expire(self, stamp_ns: int) -> None:
        limit = int(self.config.expire_sec * 1e9)
        for entry in list(self._by_id.values()) + self._anonymous:
            if abs(stamp_ns - entry.seen_ns) > limit:  # also a stamp far in the past: time went backwards
                self._drop(entry)
