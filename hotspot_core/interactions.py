"""What counts as an interaction: a hand reaching an object, using it and letting go.

One definition, shared by the node's demonstration mode (``hotspot_core.dan.demonstration``, live) and the
offline finder of demonstrations in recordings (``training.demonstrations``). Per frame the segmenter gets
the hand boxes and the object detections; a hand *touches* an object when its box grown by ``margin_px``
overlaps the object's box (``boxes_touch``; of several, the object with the largest overlap).

* an interaction starts after ``contact_frames`` consecutive frames with contact (its start is the first
  of them: a single touching frame, a hand passing over an object, is not an interaction);
* it ends after ``release_frames`` consecutive frames without contact (its release is the last frame
  with contact), so one missed detection does not split it;
* one interaction at a time: a new one needs the hand to let go first.

Its object is the one touched in most of its frames (the recording's finder files the interaction under
it); ``last_touched`` is the one touched last (what the node's demonstration mode reports).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from hotspot_core.image.boxes import Box, boxes_touch
from hotspot_core.image.selection import Detection, split_hands

__all__ = [
    "ContactRule",
    "Interaction",
    "InteractionSegmenter",
    "ObjectRef",
    "SegmenterStep",
    "demonstration_inputs",
    "object_key",
    "touching",
]

ObjectRef = tuple[str, str, Box]  # (detection / tracking id, class id, box)


@dataclass(frozen=True)
class ContactRule:
    """contact_frames: consecutive contact frames that start an interaction; release_frames: frames without
    contact that end it; margin_px: a hand box within this many pixels of an object box touches it."""

    contact_frames: int = 3
    release_frames: int = 2
    margin_px: float = 4.0

    def __post_init__(self) -> None:
        if self.contact_frames < 1 or self.release_frames < 1:
            raise ValueError("contact_frames and release_frames must be >= 1")
        if not self.margin_px >= 0.0:
            raise ValueError(f"margin_px must be >= 0, got {self.margin_px}")


def _usable(box: Box) -> bool:
    return all(math.isfinite(v) for v in box) and box[2] > box[0] and box[3] > box[1]


def demonstration_inputs(
    detections: Sequence[Detection], hand_detections: Sequence[Detection], hand_classes: Sequence[str]
) -> tuple[list[Box], list[ObjectRef]]:
    """A frame's detections as the segmenter wants them: hand boxes and (id, class, box) objects.

    Hands as in ``selection.split_hands``; boxes with a non-finite or empty extent are left out.
    """
    hands, objects = split_hands(detections, hand_detections, hand_classes)
    return ([h for h in hands if _usable(h)], [(d.detection_id, d.class_id, d.box) for d in objects if _usable(d.box)])


def touching(hands: Sequence[Box], objects: Sequence[ObjectRef], margin: float) -> ObjectRef | None:
    """The object (id, class, box) a hand touches (the one with the largest overlap), or None."""
    best, best_area = None, -1.0
    for det in objects:
        box = det[2]
        for h in hands:
            if boxes_touch(h, box, margin):
                area = max(0.0, min(h[2], box[2]) - max(h[0], box[0])) * max(0.0, min(h[3], box[3]) - max(h[1], box[1]))
                if area > best_area:
                    best, best_area = det, area
    return best


def object_key(obj: ObjectRef) -> str:
    """Which object a detection is across frames: its tracking id, or its class when the detector gives none."""
    return f"id:{obj[0]}" if obj[0] else f"class:{obj[1]}"


@dataclass
class InteractionFrame:
    stamp_ns: int
    hands: list[Box]
    touched: ObjectRef | None


@dataclass
class Interaction:
    """One interaction. start_ns: first frame of the contact run that started it; confirmed_ns: the frame
    that run reached ``contact_frames``; release_ns: last frame with contact; end_ns: the frame that ended
    it (``release_frames`` later), or the recording's last frame when it never ended (``complete`` False).
    frames: every frame from start to end with its hand boxes (only when the segmenter records frames)."""

    index: int
    start_ns: int
    confirmed_ns: int
    release_ns: int
    end_ns: int | None = None
    complete: bool = False
    frames: list[InteractionFrame] = field(default_factory=list)
    contacts: Counter = field(default_factory=Counter)  # object key -> frames touched
    seen: dict[str, ObjectRef] = field(default_factory=dict)  # object key -> latest detection touched

    @property
    def object(self) -> ObjectRef:
        """The object touched in most frames (ties: the one touched later), as last seen touched."""
        order = list(self.seen)  # insertion order follows first touch; re-inserted on each touch below
        key = max(order, key=lambda k: (self.contacts[k], order.index(k)))
        return self.seen[key]


@dataclass(frozen=True)
class SegmenterStep:
    """What one frame did. touched: the object a hand touches in it; in_interaction: the frame belongs to an
    interaction (started now, going on, or ended now); started / ended: the interaction that started or
    ended at this frame; frames: frames of the current interaction up to and with this one."""

    touched: ObjectRef | None
    in_interaction: bool
    started: Interaction | None = None
    ended: Interaction | None = None
    frames: int = 0


class InteractionSegmenter:
    """Feed frames in time order with ``update``; interactions come out as ``started`` / ``ended``.

    record_frames: keep every interaction frame's hand boxes (the offline finder); the node leaves it off so
    a hand resting on an object for hours holds no growing list.
    """

    def __init__(self, rule: ContactRule | None = None, record_frames: bool = False) -> None:
        self.rule = rule or ContactRule()
        self.record_frames = record_frames
        self.count = 0  # interactions started so far
        self.reset()

    def reset(self) -> None:
        """Forget any interaction in progress (the count of interactions stays)."""
        self._run: deque[InteractionFrame] = deque(maxlen=self.rule.contact_frames)  # current contact run
        self._release_run = 0
        self._current: Interaction | None = None
        self._frames = 0
        self._last_stamp: int | None = None
        self.last_touched: ObjectRef | None = None

    @property
    def active(self) -> bool:
        return self._current is not None

    def update(self, stamp_ns: int, hands: Sequence[Box], objects: Sequence[ObjectRef]) -> SegmenterStep:
        """One frame: its stamp, hand boxes and object detections (id, class, box), boxes (x0, y0, x1, y1)."""
        rule = self.rule
        stamp_ns = int(stamp_ns)
        self._last_stamp = stamp_ns
        det = touching(hands, objects, rule.margin_px)
        frame = InteractionFrame(stamp_ns, [tuple(h) for h in hands], det)  # type: ignore[misc]
        if det is not None:
            self._run.append(frame)
            self._release_run = 0
            self.last_touched = det
        else:
            self._run.clear()
            self._release_run += 1
        started = None
        if self._current is None:
            if len(self._run) < rule.contact_frames:
                return SegmenterStep(det, False)
            started = self._start()
        else:
            self._add(self._current, frame)
        self._frames += 1
        current = self._current
        assert current is not None
        if self._release_run >= rule.release_frames:
            current.end_ns, current.complete = stamp_ns, True
            self._current = None
            return SegmenterStep(det, True, started, current, self._frames)
        return SegmenterStep(det, True, started, None, self._frames)

    def finish(self) -> Interaction | None:
        """The end of the recording: the interaction still going on (never let go), closed incomplete."""
        current, self._current = self._current, None
        if current is not None:
            current.end_ns = self._last_stamp
        self._run.clear()
        return current

    def _start(self) -> Interaction:
        run = list(self._run)
        self.count += 1
        inter = Interaction(self.count, run[0].stamp_ns, run[-1].stamp_ns, run[-1].stamp_ns)
        for f in run:
            self._add(inter, f)
        self._current, self._frames = inter, len(run) - 1
        return inter

    def _add(self, inter: Interaction, frame: InteractionFrame) -> None:
        if self.record_frames:
            inter.frames.append(frame)
        if frame.touched is not None:
            key = object_key(frame.touched)
            inter.contacts[key] += 1
            inter.seen.pop(key, None)
            inter.seen[key] = frame.touched  # latest touch last: ties go to the later object
            inter.release_ns = frame.stamp_ns
