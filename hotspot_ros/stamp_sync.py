"""Match detections to the camera image with the same stamp, from a short cache (no message_filters).

Plain Python over (stamp in nanoseconds, payload) pairs, so it is tested without ROS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class MatchCounts:
    """What happened to the images and detections that did not become frames (cumulative)."""

    images_unmatched: int = 0  # images that left the cache (evicted, cleared) without ever being matched
    images_duplicate_stamp: int = 0  # images replaced by a newer image with the same stamp
    time_jumps: int = 0  # backwards stamp jumps beyond the matching window (caches cleared)
    detections_cleared: int = 0  # detections waiting for an image when a time jump cleared the caches
    depth_missing: int = 0  # use_depth: frames that went on without depth (none paired within the wait)


class StampCache(Generic[T]):
    """The last ``size`` items by stamp; ``match`` returns the closest within ``tolerance_ns``.

    Each entry remembers whether it was ever matched, so that images which never became part of a
    frame are counted when they leave the cache. An item with a stamp already cached replaces it.
    """

    def __init__(self, size: int) -> None:
        self._items: deque[list] = deque(maxlen=size)  # [stamp, item, matched]
        self.matched_again = 0  # matches of an item that had been matched before

    def __len__(self) -> int:
        return len(self._items)

    def resize(self, size: int) -> int:
        """New capacity; returns how many never-matched items were dropped to fit."""
        dropped = list(self._items)[: max(0, len(self._items) - size)]
        self._items = deque(self._items, maxlen=size)
        return sum(not e[2] for e in dropped)

    def add(self, stamp_ns: int, item: T) -> tuple[int, bool]:
        """Cache ``item``; returns (never-matched items evicted for it, whether it replaced a same-stamp one)."""
        for e in self._items:
            if e[0] == stamp_ns:  # a re-sent or corrected message: the newer one wins
                replaced_unmatched = not e[2]
                e[1], e[2] = item, False
                return 0, replaced_unmatched
        evicted = self._items[0] if len(self._items) == self._items.maxlen else None
        self._items.append([stamp_ns, item, False])
        return int(evicted is not None and not evicted[2]), False

    def match(self, stamp_ns: int, tolerance_ns: int) -> T | None:
        best: list | None = None
        for e in self._items:
            d = abs(e[0] - stamp_ns)
            if d <= tolerance_ns and (best is None or d < abs(best[0] - stamp_ns)):
                best = e
        if best is None:
            return None
        self.matched_again += int(best[2])  # e.g. a detector that sent the same stamp twice
        best[2] = True
        return best[1]

    def newest_stamp(self) -> int | None:
        return max((e[0] for e in self._items), default=None)

    def unmatched(self) -> int:
        """Items in the cache that were never matched (they may still be)."""
        return sum(not e[2] for e in self._items)

    def clear(self) -> int:
        """Empty the cache; returns how many never-matched items that dropped."""
        n = self.unmatched()
        self._items.clear()
        return n


class FrameMatcher(Generic[T]):
    """Pairs each detection message with the image of the same stamp, plus depth and hands if wanted.

    Messages are opaque payloads with stamps. ``match`` returns the complete frames (image, detections,
    depth or None, hands or None) and the stamps of detections that will never match: an image newer by
    ``give_up_ns`` came and none matched, or more than ``size`` detections wait with no image at all.
    ``add_image`` keeps the books (``counts``): images that never became a frame, same-stamp images
    replaced, and backwards image time jumps beyond ``jump_ns`` (a bag replayed with --loop), after which
    every cache is cleared (older entries would match nothing of the new time line).

    Depth comes after its colour frame (a camera aligns it to colour first), so with ``use_depth`` and a
    ``depth_wait_ns`` a frame whose depth is not cached yet is held: it leaves with the depth of the closest
    stamp within ``depth_tolerance_ns`` when that arrives, and without depth (counted: ``depth_missing``)
    once a depth stamped later than that window has arrived (the stream is in order: its depth was lost)
    or after ``depth_wait_ns`` of ``now_ns`` (the depth stream stalled), whichever comes first.
    """

    def __init__(self, size: int, give_up_ns: int = 1_000_000_000, jump_ns: int = 3_000_000_000) -> None:
        self.size, self.give_up_ns, self.jump_ns = size, give_up_ns, max(jump_ns, give_up_ns)
        self.images, self.depths, self.hands = StampCache[T](size), StampCache[T](size), StampCache[T](size)
        self._detections: list[tuple[int, T]] = []
        self._held: list[tuple[int, T, T, T | None, int]] = []  # (stamp, image, detections, hands, held since)
        self.counts = MatchCounts()

    def resize(self, size: int) -> None:
        self.size = size
        self.counts.images_unmatched += self.images.resize(size)
        for cache in (self.depths, self.hands):
            cache.resize(size)

    def clear(self) -> int:
        """Empty every cache; returns how many waiting detections that dropped (images are counted here)."""
        self.counts.images_unmatched += self.images.clear()
        for cache in (self.depths, self.hands):
            cache.clear()
        # frames held for depth never became frames: their images count as unmatched, detections as dropped
        self.counts.images_unmatched += len(self._held)
        dropped, self._detections = len(self._detections) + len(self._held), []
        self._held = []
        return dropped

    def waiting_detections(self) -> int:
        return len(self._detections)

    def waiting_for_depth(self) -> int:
        """Frames matched (image + detections) and held until their depth arrives."""
        return len(self._held)

    def add_image(self, stamp_ns: int, msg: T) -> int | None:
        """Cache an image. Returns the size of a backwards time jump (ns) when it cleared the caches first
        (detections already waiting on the new time line, near this image's stamp, are kept)."""
        newest = self.images.newest_stamp()
        jump = None
        if newest is not None and newest - stamp_ns > self.jump_ns:
            jump = newest - stamp_ns
            self.counts.time_jumps += 1
            keep = [(t, d) for t, d in self._detections if abs(t - stamp_ns) <= self.jump_ns]
            self.counts.detections_cleared += self.clear() - len(keep)
            self._detections = keep
        evicted, replaced = self.images.add(stamp_ns, msg)
        self.counts.images_unmatched += evicted
        self.counts.images_duplicate_stamp += int(replaced)
        return jump

    def add_detections(self, stamp_ns: int, msg: T) -> None:
        self._detections.append((stamp_ns, msg))

    def match(
        self,
        tolerance_ns: int,
        use_depth: bool,
        use_hands: bool,
        depth_tolerance_ns: int | None = None,
        depth_wait_ns: int = 0,
        now_ns: int = 0,
    ) -> tuple[list[tuple], list[int]]:
        """Frames ready now (image, detections, depth or None, hands or None), in stamp order, and the stamps
        of detections given up. ``depth_tolerance_ns`` defaults to ``tolerance_ns``."""
        newest = self.images.newest_stamp()
        dtol = tolerance_ns if depth_tolerance_ns is None else depth_tolerance_ns
        frames, unmatched, keep = [], [], []
        candidates = [(t, image, det, hands, since) for t, image, det, hands, since in self._held]
        self._held = []
        for t, det in self._detections:
            image = self.images.match(t, tolerance_ns)
            if image is not None:
                hands = self.hands.match(t, tolerance_ns) if use_hands else None
                candidates.append((t, image, det, hands, now_ns))
            elif newest is not None and newest - t > self.give_up_ns:
                unmatched.append(t)
            else:
                keep.append((t, det))
        if len(keep) > self.size:  # detections with no images at all
            unmatched += [t for t, _ in keep[: len(keep) - self.size]]
            keep = keep[-self.size :]
        self._detections = keep
        for t, image, det, hands, since in candidates:
            depth = self.depths.match(t, dtol) if use_depth else None
            if depth is not None or not use_depth:
                frames.append((image, det, depth, hands))
                continue
            newest_depth = self.depths.newest_stamp()
            lost = newest_depth is not None and newest_depth - t > dtol
            if lost or now_ns - since >= depth_wait_ns or len(self._held) >= self.size:
                self.counts.depth_missing += 1
                frames.append((image, det, None, hands))
            else:
                self._held.append((t, image, det, hands, since))
        return frames, unmatched
