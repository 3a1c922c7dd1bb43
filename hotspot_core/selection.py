"""Which detected objects to run the model on: objects at rest, not in a hand's grip.

Front-end independent: the ROS node, a CLI or a bag replay feed it plain boxes per frame.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

from .boxes import boxes_touch

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def in_contact(box: Box, hands: Sequence[Box], margin: float) -> bool:
    """True when any hand box (grown by ``margin`` px) overlaps the object box."""
    return any(boxes_touch(h, box, margin) for h in hands)


@dataclass
class _Seen:
    class_id: str
    box: Box


class StabilityFilter:
    """An object is at rest when its box stayed put (IoU >= ``min_iou``) over the last ``frames`` frames.

    Objects are matched across frames by detection id when the detector gives one, else by class and the
    best IoU. ``frames`` = 0 disables the test (every object counts as at rest).
    """

    def __init__(self, frames: int = 0, min_iou: float = 0.8) -> None:
        self.frames = frames
        self.min_iou = min_iou
        self._history: deque[list[tuple[str, _Seen]]] = deque(maxlen=max(frames, 1))

    def configure(self, frames: int, min_iou: float) -> None:
        if frames != self.frames:
            self._history = deque(maxlen=max(frames, 1))
        self.frames, self.min_iou = frames, min_iou

    def _present(self, frame: list[tuple[str, _Seen]], det_id: str, class_id: str, box: Box) -> bool:
        if det_id:
            for other_id, seen in frame:
                if other_id == det_id:
                    return iou(seen.box, box) >= self.min_iou
        return any(seen.class_id == class_id and iou(seen.box, box) >= self.min_iou for _, seen in frame)

    def update(self, objects: Sequence[tuple[str, str, Box]]) -> list[bool]:
        """Feed one frame's (detection id, class id, box) list; returns at-rest flags in the same order."""
        if self.frames <= 0:
            return [True] * len(objects)
        flags = [
            len(self._history) == self.frames
            and all(self._present(frame, det_id, cls, box) for frame in self._history)
            for det_id, cls, box in objects
        ]
        self._history.append([(det_id, _Seen(cls, box)) for det_id, cls, box in objects])
        return flags
