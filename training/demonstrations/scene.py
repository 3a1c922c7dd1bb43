"""A synthetic demonstration scene, recorded as a rosbag2 MCAP file: what a robot's camera would record while a
person uses the objects on a table in front of it.

The synthetic world's objects (``training.synthetic``: categories, parts, verbs, drawing) stand in a row on
a textured table, seen by a fixed camera. A drawn hand comes in from the bottom edge, reaches the part a
verb acts on, performs the verb (the world's part motions: caps turn, buttons press, lids and drawers pull,
objects lift), lets go and leaves; the table rests empty of hands between demonstrations. Every frame is
recorded as the node's inputs (``bag.Topics``): a raw rgb8 image, the objects' detections (boxes from the
drawing, jittered by ``jitter_px`` like a detector's, a tracking id per object, a detection missed now and
then) and the hand's detection on its own topic. Beside the bag, ``scene.json`` holds the ground truth: per
demonstration the object, verb, part and its box at rest, and the stamps of contact and release (the first
and last frame of the use phase: the hand on the part).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hotspot_core.errors import ConfigError
from training.synthetic.catalogue import CATEGORIES, CATEGORY_BY_NAME, VERBS
from training.synthetic.dan import hand_box_px, object_box_px
from training.synthetic.draw import (
    Instance,
    PartState,
    Pose,
    draw_hand,
    draw_object,
    make_instance,
    part_anchor_px,
    part_polygons_px,
    random_skin,
    textured_background,
)
from training.synthetic.render import ease_out, render_catalogue, verb_motion

from .bag import BagWriter, Topics
from .staging import staged_folder

__all__ = ["SceneConfig", "SCENE_BAG", "SCENE_TRUTH", "detection_box", "make_scene", "place_objects"]

SCENE_BAG, SCENE_TRUTH = "scene.mcap", "scene.json"
START_NS = 1_700_000_000 * 1_000_000_000  # the recording's first stamp (any wall-clock-like time)
DETECTOR_DELAY_NS = 20_000_000  # detections are logged this long after their image, as a detector's would be
GRIP_VERBS = ("hold", "pick up", "put down")


@dataclass(frozen=True)
class SceneConfig:
    """demos: demonstrations; objects: on the table (distinct categories); width/height: camera pixels;
    fps: frame rate; jitter_px: detector box noise (standard deviation per edge); miss_prob: chance a
    detection (object or hand) is missing from a frame; categories: the world's categories to pick from."""

    demos: int = 6
    seed: int = 0
    objects: int = 3
    width: int = 320
    height: int = 240
    fps: float = 15.0
    jitter_px: float = 2.0
    miss_prob: float = 0.02
    categories: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
    topics: Topics = field(default_factory=Topics)

    def __post_init__(self) -> None:
        problems = []
        if self.demos < 0:
            problems.append("demos must be >= 0")
        if not 1 <= self.objects <= 5:
            problems.append("objects must be 1..5")
        if self.width < 160 or self.height < 120:
            problems.append("the camera must be at least 160x120")
        if not 5.0 <= self.fps <= 60.0:
            problems.append("fps must be 5..60")
        if not 0.0 <= self.jitter_px <= 20.0 or not 0.0 <= self.miss_prob < 0.5:
            problems.append("jitter_px must be 0..20 and miss_prob 0..0.5")
        unknown = [c for c in self.categories if c not in CATEGORY_BY_NAME]
        if unknown:
            problems.append(f"unknown categories {unknown} (known: {sorted(CATEGORY_BY_NAME)})")
        elif len(set(self.categories)) < self.objects:
            problems.append(f"{self.objects} objects need as many distinct categories")
        if problems:
            raise ConfigError("scene: " + "; ".join(problems))


@dataclass
class _Object:
    track_id: str
    inst: Instance
    pose: Pose


def detection_box(
    inst: Instance, pose: Pose, states: dict[str, PartState] | None, w: int, h: int
) -> list[float] | None:
    """The object's box as the scene publishes it (clamped to the w x h camera); None when less than a pixel."""
    b = object_box_px(inst, pose, states, None)
    if b is None:
        return None
    x0, y0, x1, y1 = max(0.0, b[0]), max(0.0, b[1]), min(float(w), b[2]), min(float(h), b[3])
    return [x0, y0, x1, y1] if x1 - x0 >= 1 and y1 - y0 >= 1 else None


def _place_objects(cfg: SceneConfig, rng: np.random.Generator) -> list[_Object]:
    """Distinct categories in a row across the table, each in its own slot, room above for lifts."""
    names = [str(n) for n in rng.choice(list(cfg.categories), size=cfg.objects, replace=False)]
    return place_objects(names, cfg.width, cfg.height, rng)


def place_objects(names: list[str], W: int, H: int, rng: np.random.Generator) -> list[_Object]:
    """A new instance of each category in ``names``, in that order in a row of equal slots across a W x H
    camera's table, as the scene places its objects."""
    slot = W / len(names)
    objs = []
    for k, name in enumerate(names):
        inst = make_instance(CATEGORY_BY_NAME[name], rng)
        angle = math.radians(rng.uniform(-12, 12))
        ref = object_box_px(inst, Pose(0.0, 0.0, 100.0, angle), None, None)  # at 100 px per unit: the box's
        assert ref is not None  # 1 px pad is negligible
        unit = [v / 100.0 for v in ref]
        size = min(0.72 * slot / (unit[2] - unit[0]), 0.4 * H / (unit[3] - unit[1])) * rng.uniform(0.85, 1.0)
        # centre the object's box (not its origin) in the slot, a little off the middle of the table
        cx = slot * (k + 0.5) + rng.uniform(-0.06, 0.06) * slot - size * (unit[0] + unit[2]) / 2
        cy = H * rng.uniform(0.45, 0.52) - size * (unit[1] + unit[3]) / 2
        objs.append(_Object(f"{name}-{k + 1}", inst, Pose(cx, cy, size, angle)))
    return objs


def _height(verb: str, p: float) -> float:
    """The use phase's progress curve at p in [0, 1]: 0 at both ends, so the object is at rest after."""
    if verb == "pick up":  # slow lift, quick set-back
        return ease_out(p / 0.7) if p < 0.7 else 1.0 - (p - 0.7) / 0.3
    if verb == "put down":  # quick lift, slow lowering (verb_motion's put down runs from lifted to rest)
        return p / 0.25 if p < 0.25 else 1.0 - ease_out((p - 0.25) / 0.75)
    return math.sin(math.pi * p)


@dataclass
class _Demo:
    obj: int
    verb: str
    n_rest: int
    n_approach: int
    n_use: int
    n_leave: int
    start: np.ndarray  # hand tip off the frame
    skin: tuple[int, int, int]
    hand_size: float
    lift: float

    @property
    def frames(self) -> int:
        return self.n_rest + self.n_approach + self.n_use + self.n_leave


def _plan(cfg: SceneConfig, objs: list[_Object], rng: np.random.Generator) -> list[_Demo]:
    fps, W, H = cfg.fps, cfg.width, cfg.height
    demos = []
    for i in range(cfg.demos):
        k = int(rng.integers(0, len(objs)))
        cat = objs[k].inst.category
        verb = str(rng.choice([v for v in VERBS if v in cat.verbs]))
        anchor = part_anchor_px(objs[k].inst, objs[k].pose, cat.part(cat.verbs[verb]))
        hand_size = 0.17 * H * rng.uniform(0.9, 1.1)
        start = np.array([anchor[0] + rng.uniform(-0.2, 0.2) * W, H + 1.3 * hand_size])
        demos.append(
            _Demo(
                k,
                verb,
                n_rest=max(2, round(fps * rng.uniform(1.0 if i == 0 else 0.6, 1.4))),
                n_approach=max(3, round(fps * rng.uniform(0.5, 0.9))),
                n_use=max(6, round(fps * rng.uniform(1.0, 2.0))),
                n_leave=max(3, round(fps * rng.uniform(0.4, 0.7))),
                start=start,
                skin=random_skin(rng),
                hand_size=hand_size,
                lift=rng.uniform(0.12, 0.2),
            )
        )
    return demos


def _jitter(box: list[float], rng: np.random.Generator, sd: float, w: int, h: int) -> tuple[float, ...] | None:
    b = np.asarray(box) + rng.normal(0.0, sd, 4)
    b = np.clip(b, 0, [w, h, w, h])
    return tuple(round(float(v), 1) for v in b) if b[2] - b[0] >= 2 and b[3] - b[1] >= 2 else None


def make_scene(out: str | os.PathLike, cfg: SceneConfig) -> dict[str, Any]:
    """Write ``out/scene.mcap`` and ``out/scene.json`` (into a temporary folder renamed at the end, so an
    interrupted run leaves no scene). ``out`` must be absent or empty. Returns the ground truth."""
    with staged_folder(Path(out)) as tmp:
        return _record(tmp, cfg)


def _table_and_objects(cfg: SceneConfig) -> tuple[np.ndarray, list[_Object], np.random.Generator]:
    """The table (BGR, as the world draws), the objects on it, and the scene's random stream after them."""
    rng = np.random.default_rng([cfg.seed, 19])
    bg = textured_background(cfg.height, cfg.width, rng)
    return bg, _place_objects(cfg, rng), rng


def scene_config(truth: dict[str, Any]) -> SceneConfig:
    """The ``SceneConfig`` a scene was recorded with, from its ``scene.json``."""
    c = truth["config"]
    return SceneConfig(**{**c, "categories": tuple(c["categories"]), "topics": Topics(**c["topics"])})


def product_photos(cfg: SceneConfig, size: int = 256) -> dict[str, np.ndarray]:
    """Each object of the scene (by track id) drawn as a catalogue photo (RGB, ``size`` square, the world's
    ``render_catalogue``): the photo a user would take of it on a plain background. A diagnostic of the
    contact fit's at-rest images (``scripts/probes/demo_fit_probe.py``, section 4)."""
    out = {}
    for k, o in enumerate(_table_and_objects(cfg)[1]):
        img, _ = render_catalogue(o.inst, size, size, np.random.default_rng([cfg.seed, 21, k]))
        out[o.track_id] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return out


def _record(folder: Path, cfg: SceneConfig) -> dict[str, Any]:
    W, H = cfg.width, cfg.height
    bg, objs, rng = _table_and_objects(cfg)
    demos = _plan(cfg, objs, rng)
    period = round(1e9 / cfg.fps)
    det_rng = np.random.default_rng([cfg.seed, 20])  # the detector's noise: its own stream
    writer = BagWriter(folder / SCENE_BAG, cfg.topics)
    frame = 0
    truth_demos = []

    def emit(states: dict[int, tuple[Pose, dict[str, PartState]]], hand: tuple | None) -> int:
        nonlocal frame
        img = bg.copy()
        dets = []
        for k, o in enumerate(objs):
            pose, st = states.get(k, (o.pose, {}))
            draw_object(img, o.inst, pose, st)
            box = detection_box(o.inst, pose, st, W, H)
            if box is not None and det_rng.random() >= cfg.miss_prob:
                jb = _jitter(box, det_rng, cfg.jitter_px, W, H)
                if jb is not None:
                    dets.append((o.track_id, o.inst.category.name, round(det_rng.uniform(0.7, 0.99), 2), jb))
        hands = []
        if hand is not None:
            tip, u, size, skin, grip = hand
            draw_hand(img, tip, u, size, skin, grip)
            hb = hand_box_px(tip, u, size, None)  # type: ignore[arg-type]  # None: not clipped, clipped below
            if hb is not None and det_rng.random() >= cfg.miss_prob:
                jb = _jitter(hb, det_rng, cfg.jitter_px, W, H)
                if jb is not None:
                    hands.append(("hand-1", "hand", round(det_rng.uniform(0.7, 0.99), 2), jb))
        stamp = START_NS + frame * period
        writer.image(stamp, cv2.cvtColor(img, cv2.COLOR_BGR2RGB), stamp)
        writer.detections(cfg.topics.detections, stamp, dets, stamp + DETECTOR_DELAY_NS)
        writer.detections(cfg.topics.hands, stamp, hands, stamp + DETECTOR_DELAY_NS + 1_000_000)
        frame += 1
        return stamp

    try:
        for i, d in enumerate(demos):
            o = objs[d.obj]
            part = o.inst.category.part(o.inst.category.verbs[d.verb])
            for _ in range(d.n_rest):
                emit({}, None)
            rest_anchor = part_anchor_px(o.inst, o.pose, part)
            u = (rest_anchor - d.start) / np.linalg.norm(rest_anchor - d.start)
            grip_max = 1.0 if d.verb in GRIP_VERBS else 0.0
            in_ns = None
            for t in range(d.n_approach):
                tip = d.start + (rest_anchor - d.start) * ease_out(t / d.n_approach)
                s = emit({}, (tip, u, d.hand_size, d.skin, 0.0))
                in_ns = s if in_ns is None else in_ns
            use = []
            tip, hu = rest_anchor, u
            for t in range(d.n_use):
                q = _height(d.verb, t / (d.n_use - 1))
                st, dy, rot = verb_motion(d.verb, 1.0 - q if d.verb == "put down" else q, d.lift)
                fpose = Pose(o.pose.cx, o.pose.cy + dy * o.pose.size, o.pose.size, o.pose.angle)
                tip = part_anchor_px(o.inst, fpose, part, st)
                if d.verb == "touch":  # a swipe across the surface
                    tip = tip + np.array([-u[1], u[0]]) * 0.08 * o.pose.size * q
                c, s_ = math.cos(rot), math.sin(rot)
                hu = np.array([c * u[0] - s_ * u[1], s_ * u[0] + c * u[1]])
                grip = grip_max * min(1.0, 3 * min(t, d.n_use - 1 - t) / max(1, d.n_use - 1) + 0.5)
                use.append(emit({d.obj: (fpose, {part.name: st})}, (tip, hu, d.hand_size, d.skin, grip)))
            for t in range(1, d.n_leave + 1):
                a = (t / d.n_leave) ** 2  # eases away from the part
                emit({}, (tip + (d.start - tip) * a, hu, d.hand_size, d.skin, 0.0))
            part_pts = np.concatenate(part_polygons_px(o.inst, o.pose, part))
            truth_demos.append(
                {
                    "id": i + 1,
                    "track_id": o.track_id,
                    "class": o.inst.category.name,
                    "verb": d.verb,
                    "part": part.name,
                    "part_box": [round(float(v), 1) for v in (*part_pts.min(0), *part_pts.max(0))],
                    "hand_in_ns": in_ns,
                    "contact_start_ns": use[0],
                    "release_ns": use[-1],
                    "hand_out_ns": START_NS + (frame - 1) * period,
                }
            )
        for _ in range(max(2, round(cfg.fps * 0.8))):  # the table at rest to finish
            emit({}, None)
    finally:
        writer.close()
    truth = {
        "format": "interaction_hotspots demonstration scene",
        "version": 1,
        "config": {**asdict(cfg), "categories": list(cfg.categories)},
        "bag": SCENE_BAG,
        "image_size": [H, W],
        "fps": cfg.fps,
        "frames": frame,
        "start_ns": START_NS,
        "objects": [
            {"track_id": o.track_id, "class": o.inst.category.name, "box": detection_box(o.inst, o.pose, None, W, H)}
            for o in objs
        ],
        "interactions": truth_demos,
    }
    (folder / SCENE_TRUTH).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth
