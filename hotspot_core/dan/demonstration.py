"""Watching a person demonstrate an interaction: the ROS-free part of the node's demonstration mode.

The node feeds every processed frame (stamp, RGB image, hand boxes, object boxes) to
``DemonstrationRecognizer.add_frame``. It keeps the last ``clip_frames`` frames (resized to the model's
input, so the buffer stays small) and watches for a hand touching an object box, by the one definition
of an interaction (``hotspot_core.interactions``, shared with the offline finder of demonstrations):

* an interaction starts after ``contact_frames`` consecutive frames with contact;
* ``trigger='contact'`` recognises the clip right then; ``trigger='release'`` waits until the hand has
  let go for ``release_frames`` frames (the whole demonstration is in the clip), or until the buffer
  holds nothing but the interaction (a hand that never lets go still gets an answer);
* one result per interaction: a new one needs the hand to let go first.

The clip (the buffered frames, oldest first) goes through the DAN: action, object(s), attention maps of
every clip frame, the object's box on the last frame and the action's interval from the KL trimming.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hotspot_core.dan.predictor import DANPredictor, Recognition
from hotspot_core.image.boxes import Box
from hotspot_core.interactions import ContactRule, InteractionSegmenter, demonstration_inputs, touching

__all__ = [
    "TRIGGERS",
    "DemonstrationRecognizer",
    "DemonstrationResult",
    "DemonstrationSettings",
    "demonstration_inputs",
    "touching",
]

TRIGGERS = ("contact", "release")


@dataclass(frozen=True)
class DemonstrationSettings:
    """clip_frames: frames kept; contact_frames: consecutive contact frames that start an interaction;
    release_frames: frames without contact that end it; contact_margin_px: a hand box within this many
    pixels of an object box touches it; min_clip_frames: fewer buffered frames never trigger."""

    clip_frames: int = 16
    contact_frames: int = 3
    release_frames: int = 2
    contact_margin_px: float = 4.0
    trigger: str = "release"
    min_clip_frames: int = 4

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {TRIGGERS}, got {self.trigger!r}")
        if self.clip_frames < 2 or self.contact_frames < 1 or self.release_frames < 1 or self.min_clip_frames < 1:
            raise ValueError("clip_frames >= 2, contact_frames, release_frames and min_clip_frames >= 1")


@dataclass
class DemonstrationResult:
    """A recognised demonstration: the DAN's answer and the clip it came from.

    stamps_ns: stamps of the clip frames (oldest first; the attention maps follow this order).
    detection: (detection id, class id, box) of the object the hand touched last, if any.
    image_size: (H, W) of the source frames (the box is in these pixels).
    """

    recognition: Recognition
    stamps_ns: list[int]
    detection: tuple[str, str, Box] | None
    image_size: tuple[int, int]

    @property
    def clip_start_ns(self) -> int:
        return self.stamps_ns[0]

    @property
    def clip_end_ns(self) -> int:
        return self.stamps_ns[-1]

    @property
    def action_interval_ns(self) -> tuple[int, int]:
        """Stamps of the first and last frame of the action (temporal localisation), or of the clip."""
        t = self.recognition.temporal
        if t is None:
            return self.clip_start_ns, self.clip_end_ns
        return self.stamps_ns[t.start], self.stamps_ns[t.end - 1]


class DemonstrationRecognizer:
    """Clip buffer + hand-contact trigger + DAN recognition (see the module docstring)."""

    def __init__(self, predictor: DANPredictor, settings: DemonstrationSettings | None = None) -> None:
        self.predictor = predictor
        self.settings = settings or DemonstrationSettings()
        self._frames: deque[tuple[int, np.ndarray]] = deque(maxlen=self.settings.clip_frames)
        self._image_size: tuple[int, int] | None = None
        s = self.settings
        self._segmenter = InteractionSegmenter(ContactRule(s.contact_frames, s.release_frames, s.contact_margin_px))
        self._reported = False  # the interaction going on has been recognised
        self.recognitions = 0

    @classmethod
    def from_checkpoint(
        cls, path: str | os.PathLike, device: str = "cpu", settings: DemonstrationSettings | None = None
    ) -> DemonstrationRecognizer:
        from hotspot_core.dan.checkpoint import load_dan_checkpoint

        return cls(DANPredictor(load_dan_checkpoint(path), device=device), settings)

    def reset(self) -> None:
        """Forget the buffered frames and any interaction in progress."""
        self._frames.clear()
        self._image_size = None
        self._segmenter.reset()
        self._reported = False

    @property
    def buffered(self) -> int:
        return len(self._frames)

    @property
    def interacting(self) -> bool:
        return self._segmenter.active

    def add_frame(
        self, stamp_ns: int, rgb: np.ndarray, hands: Sequence[Box], objects: Sequence[tuple[str, str, Box]]
    ) -> DemonstrationResult | None:
        """Feed one frame (RGB uint8 HxWx3) with its hand boxes and object detections (id, class, box),
        boxes (x0, y0, x1, y1) in pixels. Returns a result when a demonstration is recognised."""
        size = tuple(rgb.shape[:2])
        if self._image_size is not None and size != self._image_size:
            self.reset()  # a new camera resolution: old frames no longer fit the boxes
        if self._frames and stamp_ns <= self._frames[-1][0]:
            return None  # out of order or repeated: the clip must stay in time order
        self._image_size = size  # type: ignore[assignment]
        self._frames.append((int(stamp_ns), self.predictor.prepare(rgb)))
        s = self.settings
        step = self._segmenter.update(stamp_ns, hands, objects)
        if step.started is not None:
            self._reported = False
        if not step.in_interaction:
            return None
        if step.ended is not None:
            fire = s.trigger == "release" and not self._reported
        elif s.trigger == "contact":
            fire = not self._reported
        else:
            fire = not self._reported and step.frames >= s.clip_frames
        if not fire or len(self._frames) < s.min_clip_frames:
            return None
        self._reported = True
        return self.recognise()

    def recognise(self) -> DemonstrationResult:
        """Run the DAN on the buffered clip now (whatever the trigger state)."""
        if not self._frames or self._image_size is None:
            raise RuntimeError("no frames buffered")
        stamps = [t for t, _ in self._frames]
        span = (stamps[-1] - stamps[0]) / 1e9
        fps = (len(stamps) - 1) / span if span > 0 else 0.0
        rec = self.predictor.recognise([f for _, f in self._frames], fps, image_size=self._image_size)
        self.recognitions += 1
        return DemonstrationResult(rec, stamps, self._segmenter.last_touched, self._image_size)
