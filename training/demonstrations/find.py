"""Finding the demonstrations in a recording: every interaction (``hotspot_core.interactions``, the node's own
definition) with the object's crop at rest before the hand came, its clip frames, hand boxes and stamps.

Output folder (written into a temporary folder beside it, renamed at the end: a failed run leaves nothing
that looks finished)::

    interactions.json       the recording, the settings, counters and per interaction: stamps (start: first
                            contact frame, release: last contact frame), object (class, tracking id, box at
                            rest), the crop window, per clip frame its file, stamp, hand boxes and object box
                            (boxes in the window's pixels)
    labels.csv              id,start_s,end_s,object_class,track_id,verb  (verb left empty, to fill in;
                            seconds from the recording's first image)
    contact_sheet.png       each interaction at its first contact frame, numbered as in labels.csv
    NNNN/inactive.jpg       the object at rest (its box grown by 10 %) in the last frame before a hand came near
    NNNN/at_rest.jpg        that frame in the clip's window (the object with the context of the clip frames)
    NNNN/frames/image-%08d.jpg  the clip: ``pre_s`` before the first contact to ``post_s`` after the release,
                            cropped to the object's neighbourhood (a square ``context`` times the object's
                            longer side around its box at rest, the same window in every frame; clipped to
                            the frame when larger)
"""

from __future__ import annotations

import csv
import json
import os
import sys
from bisect import bisect_left
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hotspot_core.errors import ConfigError
from hotspot_core.image.boxes import Box, boxes_touch
from hotspot_core.image.detection_array import detections_from_msg
from hotspot_core.image.selection import Detection
from hotspot_core.interactions import ContactRule, Interaction, InteractionSegmenter, demonstration_inputs, object_key

from .bag import DETECTIONS_TYPE, IMAGE_TYPES, BagError, Topics, bag_topics, image_rgb, iter_messages
from .bag import stamp_ns as msg_stamp
from .sheet import contact_sheet
from .staging import check_empty, staged_folder

__all__ = ["FindConfig", "find_demonstrations"]

Window = tuple[int, int, int, int]


@dataclass(frozen=True)
class FindConfig:
    """topics / hand_classes / stamp_tolerance_s: as the node's parameters (detections and hands pair with an
    image by the closest stamp within the tolerance); contact: the interaction rule; pre_s / post_s: clip
    before the first contact and after the release; context: the crop window's side over the object's
    longer side; clear_frac: a hand within this fraction of the object's longer side means not at rest."""

    topics: Topics = field(default_factory=Topics)
    hand_classes: tuple[str, ...] = ("hand",)
    stamp_tolerance_s: float = 0.005
    # release after 4 frames, not the node's 2: offline there is no hurry to answer, and at 15 Hz a detector
    # missing the hand in one frame and the object in the next split 2 of 40 synthetic demonstrations
    contact: ContactRule = field(default_factory=lambda: ContactRule(contact_frames=3, release_frames=4))
    pre_s: float = 1.0
    post_s: float = 0.3
    context: float = 2.0
    clear_frac: float = 0.25
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if not (0 <= self.stamp_tolerance_s <= 1 and 0 <= self.pre_s <= 10 and 0 <= self.post_s <= 10):
            raise ConfigError("stamp_tolerance_s must be 0..1 s, pre_s and post_s 0..10 s")
        if not (1.0 <= self.context <= 10.0 and 0.0 <= self.clear_frac <= 2.0 and 1 <= self.jpeg_quality <= 100):
            raise ConfigError("context must be 1..10, clear_frac 0..2, jpeg_quality 1..100")


def warn(message: str) -> None:
    print(f"training.demonstrations: warning: {message}", file=sys.stderr)


class _ByStamp:
    """Messages' detections by stamp; ``match`` gives the closest within a tolerance."""

    def __init__(self) -> None:
        self.items: dict[int, list[Detection]] = {}
        self.stamps: list[int] = []

    def sort(self) -> None:
        self.stamps = sorted(self.items)

    def match(self, t: int, tol: int) -> list[Detection] | None:
        i = bisect_left(self.stamps, t)
        near = [s for s in self.stamps[max(0, i - 1) : i + 1] if abs(s - t) <= tol]
        return self.items[min(near, key=lambda s: abs(s - t))] if near else None


def _check_topics(bag: Path, cfg: FindConfig) -> bool:
    """Raise BagError when the image or detections topic is missing or of another type; True with a hand topic."""
    topics = bag_topics(bag)
    if not topics:
        raise BagError(f"{bag}: an empty recording (no topics, no messages)")
    listing = ", ".join(f"{t} ({ty})" for t, ty in sorted(topics.items())) or "none"
    for topic, wanted, flag in (
        (cfg.topics.image, IMAGE_TYPES, "--image-topic"),
        (cfg.topics.detections, (DETECTIONS_TYPE,), "--detections-topic"),
    ):
        if topic not in topics:
            raise BagError(f"{bag}: no topic {topic} ({' or '.join(wanted)}); topics in it: {listing} (see {flag})")
        if topics[topic] not in wanted:
            raise BagError(f"{bag}: topic {topic} carries {topics[topic]}, not {' or '.join(wanted)}")
    hands = topics.get(cfg.topics.hands)
    if hands is not None and hands != DETECTIONS_TYPE:
        raise BagError(f"{bag}: topic {cfg.topics.hands} carries {hands}, not {DETECTIONS_TYPE}")
    return hands is not None


def _grow(box: Box, k: float) -> Box:
    cx, cy, w, h = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, box[2] - box[0], box[3] - box[1]
    return (cx - w * k / 2, cy - h * k / 2, cx + w * k / 2, cy + h * k / 2)


def square_window(box: Box, context: float, w: int, h: int) -> Window:
    """A square of ``context`` times the box's longer side around it, moved inside the frame (clipped when larger)."""
    side = min(max(box[2] - box[0], box[3] - box[1]) * context, w, h)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(round(min(max(cx - side / 2, 0), w - side)))
    y0 = int(round(min(max(cy - side / 2, 0), h - side)))
    return x0, y0, x0 + int(round(side)), y0 + int(round(side))


def _crop(img: np.ndarray, box: Box) -> np.ndarray:
    h, w = img.shape[:2]
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    return img[y0:y1, x0:x1]


def _shift(box: Box, win: Window) -> list[float]:
    return [round(box[0] - win[0], 1), round(box[1] - win[1], 1), round(box[2] - win[0], 1), round(box[3] - win[1], 1)]


@dataclass
class _Frame:
    stamp: int
    rgb: np.ndarray
    hands: list[Box]
    objects: list[tuple[str, str, Box]]


@dataclass
class _Open:
    """An interaction being recorded: its frames so far and each object's last frame at rest before it."""

    inter: Interaction
    frames: list[_Frame]
    rest: dict[str, tuple[int, np.ndarray, Box]]
    post_left: int | None = None  # frames still to record after the release (None: not released yet)


class _Finder:
    """Feeds the segmenter, keeps what each interaction needs, writes it out when its clip is complete."""

    def __init__(self, out: Path, cfg: FindConfig, period_ns: int) -> None:
        self.out, self.cfg = out, cfg
        self.segmenter = InteractionSegmenter(cfg.contact, record_frames=True)
        self.pre = max(0, round(cfg.pre_s * 1e9 / period_ns))
        self.post = max(0, round(cfg.post_s * 1e9 / period_ns))
        self.ring: deque[_Frame] = deque(maxlen=self.pre + cfg.contact.contact_frames + 1)
        self.rest: dict[str, tuple[int, np.ndarray, Box]] = {}
        self.open: list[_Open] = []
        self.done: list[dict[str, Any]] = []
        self.tiles: list[tuple[np.ndarray, str]] = []
        self.first_stamp: int | None = None

    def add(self, f: _Frame) -> bool:
        """One paired frame; True when a hand touches an object in it."""
        self.first_stamp = f.stamp if self.first_stamp is None else self.first_stamp
        for det in f.objects:  # the at-rest memory: each object's last frame with no hand near it
            margin = self.cfg.clear_frac * max(det[2][2] - det[2][0], det[2][3] - det[2][1])
            if not any(boxes_touch(h, det[2], margin) for h in f.hands):
                self.rest[object_key(det)] = (f.stamp, f.rgb, det[2])
        self.ring.append(f)
        step = self.segmenter.update(f.stamp, f.hands, f.objects)
        for o in self.open:
            o.frames.append(f)
        if step.started is not None:  # its contact run is the ring's newest frames; up to ``pre`` before them
            ring = list(self.ring)
            run = sum(1 for g in ring if g.stamp >= step.started.start_ns)
            self.open.append(_Open(step.started, ring[-(self.pre + run) :], dict(self.rest)))
        if step.ended is not None:
            for o in self.open:
                if o.inter is step.ended:
                    o.post_left = self.post
        for o in list(self.open):
            if o.post_left == 0:
                self._close(o)
            elif o.post_left is not None:
                o.post_left -= 1
        return step.touched is not None

    def finish(self) -> None:
        unfinished = self.segmenter.finish()
        if unfinished is not None:
            warn(f"interaction {unfinished.index} still going on when the recording ends: kept, marked incomplete")
        for o in list(self.open):
            self._close(o)

    def _close(self, o: _Open) -> None:
        self.open.remove(o)
        inter, cfg = o.inter, self.cfg
        obj = inter.object
        key = object_key(obj)
        first = next(f for f in o.frames if f.stamp >= inter.start_ns)
        rest = o.rest.get(key)
        at_rest = rest is not None
        if rest is None:  # a hand near it since the recording began: the clip's first frame is the best there is
            rest = (o.frames[0].stamp, o.frames[0].rgb, obj[2])
        h, w = first.rgb.shape[:2]
        win = square_window(rest[2], cfg.context, w, h)
        n = len(self.done) + 1
        folder = self.out / f"{n:04d}"
        (folder / "frames").mkdir(parents=True)
        q = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]
        inactive = _crop(rest[1], _grow(rest[2], 1.1))
        cv2.imwrite(str(folder / "inactive.jpg"), cv2.cvtColor(inactive, cv2.COLOR_RGB2BGR), q)
        # the same moment in the clip's window: the object with the context the clip frames show, the image a
        # model trained on these clips learns from (build's default at-rest image)
        rest_window = rest[1][win[1] : win[3], win[0] : win[2]]
        cv2.imwrite(str(folder / "at_rest.jpg"), cv2.cvtColor(rest_window, cv2.COLOR_RGB2BGR), q)
        frames = []
        for i, f in enumerate(o.frames, start=1):
            name = "image-%08d.jpg" % i
            crop = f.rgb[win[1] : win[3], win[0] : win[2]]
            cv2.imwrite(str(folder / "frames" / name), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), q)
            box = next((d[2] for d in f.objects if object_key(d) == key), None)
            frames.append(
                {
                    "file": f"{n:04d}/frames/{name}",
                    "stamp_ns": f.stamp,
                    "hands": [_shift(b, win) for b in f.hands],
                    "object_box": None if box is None else _shift(box, win),
                }
            )
        t0 = self.first_stamp or 0
        record = {
            "id": n,
            "start_ns": inter.start_ns,
            "confirmed_ns": inter.confirmed_ns,
            "release_ns": inter.release_ns,
            "end_ns": inter.end_ns,
            "start_s": round((inter.start_ns - t0) / 1e9, 3),
            "end_s": round((inter.release_ns - t0) / 1e9, 3),
            "complete": inter.complete,
            "object": {"class": obj[1], "track_id": obj[0], "box": [round(float(v), 1) for v in rest[2]]},
            "contacts": dict(inter.contacts),
            "inactive": {
                "file": f"{n:04d}/inactive.jpg",
                "window_file": f"{n:04d}/at_rest.jpg",
                "stamp_ns": rest[0],
                "at_rest": at_rest,
            },
            "window": list(win),
            "contact_frame": o.frames.index(first),
            "frames": frames,
        }
        if not at_rest:
            warn(
                f"interaction {n}: {obj[1]} {obj[0]!r} never seen without a hand near it before: its inactive image has the hand"
            )
        self.done.append(record)
        self.tiles.append((self._tile(first, win, record), f"#{n} {obj[1]} {record['start_s']:.1f}s"))

    def _tile(self, f: _Frame, win: Window, record: dict[str, Any]) -> np.ndarray:
        """The first contact frame's window with the object's box (yellow) and the hands' (green)."""
        img = np.ascontiguousarray(f.rgb[win[1] : win[3], win[0] : win[2]])
        first = record["frames"][record["contact_frame"]]
        for boxes, colour in (
            ([first["object_box"]] if first["object_box"] else [], (255, 220, 0)),
            (first["hands"], (0, 255, 80)),
        ):
            for b in boxes:
                p = [int(round(v)) for v in b]
                cv2.rectangle(img, (p[0], p[1]), (p[2], p[3]), colour, 1)
        return img


def _write_labels(path: Path, records: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "start_s", "end_s", "object_class", "track_id", "verb"])
        for r in records:
            w.writerow(
                [r["id"], f"{r['start_s']:.3f}", f"{r['end_s']:.3f}", r["object"]["class"], r["object"]["track_id"], ""]
            )


def _read_detections(bag: Path, cfg: FindConfig, has_hand_topic: bool) -> tuple[_ByStamp, _ByStamp]:
    dets, hands = _ByStamp(), _ByStamp()
    topics = [cfg.topics.detections] + ([cfg.topics.hands] if has_hand_topic else [])
    for topic, _, msg in iter_messages(bag, topics):
        (dets if topic == cfg.topics.detections else hands).items[msg_stamp(msg)] = detections_from_msg(msg)
    dets.sort()
    hands.sort()
    return dets, hands


def find_demonstrations(
    bag: str | os.PathLike, out: str | os.PathLike, cfg: FindConfig | None = None
) -> dict[str, Any]:
    """Find the interactions in ``bag`` (an .mcap file or a rosbag2 folder) and write them under ``out``
    (absent or empty). Returns what ``interactions.json`` holds. Raises BagError on a recording it cannot use."""
    cfg = cfg or FindConfig()
    bag, out = Path(bag), Path(out)
    check_empty(out)
    has_hand_topic = _check_topics(bag, cfg)
    dets, hands = _read_detections(bag, cfg, has_hand_topic)
    if not has_hand_topic:
        warn(f"{bag}: no {cfg.topics.hands} topic: hands are the detections of classes {list(cfg.hand_classes)}")
    period = int(np.median(np.diff(dets.stamps))) if len(dets.stamps) > 1 else 66_666_667  # 15 Hz
    tol = int(round(cfg.stamp_tolerance_s * 1e9))

    with staged_folder(out) as tmp:
        finder = _Finder(tmp, cfg, max(1, period))
        counts = {"images": 0, "paired": 0, "no_detections": 0, "undecodable": 0, "with_hands": 0, "contacts": 0}
        last = None
        for _, type_name, msg in iter_messages(bag, [cfg.topics.image]):
            counts["images"] += 1
            t = msg_stamp(msg)
            d = dets.match(t, tol)
            if d is None:
                counts["no_detections"] += 1
                continue
            if last is not None and t <= last:
                continue  # out of order or repeated: the segmenter needs time order
            try:
                rgb = image_rgb(msg, type_name)
            except ValueError as exc:
                if counts["undecodable"] == 0:
                    warn(f"{bag}: image at {t} ns left out: {exc}")
                counts["undecodable"] += 1
                continue
            last = t
            counts["paired"] += 1
            hand_boxes, objects = demonstration_inputs(d, hands.match(t, tol) or [], cfg.hand_classes)
            counts["with_hands"] += bool(hand_boxes)
            counts["contacts"] += finder.add(_Frame(t, rgb, hand_boxes, objects))
        finder.finish()
        _check_counts(bag, cfg, counts, tol)
        if not finder.done:
            raise BagError(
                f"{bag}: no interactions found in {counts['paired']} frames ({counts['with_hands']} with a hand, "
                f"{counts['contacts']} with a hand touching an object)"
            )
        if counts["no_detections"]:
            warn(
                f"{bag}: {counts['no_detections']} of {counts['images']} images had no detections within {tol / 1e6:g} ms (left out)"
            )
        result = {
            "bag": str(bag),
            "topics": asdict(cfg.topics),
            "settings": {k: v for k, v in asdict(cfg).items() if k != "topics"},
            "first_stamp_ns": finder.first_stamp,
            "counts": counts,
            "interactions": finder.done,
        }
        _write_labels(tmp / "labels.csv", finder.done)
        cv2.imwrite(str(tmp / "contact_sheet.png"), cv2.cvtColor(contact_sheet(finder.tiles), cv2.COLOR_RGB2BGR))
        text = json.dumps(result, indent=1) + "\n"
        (tmp / "interactions.json").write_text(text, encoding="utf-8")
        result = json.loads(text)  # what the file holds (tuples as lists)
    return result


def _check_counts(bag: Path, cfg: FindConfig, counts: dict[str, int], tol: int) -> None:
    if counts["images"] == 0:
        raise BagError(f"{bag}: no images on {cfg.topics.image} (an empty recording)")
    if counts["paired"] == 0:
        why = (
            "undecodable"
            if counts["undecodable"]
            else f"without detections on {cfg.topics.detections} within {tol / 1e6:g} ms"
        )
        raise BagError(f"{bag}: none of the {counts['images']} images is usable ({why})")
    if counts["with_hands"] == 0:
        raise BagError(
            f"{bag}: no hand in any of the {counts['paired']} frames (hand topic {cfg.topics.hands}, "
            f"hand classes {list(cfg.hand_classes)})"
        )
