"""Dual Attention Network labels for the synthetic world (``--dan-labels``; Xiao et al., ICCV 2019).

With ``WorldConfig.dan_labels`` the generator adds, on top of the OPRA-layout world:

* ``annotations["dan_actions"]``: ``VERBS`` followed by the two-object actions ("pour into", "put into").
* Two-object clips: a hand grips a source object and pours it into / puts it into a target object
  (``pour into``: bottle, kettle -> mug, pot, jar; ``put into``: jar, remote, phone, knife -> drawer, pot).
  Their OPRA ``verb`` is the grip verb (``pick up`` where the source affords it, else ``hold``), so the
  OPRA loaders still read the world.
* Single-object clips: with probability ``dan_extra_object_prob`` an untouched object of another
  category stands in the scene (recognition and localisation must find the *manipulated* object).
* Per clip entry: ``dan_action`` (index into ``dan_actions``), ``objects`` ``[noun, second noun or -1]``
  (-1: the null label of single-object actions), and for evaluation only: ``object_boxes`` (the
  manipulated object, one box per frame), ``second_object_boxes`` (the target of a two-object action,
  else null), ``hand_boxes`` (null while the hand is out of view), ``contact_frame`` (first frame with
  the hand on the object) and ``extra_object`` (``{"noun", "box"}`` of the untouched object, or null).
  Boxes are ``[x0, y0, x1, y1]`` in continuous pixel coordinates (x right, y down), clipped to the frame.

Everything draws from RNG streams of its own, so the regular clips' hands, objects and timing are the
ones a world without DAN labels has (only the added object differs).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .catalogue import CATEGORY_BY_NAME, VERBS, Category
from .config import FPS, WorldConfig, rng_stream
from .draw import (
    Instance,
    PartState,
    Pose,
    draw_distractors,
    draw_hand,
    draw_object,
    make_instance,
    part_anchor_px,
    part_polygons_px,
    random_skin,
    textured_background,
    with_dragged_parts,
)
from .render import ease_out, fit_in_frame

__all__ = [
    "Box",
    "TwoObjectAction",
    "TWO_OBJECT_ACTIONS",
    "DAN_ACTIONS",
    "NULL_OBJECT",
    "grip_verb",
    "object_box_px",
    "hand_box_px",
    "ClipRecord",
    "render_two_object_clip",
    "two_object_entries",
    "readme_lines",
]

Box = list[float]


@dataclass(frozen=True)
class TwoObjectAction:
    """An action on a source object (gripped and moved) and a target object (at rest)."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]


TWO_OBJECT_ACTIONS: dict[str, TwoObjectAction] = {
    "pour into": TwoObjectAction(("bottle", "kettle"), ("mug", "pot", "jar")),
    "put into": TwoObjectAction(("jar", "remote", "phone", "knife"), ("drawer", "pot")),
}
DAN_ACTIONS: tuple[str, ...] = VERBS + tuple(TWO_OBJECT_ACTIONS)
NULL_OBJECT = -1  # json value of the second object of a single-object action


def grip_verb(category: Category) -> str:
    """The OPRA verb a two-object clip is filed under: how the hand grips the source."""
    return "pick up" if "pick up" in category.verbs else "hold"


# ----------------------------------------------------------------------------------------------------
# Boxes.
# ----------------------------------------------------------------------------------------------------
def _clip_box(pts: np.ndarray, size: int | None, pad: float = 0.0) -> Box | None:
    """Bounding box of ``pts`` grown by ``pad``, clipped to a ``size`` frame (None: not clipped)."""
    x0, y0 = pts.min(0) - pad
    x1, y1 = pts.max(0) + pad
    if size is not None:
        x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(size), x1), min(float(size), y1)
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        return None
    return [round(float(x0), 1), round(float(y0), 1), round(float(x1), 1), round(float(y1), 1)]


def object_box_px(inst: Instance, pose: Pose, states: dict[str, PartState] | None, size: int | None) -> Box | None:
    """Box of every drawn part (animated and dragged parts where they are drawn), clipped to the frame."""
    states = with_dragged_parts(inst.category, states)
    pts = np.concatenate(
        [np.concatenate(part_polygons_px(inst, pose, p, states.get(p.name))) for p in inst.category.parts]
    )
    pad = max(sh.thickness for p in inst.category.parts for sh in p.shapes) * pose.size / 2 + 1.0
    return _clip_box(pts, size, pad)


def hand_box_px(tip: np.ndarray, direction: np.ndarray, hand_size: float, size: int) -> Box | None:
    """What a hand detector would box: palm, fingers, thumb and the wrist (not the whole forearm)."""
    u = direction / (np.linalg.norm(direction) + 1e-9)
    v = np.array([-u[1], u[0]])
    palm = tip - u * hand_size * 0.62
    pts = np.stack(
        [
            tip,
            palm - u * hand_size * 0.6,
            palm + v * hand_size * 0.4,
            palm - v * hand_size * 0.45,
            tip + v * hand_size * 0.2,
            tip - v * hand_size * 0.2,
        ]
    )
    return _clip_box(pts, size, pad=hand_size * 0.06)


def _boxes_overlap(a: Sequence[float], b: Sequence[float], margin: float = 0.0) -> bool:
    return min(a[2], b[2]) + margin > max(a[0], b[0]) and min(a[3], b[3]) + margin > max(a[1], b[1])


# ----------------------------------------------------------------------------------------------------
# Single-object clips: per-frame boxes and an optional untouched object (render_clip's ``record``).
# ----------------------------------------------------------------------------------------------------
class ClipRecord:
    """Collects a single-object clip's DAN labels while ``render_clip`` draws it."""

    def __init__(
        self, size: int, rng: np.random.Generator, others: Sequence[tuple[int, Category]], extra_prob: float
    ) -> None:
        self.size = size
        self.rng = rng
        self.others = list(others)
        self.extra_prob = extra_prob
        self.object_boxes: list[Box | None] = []
        self.hand_boxes: list[Box | None] = []
        self.contact_frame: int | None = None
        self.extra: dict[str, Any] | None = None

    def background(self, bg: np.ndarray, inst: Instance, pose: Pose, obj_size: float) -> None:
        """Maybe stand an untouched object of another category where the acted-on one never goes."""
        if not self.others or self.rng.random() >= self.extra_prob:
            return
        noun, cat = self.others[int(self.rng.integers(0, len(self.others)))]
        other = make_instance(cat, self.rng)
        main = object_box_px(inst, pose, None, self.size)
        if main is None:
            return
        grow = 0.2 * obj_size  # room for lifts, pulled drawers and turned caps
        main = [main[0] - grow, main[1] - grow, main[2] + grow, main[3] + grow]
        o_size = self.size * self.rng.uniform(0.2, 0.28)
        m = 0.02 * self.size
        for _ in range(32):
            o_pose = Pose(
                self.size * self.rng.uniform(0.1, 0.9),
                self.size * self.rng.uniform(0.1, 0.9),
                o_size,
                math.radians(self.rng.uniform(-20, 20)),
            )
            box = object_box_px(other, o_pose, None, None)
            if (
                box is None
                or min(box[0], box[1]) < m
                or max(box[2], box[3]) > self.size - m
                or _boxes_overlap(box, main, 4.0)
            ):
                continue
            draw_object(bg, other, o_pose)
            self.extra = {"noun": noun, "box": box}
            return

    def frame(
        self,
        inst: Instance,
        pose: Pose,
        states: dict[str, PartState],
        tip: np.ndarray,
        direction: np.ndarray,
        hand_size: float,
        contact: bool,
    ) -> None:
        self.object_boxes.append(object_box_px(inst, pose, states, self.size))
        self.hand_boxes.append(hand_box_px(tip, direction, hand_size, self.size))
        if contact and self.contact_frame is None:
            self.contact_frame = len(self.object_boxes) - 1

    def labels(self, verb: str, noun: int) -> dict[str, Any]:
        return {
            "dan_action": DAN_ACTIONS.index(verb),
            "objects": [noun, NULL_OBJECT],
            "object_boxes": self.object_boxes,
            "second_object_boxes": None,
            "hand_boxes": self.hand_boxes,
            "contact_frame": self.contact_frame if self.contact_frame is not None else len(self.object_boxes),
            "extra_object": self.extra,
        }


# ----------------------------------------------------------------------------------------------------
# Two-object clips.
# ----------------------------------------------------------------------------------------------------
def _receiving_point(dst: Instance, pose: Pose, states: dict[str, PartState], size: int) -> np.ndarray:
    """Where things go into the target: the pulled-out drawer front, else the top of the object."""
    if dst.category.name == "drawer":
        return part_anchor_px(dst, pose, dst.category.part("front"), states["front"])
    box = object_box_px(dst, pose, states, size)
    assert box is not None
    return np.array([(box[0] + box[2]) / 2, box[1]])


def render_two_object_clip(
    src: Instance, dst: Instance, action: str, nframes: int, size: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Frames of a hand gripping ``src`` and pouring it / putting it into ``dst``, plus per-frame boxes."""
    part = src.category.part(src.category.verbs[grip_verb(src.category)])
    bg = textured_background(size, size, rng)
    src_left = bool(rng.random() < 0.5)
    sx, dx = size * rng.uniform(0.2, 0.3), size * rng.uniform(0.68, 0.78)
    if not src_left:
        sx, dx = size - sx, size - dx
    src_pose = Pose(
        sx, size * rng.uniform(0.5, 0.62), size * rng.uniform(0.28, 0.36), math.radians(rng.uniform(-10, 10))
    )
    dst_pose = Pose(dx, size * rng.uniform(0.55, 0.66), size * rng.uniform(0.32, 0.4), math.radians(rng.uniform(-8, 8)))
    src_pose = fit_in_frame(src, src_pose, size, 0.0)
    dst_pose = fit_in_frame(dst, dst_pose, size, 0.0)
    mid = ((src_pose.cx + dst_pose.cx) / 2, (src_pose.cy + dst_pose.cy) / 2)
    reach = abs(dst_pose.cx - src_pose.cx) / 2 + 0.5 * max(src_pose.size, dst_pose.size)
    draw_distractors(bg, rng, (mid[0], mid[1], reach), int(rng.integers(2, 5)))
    dst_states = {"front": PartState(shift=0.22)} if dst.category.name == "drawer" else {}
    draw_object(bg, dst, dst_pose, dst_states)  # the target stays put: it is part of the background
    dst_box = object_box_px(dst, dst_pose, dst_states, size)

    side = 1.0 if dst_pose.cx > src_pose.cx else -1.0  # towards the target
    recv = _receiving_point(dst, dst_pose, dst_states, size)
    if action == "pour into":  # spout above the opening, body tipped towards it
        goal = recv + np.array([-side * 0.3 * src_pose.size, -0.45 * src_pose.size])
        tilt, shrink = side * math.radians(rng.uniform(85, 110)), 1.0
    else:  # lowered into the opening
        goal = recv + np.array([0.0, -0.05 * src_pose.size])
        tilt, shrink = side * math.radians(rng.uniform(-10, 10)), 0.75
    lift = 0.35 * src_pose.size

    anchor = part_anchor_px(src, src_pose, part)
    base_ang = math.atan2(1.0, -side * 0.6) + math.radians(rng.uniform(-20, 20))  # from below, away side
    u = np.array([math.cos(base_ang), math.sin(base_ang)])
    hand_size = float(np.clip(0.45 * src_pose.size, 0.08 * size, 0.2 * size))
    skin = random_skin(rng)
    start = anchor - u * size * rng.uniform(0.6, 0.8)
    n_approach = max(2, int(round(nframes * rng.uniform(0.35, 0.5))))

    frames, src_boxes, dst_boxes, hand_boxes = [], [], [], []
    for t in range(nframes):
        a = ease_out(t / n_approach)
        q = 0.0 if t < n_approach else (t - n_approach + 1) / max(1, nframes - n_approach)
        e = ease_out(q)
        centre = np.array([src_pose.cx, src_pose.cy]) + (goal - np.array([src_pose.cx, src_pose.cy])) * e
        centre[1] -= lift * math.sin(math.pi * min(1.0, q * 1.2)) * (1.0 - e)  # lift, carry, lower
        ang = src_pose.angle + tilt * max(0.0, (q - 0.4) / 0.6)
        fpose = Pose(float(centre[0]), float(centre[1]), src_pose.size * (1.0 - (1.0 - shrink) * e), ang)
        img = bg.copy()
        draw_object(img, src, fpose)
        contact = part_anchor_px(src, fpose, part)
        tip = start + (contact - start) * a if t < n_approach else contact
        rot = ang - src_pose.angle
        hu = np.array([math.cos(rot) * u[0] - math.sin(rot) * u[1], math.sin(rot) * u[0] + math.cos(rot) * u[1]])
        draw_hand(img, tip, hu, hand_size, skin, grip=q if t >= n_approach else 0.0)
        frames.append(img)
        src_boxes.append(object_box_px(src, fpose, None, size))
        dst_boxes.append(dst_box)
        hand_boxes.append(hand_box_px(tip, hu, hand_size, size))
    labels = {
        "object_boxes": src_boxes,
        "second_object_boxes": dst_boxes,
        "hand_boxes": hand_boxes,
        "contact_frame": n_approach,
        "extra_object": None,
    }
    return frames, labels


def two_object_entries(
    cfg: WorldConfig,
    prods: list,
    cat_name: str,
    pool: Sequence[str],
    key: int,
    write_frames: Callable[[list[str], list[np.ndarray]], None],
) -> list[dict[str, Any]]:
    """``cfg.dan_two_object_clips`` two-object clips with ``cat_name`` products as the source.

    ``prods``: the category's products (instance, catalogue image, ...); targets are fresh instances of
    the categories in ``pool`` (the split's categories). Returns their annotation entries.
    """
    nouns = list(cfg.categories)
    cat = CATEGORY_BY_NAME[cat_name]
    options = [
        (name, t)
        for name, act in TWO_OBJECT_ACTIONS.items()
        if cat_name in act.sources
        for t in act.targets
        if t in pool and t != cat_name
    ]
    if not options:
        return []
    entries = []
    t0 = [900.0] * len(prods)  # after every regular clip of the product: names never collide
    for j in range(cfg.dan_two_object_clips):
        rng = rng_stream(cfg.seed, 8, nouns.index(cat_name), key, j)
        p = j % len(prods)
        inst, image = prods[p][0], prods[p][1]
        action, target = options[(j + int(rng.integers(0, len(options)))) % len(options)]
        dst = make_instance(CATEGORY_BY_NAME[target], rng)
        nframes = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
        t0[p] += round(float(rng.uniform(1.0, 20.0)), 1)
        start, dur = f"{t0[p]:.1f}", f"{nframes / FPS:.1f}"
        t0[p] += nframes / FPS
        clip = ["synthetic", cat_name, image[2], start, dur]
        frames, labels = render_two_object_clip(inst, dst, action, nframes, cfg.image_size, rng)
        write_frames(clip, frames)
        verb = grip_verb(cat)
        entries.append(
            {
                "clip": clip,
                "nframes": nframes,
                "verb": VERBS.index(verb),
                "noun": nouns.index(cat_name),
                "image": image,
                "part": cat.verbs[verb],
                "dan_action": DAN_ACTIONS.index(action),
                "objects": [nouns.index(cat_name), nouns.index(target)],
                **labels,
            }
        )
    return entries


def readme_lines(annots: dict[str, Any]) -> list[str]:
    """README.txt section of a world made with --dan-labels."""
    clips = annots["train_clips"] + annots["test_clips"]
    two = sum(1 for e in clips if e["objects"][1] != NULL_OBJECT)
    extra = sum(1 for e in clips if e.get("extra_object"))
    # The path below is this module's old one (since removed): kept so worlds stay byte-identical.
    return [
        "",
        "DAN labels (--dan-labels, training/synthetic_dan.py): dan_actions = verbs + two-object actions "
        f"{list(TWO_OBJECT_ACTIONS)}.",
        f"  {two} two-object clips, {extra} single-object clips with an untouched second object.",
        "  Clip keys: dan_action, objects [noun, second noun or -1], object_boxes / second_object_boxes /",
        "  hand_boxes (per frame [x0, y0, x1, y1] pixels, evaluation only), contact_frame, extra_object.",
    ]
