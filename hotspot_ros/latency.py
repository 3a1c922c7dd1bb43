"""Counters and rolling per-stage latency statistics of the node (plain Python, no ROS)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

STAGES = ("preprocess", "inference", "postprocess", "publish", "total")


@dataclass
class Counters:
    """Everything the node drops or skips is counted here (and published on the stats topic)."""

    frames_received: int = 0
    detections_received: int = 0
    images_lost: int = 0  # gaps in publishers' sequence numbers: lost on the way or in the depth-1 queue
    images_missing: int = 0  # detections given up while an image publisher was matched (see the warning)
    frames_processed: int = 0
    frames_dropped_stale: int = 0
    frames_dropped_busy: int = 0
    images_bad_encoding: int = 0
    images_corrupt: int = 0
    detections_unmatched: int = 0
    boxes_degenerate: int = 0
    objects_in_contact_skipped: int = 0
    objects_moving_skipped: int = 0
    objects_filtered: int = 0
    objects_processed: int = 0
    objects_reused: int = 0
    depth_unusable: int = 0
    camera_info_missing: int = 0  # use_depth: frames processed before any camera_info arrived (no 3-D)
    camera_info_invalid: int = 0  # frames whose camera_info had no usable intrinsics (fx/fy <= 0, non-finite)
    peaks_without_depth: int = 0  # peaks with a depth image but no valid reading there (NaN/0): no position
    detections_without_id: int = 0  # detections with an empty id (outputs keyed by class and box order)
    overlays_rendered: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def add(self, counts: Mapping[str, int]) -> None:
        """Add a frame's counts (names as the fields)."""
        for name, value in counts.items():
            setattr(self, name, getattr(self, name) + value)


class LatencyStats:
    """Last ``window`` latencies of each stage, and the output rate.

    ``idle_after_s``: with no output for this long (the node sets its stats period) the rate is 0, not the
    last active rate, so an idle node does not report the rate it had before its input stopped.
    """

    def __init__(self, window: int = 200, idle_after_s: float = math.inf) -> None:
        self.idle_after_s = idle_after_s
        self._lock = threading.Lock()
        self._samples = {s: deque(maxlen=window) for s in STAGES}
        self._outputs: deque[float] = deque(maxlen=window)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._samples[stage].append(seconds * 1000.0)

    def add_frame(self, seconds: Mapping[str, float]) -> None:
        """One output frame: the seconds of every stage in STAGES, and the output time for the rate."""
        for stage in STAGES:
            self.add(stage, seconds[stage])
        self.output()

    def output(self) -> None:
        with self._lock:
            self._outputs.append(time.monotonic())

    def percentiles(self) -> dict[str, tuple[float, float]]:
        """Stage -> (p50, p95) in milliseconds (NaN before any sample)."""
        with self._lock:
            return {
                s: (float(np.percentile(v, 50)), float(np.percentile(v, 95))) if v else (float("nan"), float("nan"))
                for s, v in self._samples.items()
            }

    def rate_hz(self) -> float:
        """Outputs per second over the window; 0 once idle: no output for ``idle_after_s`` and for twice the
        last interval between outputs (a slow stream is not idle between two of its frames)."""
        with self._lock:
            if len(self._outputs) < 2:
                return 0.0
            span = self._outputs[-1] - self._outputs[0]
            silent = time.monotonic() - self._outputs[-1]
            if span <= 0 or silent > max(self.idle_after_s, 2.0 * (self._outputs[-1] - self._outputs[-2])):
                return 0.0
            return (len(self._outputs) - 1) / span
