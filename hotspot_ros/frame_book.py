"""What the node's parts share about frames: the counters, the latencies, one lock, throttled warnings.

Plain Python (no ROS): the logger is any object with ``warning(text, throttle_duration_sec=...)``.
"""

from __future__ import annotations

import threading
from typing import Any

from .latency import Counters, LatencyStats

WARN_REPEAT_S = 5.0  # a repeated warning of one kind is logged at most this often


class FrameBook:
    def __init__(self, logger: Any) -> None:
        self.lock = threading.Lock()  # guards the counters and the input caches (callbacks and workers)
        self.counters = Counters()
        self.latency = LatencyStats()
        self._logger = logger
        self._warned: set[str] = set()

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self.counters, name, getattr(self.counters, name) + n)

    def snapshot(self) -> Counters:
        with self.lock:
            return Counters(**self.counters.as_dict())

    def warn(self, key: str, text: str) -> None:
        """The first warning of each kind is always logged; repeats at most every WARN_REPEAT_S."""
        if key in self._warned:
            self._logger.warning(text, throttle_duration_sec=WARN_REPEAT_S)
        else:
            self._warned.add(key)
            self._logger.warning(text)
