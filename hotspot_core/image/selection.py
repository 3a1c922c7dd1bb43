"""Which detected objects to run the model on: objects at rest, not in a hand's grip.

Front-end independent: the ROS node, a CLI or a bag replay feed it plain boxes per frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from hotspot_core.image.boxes import Box, boxes_touch, iou

__all__ = ["Detection", "StabilityFilter", "in_contact", "split_hands"]


@dataclass(frozen=True)
class Detection:
    """One detector output in a front-end independent form.

    box: (x0, y0, x1, y1) source-image pixels (may be degenerate or non-finite: the pipeline counts those);
    class_id / score: the detector's best hypothesis ("" / 0.0 without one); detection_id: the tracking id
    when the detector gives one, else "". index: its position in the detector's message (-1: unknown);
    source_box: the detector's own box as received, in the front end's form (the ROS node: centre x, centre
    y, size x, size y, theta of vision_msgs/BoundingBox2D), passed through to the outputs untouched.
    """

    box: Box
    class_id: str = ""
    score: float = 0.0
    detection_id: str = ""
    index: int = -1
    source_box: tuple[float, ...] = ()


def split_hands(
    detections: Sequence[Detection], hand_detections: Sequence[Detection], hand_classes: Sequence[str]
) -> tuple[list[Box], list[Detection]]:
    """Hand boxes and object detections of one frame.

    A detection is a hand when its class is in ``hand_classes``; every entry of ``hand_detections`` (a
    separate hand detector) is a hand whatever its class.
    """
    hands = [d.box for d in detections if d.class_id in hand_classes] + [d.box for d in hand_detections]
    return hands, [d for d in detections if d.class_id not in hand_classes]


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
            len(self._history) == self.frames and all(self._present(frame, det_id, cls, box) for frame in self._history)
            for det_id, cls, box in objects
        ]
        self._history.append([(det_id, _Seen(cls, box)) for det_id, cls, box in objects])
        return flags
