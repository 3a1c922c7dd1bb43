"""Match detections to the camera image with the same stamp, from a short cache (no message_filters).

Plain Python over (stamp in nanoseconds, payload) pairs, so it is tested without ROS.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class StampCache(Generic[T]):
    """The last ``size`` items by stamp; ``match`` returns the closest within ``tolerance_ns``."""

    def __init__(self, size: int) -> None:
        self._items: deque[tuple[int, T]] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._items)

    def resize(self, size: int) -> None:
        self._items = deque(self._items, maxlen=size)

    def add(self, stamp_ns: int, item: T) -> None:
        self._items.append((stamp_ns, item))

    def match(self, stamp_ns: int, tolerance_ns: int) -> T | None:
        best: tuple[int, Any] | None = None
        for s, item in self._items:
            d = abs(s - stamp_ns)
            if d <= tolerance_ns and (best is None or d < best[0]):
                best = (d, item)
        return None if best is None else best[1]

    def newest_stamp(self) -> int | None:
        return self._items[-1][0] if self._items else None

    def clear(self) -> None:
        self._items.clear()
