"""A procedurally generated stand-in for OPRA, written in OPRA's on-disk layout and json schema.

    python -m training.synthetic_world --out DIR --seed 0 --split seen \
        --clips-per-category 6 --test-per-category 2 --image-size 256

Objects of several categories (mug, bottle, jar, kettle, knife, scissors, drawer, lamp, remote, radio,
pot, phone) are drawn with OpenCV from per-category part geometry (handle, cap, lid, button, knob, blade,
...) with random position, scale, rotation, mirroring, proportions and colours. Actions are OPRA's seven
verbs; each category maps the verbs it affords to the part the action needs (hold -> handle,
rotate -> cap/lid/knob, push -> button, pull -> knob/lid, touch -> blade/screen, ...).

* Clips: 256x256 frames at "5 fps" on a textured, cluttered background with distractor shapes; a drawn
  hand (skin-coloured palm, fingers, forearm) approaches the part the clip's verb needs and acts on it
  (the cap turns, the button sinks, the drawer comes out, the object is lifted / set down ...). Frames are
  written as the extracted JPGs (``frames/<ch>/<pl>/<vid>/<start>_<dur>.mp4/image-%08d.jpg``), and
  optionally as the source .mp4 under ``clips/``.
* Catalogue images (``images/<ch>/<pl>/<vid>/catalog.jpg``): the same object instance upright, no hand,
  clean light background, non-square (so row/column mix-ups show).
* ``train_images`` / ``test_images``: one entry per (catalogue image, afforded verb) with several
  annotators' points ``[row, col]`` jittered around the interaction part (spec 3.1, OPRA convention,
  ``transpose=False``), ``shape`` ``[H, W]``, and ~20% empty point lists as in OPRA. Extra keys
  (``noun``, ``part``, ``part_rows``, ``part_cols``) give the part's pixel box for checks.
* Splits: ``seen`` (train and test products are different instances of the same categories) and
  ``novel`` (test categories never appear in training; every test verb is afforded by some training
  category).

Everything is a pure function of ``--seed`` and the size flags: the same arguments give a byte-identical
``annotations.json`` and identical images.

``--dan-labels`` adds what the Dual Attention Network trains and is evaluated on (action and object labels,
two-object actions, untouched second objects, per-frame object and hand boxes): see
``training/synthetic_dan.py``. Without it the output is exactly what it was before that flag existed.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np

log = logging.getLogger("training.synthetic_world")

VERBS: tuple[str, ...] = ("hold", "touch", "rotate", "push", "pull", "pick up", "put down")
FPS = 5
GENERATOR_VERSION = 1

__all__ = [
    "VERBS", "CATEGORIES", "DEFAULT_NOVEL", "WorldConfig", "generate_world", "main", "Shape", "Part",
    "Category",
]


# ----------------------------------------------------------------------------------------------------
# Geometry: shapes in object coordinates (x right, y down, the object's larger extent is about 1).
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Shape:
    """A filled polygon (``thickness == 0``) or a stroked polyline, coloured by a palette role."""

    points: tuple[tuple[float, float], ...]
    role: str
    thickness: float = 0.0
    closed: bool = True


def rect(cx: float, cy: float, w: float, h: float, role: str) -> Shape:
    return Shape(((cx - w / 2, cy - h / 2), (cx + w / 2, cy - h / 2), (cx + w / 2, cy + h / 2),
                  (cx - w / 2, cy + h / 2)), role)


def rrect(cx: float, cy: float, w: float, h: float, r: float, role: str, n: int = 5) -> Shape:
    """Rounded rectangle with corner radius ``r``."""
    pts = []
    for (ox, oy), a0 in (((w / 2 - r, -h / 2 + r), -90), ((w / 2 - r, h / 2 - r), 0),
                         ((-w / 2 + r, h / 2 - r), 90), ((-w / 2 + r, -h / 2 + r), 180)):
        for k in range(n + 1):
            a = math.radians(a0 + 90 * k / n)
            pts.append((cx + ox + r * math.cos(a), cy + oy + r * math.sin(a)))
    return Shape(tuple(pts), role)


def ellipse(cx: float, cy: float, rx: float, ry: float, role: str, n: int = 28) -> Shape:
    return Shape(tuple((cx + rx * math.cos(2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n))
                       for k in range(n)), role)


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, t: float, role: str,
        n: int = 16) -> Shape:
    """Stroked elliptic arc from angle ``a0`` to ``a1`` degrees (image coordinates: y down)."""
    pts = tuple((cx + rx * math.cos(math.radians(a0 + (a1 - a0) * k / n)),
                 cy + ry * math.sin(math.radians(a0 + (a1 - a0) * k / n))) for k in range(n + 1))
    return Shape(pts, role, thickness=t, closed=False)


def line(x0: float, y0: float, x1: float, y1: float, t: float, role: str) -> Shape:
    return Shape(((x0, y0), (x1, y1)), role, thickness=t, closed=False)


def poly(points: Sequence[tuple[float, float]], role: str) -> Shape:
    return Shape(tuple(points), role)


@dataclass(frozen=True)
class Part:
    """A functional part: its shapes, interaction point, motion direction and dragged parts."""

    name: str
    shapes: tuple[Shape, ...]
    anchor: tuple[float, float]
    direction: tuple[float, float] = (0.0, 1.0)  # pull moves along +direction, push along -direction
    drags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Category:
    name: str
    parts: tuple[Part, ...]  # drawing order
    verbs: dict[str, str]  # verb -> part name

    def part(self, name: str) -> Part:
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)


def _categories() -> tuple[Category, ...]:
    cats = [
        Category("mug", (
            Part("body", (rect(0, 0.05, 0.56, 0.8, "body"), ellipse(0, -0.35, 0.28, 0.05, "dark"),
                          rect(0, 0.12, 0.56, 0.16, "accent")), (0.0, 0.1)),
            Part("handle", (arc(0.3, 0.03, 0.17, 0.22, -90, 90, 0.08, "body"),), (0.47, 0.03),
                 direction=(1.0, 0.0)),
        ), {"hold": "handle", "pick up": "handle", "put down": "body"}),
        Category("bottle", (
            Part("body", (rrect(0, 0.15, 0.42, 0.7, 0.06, "body"),
                          poly([(-0.21, -0.2), (0.21, -0.2), (0.08, -0.33), (-0.08, -0.33)], "body"),
                          rect(0, -0.35, 0.16, 0.06, "body"), rect(0, 0.15, 0.42, 0.26, "light")),
                 (0.0, 0.2)),
            Part("cap", (rect(0, -0.44, 0.22, 0.13, "accent"), line(0, -0.5, 0, -0.38, 0.03, "dark")),
                 (0.0, -0.44), direction=(0.0, -1.0)),
        ), {"rotate": "cap", "hold": "body", "pick up": "body"}),
        Category("jar", (
            Part("body", (rrect(0, 0.1, 0.72, 0.72, 0.1, "body"), rect(0, 0.12, 0.72, 0.3, "light")),
                 (0.0, 0.15)),
            Part("lid", (rect(0, -0.33, 0.78, 0.15, "accent"),) + tuple(
                line(x, -0.39, x, -0.27, 0.02, "dark") for x in (-0.28, -0.14, 0.0, 0.14, 0.28)),
                 (0.0, -0.33), direction=(0.0, -1.0)),
        ), {"rotate": "lid", "hold": "body", "put down": "body"}),
        Category("kettle", (
            Part("body", (ellipse(0, 0.14, 0.4, 0.33, "body"), rect(0, 0.44, 0.66, 0.07, "dark"),
                          poly([(-0.33, 0.02), (-0.6, -0.2), (-0.55, -0.24), (-0.26, 0.15)], "body")),
                 (0.0, 0.15)),
            Part("lid", (ellipse(0, -0.17, 0.2, 0.05, "accent"), rect(0, -0.24, 0.08, 0.07, "dark")),
                 (0.0, -0.24), direction=(0.0, -1.0)),
            Part("handle", (arc(0.05, -0.12, 0.34, 0.3, 200, 340, 0.08, "dark"),), (0.05, -0.42)),
            Part("switch", (rect(0.36, -0.1, 0.1, 0.07, "red"),), (0.36, -0.1), direction=(1.0, 0.0)),
        ), {"hold": "handle", "pick up": "handle", "push": "switch", "pull": "lid"}),
        Category("knife", (
            Part("blade", (poly([(-0.62, -0.01), (-0.5, -0.07), (0.08, -0.07), (0.08, 0.06),
                                 (-0.45, 0.06)], "metal"), line(-0.55, 0.04, 0.05, 0.04, 0.01, "light")),
                 (-0.28, 0.0)),
            Part("handle", (rrect(0.3, 0.0, 0.44, 0.14, 0.04, "accent"), ellipse(0.2, 0, 0.02, 0.02, "light"),
                            ellipse(0.4, 0, 0.02, 0.02, "light")), (0.3, 0.0), direction=(1.0, 0.0)),
        ), {"hold": "handle", "pick up": "handle", "touch": "blade"}),
        Category("scissors", (
            Part("blade", (poly([(0.02, -0.03), (-0.62, -0.1), (-0.6, -0.05), (0.02, 0.03)], "metal"),
                           poly([(0.02, 0.03), (-0.62, 0.1), (-0.6, 0.05), (0.02, -0.03)], "metal"),
                           ellipse(0.0, 0.0, 0.03, 0.03, "dark")), (-0.3, 0.0)),
            Part("handle", (arc(0.26, -0.13, 0.13, 0.09, 0, 360, 0.05, "accent", n=24),
                            arc(0.26, 0.13, 0.13, 0.09, 0, 360, 0.05, "accent", n=24),
                            line(0.02, -0.03, 0.14, -0.1, 0.05, "accent"),
                            line(0.02, 0.03, 0.14, 0.1, 0.05, "accent")), (0.3, 0.0), direction=(1.0, 0.0)),
        ), {"hold": "handle", "pick up": "handle", "touch": "blade"}),
        Category("drawer", (
            Part("cabinet", (rect(0, 0, 0.9, 0.9, "body"),), (0.0, 0.0)),
            Part("top_front", (rect(0, -0.2, 0.76, 0.34, "light"),), (0.0, -0.2)),
            Part("front", (rect(0, 0.2, 0.76, 0.34, "light"), line(-0.3, 0.2, 0.3, 0.2, 0.02, "dark")),
                 (0.0, 0.22), direction=(0.0, 1.0)),
            Part("knob", (ellipse(0, -0.2, 0.06, 0.06, "metal"), ellipse(0, -0.2, 0.025, 0.025, "dark")),
                 (0.0, -0.2), direction=(0.0, 1.0), drags=("top_front",)),
        ), {"pull": "knob", "push": "front"}),
        Category("lamp", (
            Part("base", (ellipse(0, 0.44, 0.3, 0.06, "dark"),), (0.0, 0.44)),
            Part("stem", (line(0, 0.42, 0.06, -0.12, 0.05, "metal"),), (0.03, 0.16)),
            Part("shade", (poly([(-0.12, -0.48), (0.16, -0.48), (0.32, -0.14), (-0.26, -0.14)], "accent"),
                           ellipse(0.03, -0.14, 0.29, 0.03, "light")), (0.03, -0.31)),
            Part("button", (ellipse(0.19, 0.42, 0.045, 0.03, "red"),), (0.19, 0.41), direction=(0.0, -1.0)),
        ), {"push": "button", "rotate": "shade", "hold": "stem"}),
        Category("remote", (
            Part("body", (rrect(0, 0, 0.3, 1.0, 0.08, "dark"),) + tuple(
                ellipse(x, y, 0.035, 0.03, "light") for y in (0.0, 0.12, 0.24) for x in (-0.07, 0.07)),
                 (0.0, 0.3)),
            Part("button", (ellipse(0, -0.36, 0.055, 0.055, "red"),), (0.0, -0.36)),
        ), {"push": "button", "hold": "body", "pick up": "body"}),
        Category("radio", (
            Part("handle", (arc(0, -0.2, 0.36, 0.22, 180, 360, 0.05, "dark"),), (0.0, -0.42)),
            Part("box", (rrect(0, 0.12, 1.0, 0.6, 0.05, "body"), rect(-0.2, 0.12, 0.46, 0.46, "dark")) + tuple(
                ellipse(-0.2 + dx, 0.12 + dy, 0.02, 0.02, "metal")
                for dx in (-0.14, 0.0, 0.14) for dy in (-0.14, 0.0, 0.14)), (0.0, 0.12)),
            Part("knob", (ellipse(0.3, 0.03, 0.1, 0.1, "metal"), line(0.3, 0.03, 0.3, -0.06, 0.025, "dark")),
                 (0.3, 0.03)),
            Part("button", (rect(0.3, 0.3, 0.14, 0.07, "red"),), (0.3, 0.3)),
        ), {"rotate": "knob", "push": "button", "pick up": "handle"}),
        Category("pot", (
            Part("body", (rect(-0.15, 0.17, 0.62, 0.42, "metal"), rect(-0.15, 0.36, 0.62, 0.04, "dark")),
                 (-0.15, 0.2)),
            Part("lid", (ellipse(-0.15, -0.05, 0.34, 0.06, "accent"), rect(-0.15, -0.13, 0.1, 0.07, "dark")),
                 (-0.15, -0.13), direction=(0.0, -1.0)),
            Part("handle", (line(0.17, 0.06, 0.62, 0.0, 0.08, "dark"),), (0.45, 0.02), direction=(1.0, 0.0)),
        ), {"hold": "handle", "pick up": "handle", "pull": "lid", "put down": "handle"}),
        Category("phone", (
            Part("body", (rrect(0, 0, 0.5, 1.0, 0.07, "dark"),), (0.22, 0.1)),
            Part("screen", (rect(0, -0.04, 0.42, 0.78, "light"),), (0.0, -0.08)),
            Part("button", (ellipse(0, 0.43, 0.045, 0.045, "metal"),), (0.0, 0.43)),
        ), {"touch": "screen", "push": "button", "hold": "body", "pick up": "body"}),
    ]
    for c in cats:
        for verb, part in c.verbs.items():
            assert verb in VERBS, (c.name, verb)
            c.part(part)
    return tuple(cats)


CATEGORIES: tuple[Category, ...] = _categories()
CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}
DEFAULT_NOVEL: tuple[str, ...] = ("kettle", "scissors", "radio")


# ----------------------------------------------------------------------------------------------------
# Instances, poses and rendering.
# ----------------------------------------------------------------------------------------------------
def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    px = np.uint8([[[int(h) % 180, int(s * 255), int(v * 255)]]])
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


@dataclass(frozen=True)
class Instance:
    """One product: category, proportions, mirroring and colours (shared by its clips and images)."""

    category: Category
    sx: float
    sy: float
    mirror: bool
    palette: dict[str, tuple[int, int, int]]


def make_instance(category: Category, rng: np.random.Generator) -> Instance:
    hue = rng.uniform(0, 180)
    palette = {
        "body": _hsv(hue, rng.uniform(0.35, 0.9), rng.uniform(0.45, 0.95)),
        "accent": _hsv(hue + rng.uniform(50, 130), rng.uniform(0.5, 0.95), rng.uniform(0.4, 0.9)),
        "dark": _hsv(rng.uniform(0, 180), rng.uniform(0, 0.4), rng.uniform(0.1, 0.3)),
        "metal": _hsv(rng.uniform(90, 120), rng.uniform(0, 0.12), rng.uniform(0.6, 0.85)),
        "light": _hsv(rng.uniform(0, 180), rng.uniform(0.0, 0.2), rng.uniform(0.85, 1.0)),
        "red": _hsv(rng.uniform(-6, 6), rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)),
    }
    return Instance(category, float(rng.uniform(0.88, 1.12)), float(rng.uniform(0.88, 1.12)),
                    bool(rng.random() < 0.5), palette)


@dataclass(frozen=True)
class Pose:
    """Object placement in pixels: centre, size (px per object unit), rotation (radians)."""

    cx: float
    cy: float
    size: float
    angle: float


@dataclass
class PartState:
    """Per-frame animation state of a part (in object units / radians)."""

    angle: float = 0.0
    shift: float = 0.0  # along the part's direction
    scale: float = 1.0
    shade: float = 1.0  # colour multiplier (pressed buttons darken, touched screens brighten)


def obj_to_px(inst: Instance, pose: Pose, pts: np.ndarray) -> np.ndarray:
    """(N,2) object coordinates -> (N,2) pixel (x, y)."""
    x = pts[:, 0] * inst.sx * (-1.0 if inst.mirror else 1.0) * pose.size
    y = pts[:, 1] * inst.sy * pose.size
    c, s = math.cos(pose.angle), math.sin(pose.angle)
    return np.stack([pose.cx + c * x - s * y, pose.cy + s * x + c * y], axis=1)


def _part_points(part: Part, shape: Shape, st: PartState | None) -> np.ndarray:
    pts = np.asarray(shape.points, dtype=np.float64)
    if st is None:
        return pts
    ax, ay = part.anchor
    d = pts - (ax, ay)
    c, s = math.cos(st.angle), math.sin(st.angle)
    d = st.scale * np.stack([c * d[:, 0] - s * d[:, 1], s * d[:, 0] + c * d[:, 1]], axis=1)
    return d + (ax + st.shift * part.direction[0], ay + st.shift * part.direction[1])


def part_anchor_px(inst: Instance, pose: Pose, part: Part, st: PartState | None = None) -> np.ndarray:
    a = np.asarray([part.anchor], dtype=np.float64)
    if st is not None:
        a = a + (st.shift * part.direction[0], st.shift * part.direction[1])
    return obj_to_px(inst, pose, a)[0]


def part_polygons_px(inst: Instance, pose: Pose, part: Part, st: PartState | None = None) -> list[np.ndarray]:
    return [obj_to_px(inst, pose, _part_points(part, sh, st)) for sh in part.shapes]


def _shade(colour: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(v * k, 0, 255)) for v in colour)  # type: ignore[return-value]


def draw_object(
    img: np.ndarray, inst: Instance, pose: Pose, states: dict[str, PartState] | None = None
) -> None:
    """Draw all parts in order; ``states`` animate parts (dragged parts follow their driver)."""
    states = dict(states or {})
    for p in inst.category.parts:
        for dragged in p.drags:
            if p.name in states:
                states.setdefault(dragged, states[p.name])
    for p in inst.category.parts:
        st = states.get(p.name)
        for sh in p.shapes:
            pts = obj_to_px(inst, pose, _part_points(p, sh, st))
            colour = inst.palette[sh.role]
            if st is not None:
                colour = _shade(colour, st.shade)
            ip = np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)  # 4 fractional bits
            if sh.thickness > 0:
                t = max(1, int(round(sh.thickness * pose.size)))
                cv2.polylines(img, [ip], sh.closed, _shade(colour, 0.55), t + 2, cv2.LINE_AA, shift=4)
                cv2.polylines(img, [ip], sh.closed, colour, t, cv2.LINE_AA, shift=4)
            else:
                cv2.fillPoly(img, [ip], colour, cv2.LINE_AA, shift=4)
                cv2.polylines(img, [ip], True, _shade(colour, 0.55), 1, cv2.LINE_AA, shift=4)


SKIN_TONES_BGR = ((160, 190, 240), (130, 170, 225), (105, 145, 200), (80, 115, 170), (60, 85, 130),
                  (140, 180, 235))


def draw_hand(img: np.ndarray, tip: np.ndarray, direction: np.ndarray, size: float,
              skin: tuple[int, int, int], grip: float = 0.0) -> None:
    """Forearm + palm + four fingers + thumb whose fingertips touch ``tip``.

    ``direction``: unit vector the hand moves along (towards the object); ``grip`` in [0,1] curls the
    fingers (closed grasp for hold / pick up / put down).
    """
    u = direction / (np.linalg.norm(direction) + 1e-9)
    v = np.array([-u[1], u[0]])
    palm = tip - u * size * 0.62
    outline = _shade(skin, 0.7)

    def P(p: np.ndarray) -> tuple[int, int]:
        return int(round(p[0] * 16)), int(round(p[1] * 16))

    def L(a: np.ndarray, b: np.ndarray, t: float, colour: tuple[int, int, int]) -> None:
        t_px = max(1, int(round(t)))
        cv2.line(img, P(a), P(b), outline, t_px + 2, cv2.LINE_AA, shift=4)
        cv2.line(img, P(a), P(b), colour, t_px, cv2.LINE_AA, shift=4)

    L(palm - u * size * 0.3, palm - u * size * 4.0, size * 0.42, skin)  # forearm, runs off the image
    ang = math.degrees(math.atan2(u[1], u[0]))
    axes = (max(1, int(round(size * 0.34 * 16))), max(1, int(round(size * 0.3 * 16))))
    cv2.ellipse(img, P(palm), axes, ang, 0, 360, outline, 2, cv2.LINE_AA, shift=4)
    cv2.ellipse(img, P(palm), axes, ang, 0, 360, skin, -1, cv2.LINE_AA, shift=4)
    reach = 1.0 - 0.45 * grip
    for k, off in enumerate((-0.19, -0.065, 0.065, 0.19)):
        base = palm + u * size * 0.22 + v * size * off
        end = palm + u * size * (0.22 + 0.42 * reach * (0.85 if k in (0, 3) else 1.0)) + v * size * off * 0.8
        if grip > 0:
            end = end + v * size * 0.05 * grip * (1 if off > 0 else -1)
        L(base, end, size * 0.1, skin)
    thumb_base = palm - v * size * 0.24
    thumb_end = thumb_base + u * size * 0.35 - v * size * (0.18 - 0.15 * grip)
    L(thumb_base, thumb_end, size * 0.11, skin)


def textured_background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Table/wall-like texture: colour gradient, low- and high-frequency noise, grain lines."""
    base = np.array(_hsv(rng.uniform(0, 180), rng.uniform(0.05, 0.5), rng.uniform(0.35, 0.85)), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    g = rng.uniform(-0.25, 0.25, size=2)
    grad = 1.0 + g[0] * (xx / w - 0.5) + g[1] * (yy / h - 0.5)
    low = cv2.resize(rng.normal(0, 1, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    img = base[None, None, :] * (grad * (1 + 0.12 * low))[..., None]
    if rng.random() < 0.5:  # wood-grain-like stripes
        freq = rng.uniform(0.05, 0.2)
        phase = rng.uniform(0, 2 * np.pi)
        img *= (1 + 0.06 * np.sin(freq * (yy + 0.2 * xx) + phase))[..., None]
    img += rng.normal(0, 6, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def draw_distractors(
    img: np.ndarray, rng: np.random.Generator, avoid: tuple[float, float, float], n: int
) -> None:
    """Random rectangles/circles/triangles away from the circle ``avoid = (x, y, r)``."""
    h, w = img.shape[:2]
    ax, ay, ar = avoid
    placed = 0
    for _ in range(n * 6):
        if placed >= n:
            break
        r = rng.uniform(0.04, 0.12) * min(h, w)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if math.hypot(x - ax, y - ay) < ar + r:
            continue
        colour = _hsv(rng.uniform(0, 180), rng.uniform(0.2, 1), rng.uniform(0.2, 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            cv2.circle(img, (int(x), int(y)), int(r), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            a = rng.uniform(0, np.pi)
            box = cv2.boxPoints(((float(x), float(y)), (float(2 * r), float(r * rng.uniform(0.4, 1.2))),
                                 float(np.degrees(a))))
            cv2.fillPoly(img, [np.round(box).astype(np.int32)], colour, cv2.LINE_AA)
        else:
            angs = rng.uniform(0, 2 * np.pi) + np.array([0, 2.1, 4.2])
            tri = np.stack([x + r * np.cos(angs), y + r * np.sin(angs)], 1)
            cv2.fillPoly(img, [np.round(tri).astype(np.int32)], colour, cv2.LINE_AA)
        placed += 1


def catalogue_background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Clean product-photo background: near white with a faint vertical gradient."""
    top = rng.uniform(236, 255)
    bottom = top - rng.uniform(0, 18)
    col = np.linspace(top, bottom, h, dtype=np.float32)[:, None, None]
    tint = rng.uniform(0.97, 1.0, size=3).astype(np.float32)
    return np.clip(np.broadcast_to(col * tint, (h, w, 3)), 0, 255).astype(np.uint8)


def catalogue_pose(h: int, w: int, rng: np.random.Generator) -> Pose:
    return Pose(w / 2 + rng.uniform(-0.04, 0.04) * w, h / 2 + rng.uniform(-0.04, 0.04) * h,
                0.72 * min(h, w) * rng.uniform(0.9, 1.05), math.radians(rng.uniform(-4, 4)))


def render_catalogue(inst: Instance, h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, Pose]:
    img = catalogue_background(h, w, rng)
    pose = catalogue_pose(h, w, rng)
    # Product photos show the whole object: shrink it if it would take more than 90% of a side.
    pts = np.concatenate([np.concatenate(part_polygons_px(inst, pose, p)) for p in inst.category.parts])
    ext_x, ext_y = pts.max(0) - pts.min(0)
    k = min(1.0, 0.9 * w / ext_x, 0.9 * h / ext_y)
    pose = Pose(pose.cx, pose.cy, pose.size * k, pose.angle)
    draw_object(img, inst, pose)
    return img, pose


def _fit_in_frame(inst: Instance, pose: Pose, size: int, lift_px: float) -> Pose:
    """Shift the pose so the whole object (raised by ``lift_px`` at most) stays inside the frame."""
    pts = np.concatenate([np.concatenate(part_polygons_px(inst, pose, p)) for p in inst.category.parts])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    y0 -= lift_px
    m = 0.02 * size
    dx = (m - x0 if x0 < m else 0.0) + (size - m - x1 if x1 > size - m else 0.0)
    dy = (m - y0 if y0 < m else 0.0) + (size - m - y1 if y1 > size - m else 0.0)
    return Pose(pose.cx + dx, pose.cy + dy, pose.size, pose.angle)


def _ease(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return 1 - (1 - x) ** 2


def render_clip(
    inst: Instance, verb: str, nframes: int, size: int, rng: np.random.Generator, record: Any | None = None
) -> list[np.ndarray]:
    """``nframes`` BGR frames (size x size) of a hand performing ``verb`` on the instance.

    ``record`` (DAN labels, ``training.synthetic_dan.ClipRecord``) may add a static object to the
    background and collects per-frame boxes; it draws from its own RNG, so ``rng`` sees the same calls.
    """
    cat = inst.category
    part = cat.part(cat.verbs[verb])
    bg = textured_background(size, size, rng)
    obj_size = size * rng.uniform(0.38, 0.58)
    pose = Pose(size * rng.uniform(0.35, 0.65), size * rng.uniform(0.38, 0.62), obj_size,
                math.radians(rng.uniform(-20, 20)))
    lift = rng.uniform(0.12, 0.22)  # object units, pick up / put down
    pose = _fit_in_frame(inst, pose, size, lift * obj_size if verb in ("pick up", "put down") else 0.0)
    draw_distractors(bg, rng, (pose.cx, pose.cy, 0.55 * obj_size), int(rng.integers(2, 6)))
    if record is not None:
        record.background(bg, inst, pose, obj_size)

    # Hand comes from outside the object towards the part (from below/side when the part is central).
    anchor = part_anchor_px(inst, pose, part)
    out = anchor - np.array([pose.cx, pose.cy])
    if np.linalg.norm(out) < 0.12 * obj_size:
        out = np.array([rng.uniform(-1, 1), 1.0])
    base_ang = math.atan2(-out[1], -out[0]) + math.radians(rng.uniform(-25, 25))
    u = np.array([math.cos(base_ang), math.sin(base_ang)])
    hand_size = float(np.clip(0.42 * obj_size, 0.08 * size, 0.2 * size))
    skin = SKIN_TONES_BGR[int(rng.integers(0, len(SKIN_TONES_BGR)))]
    skin = tuple(int(np.clip(c + rng.uniform(-10, 10), 0, 255)) for c in skin)
    grip = 1.0 if verb in ("hold", "pick up", "put down") else 0.0
    start = anchor - u * size * rng.uniform(0.75, 0.95)  # first frame: hand (nearly) out of view

    n_approach = max(2, int(round(nframes * rng.uniform(0.4, 0.55))))
    frames = []
    for t in range(nframes):
        a = _ease(t / n_approach)
        q = 0.0 if t < n_approach else (t - n_approach + 1) / max(1, nframes - n_approach)
        st = PartState()
        obj_dy = 0.0
        hand_rot = 0.0
        if verb == "rotate":
            st.angle = math.radians(100) * q
            hand_rot = math.radians(60) * q
        elif verb == "push":
            st.shift = -0.035 * min(1.0, 2 * q)
            st.scale = 1.0 - 0.1 * min(1.0, 2 * q)
            st.shade = 1.0 - 0.35 * min(1.0, 2 * q)
        elif verb == "pull":
            st.shift = 0.22 * q
        elif verb == "touch":
            st.shade = 1.0 + 0.25 * q
        elif verb == "pick up":
            obj_dy = -lift * q
        elif verb == "put down":
            obj_dy = -lift * (1.0 - q)
        elif verb == "hold":
            obj_dy = -0.02 * q
        fpose = Pose(pose.cx, pose.cy + obj_dy * obj_size, pose.size, pose.angle)
        img = bg.copy()
        draw_object(img, inst, fpose, {part.name: st})
        contact = part_anchor_px(inst, fpose, part, st)
        if verb == "touch":  # swipe across the surface
            contact = contact + np.array([-u[1], u[0]]) * 0.08 * obj_size * q
        tip = start + (contact - start) * a if t < n_approach else contact
        c, s = math.cos(hand_rot), math.sin(hand_rot)
        hu = np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
        draw_hand(img, tip, hu, hand_size, skin, grip=grip * (q if t >= n_approach else 0.0))
        if record is not None:
            record.frame(inst, fpose, {part.name: st}, tip, hu, hand_size, t >= n_approach)
        frames.append(img)
    return frames


# ----------------------------------------------------------------------------------------------------
# World generation.
# ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorldConfig:
    """Size and content of a synthetic world (every field is a CLI flag)."""

    seed: int = 0
    split: str = "seen"
    categories: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
    novel_categories: tuple[str, ...] | None = None  # None -> DEFAULT_NOVEL present in categories
    products_per_category: int = 3
    clips_per_category: int = 6
    test_per_category: int = 2  # test products (catalogue images) per test category
    test_clips_per_category: int = 1
    image_size: int = 256
    min_frames: int = 6
    max_frames: int = 14
    annotators: int = 5
    empty_points_frac: float = 0.2
    short_clip_frac: float = 0.0
    write_mp4: bool = False
    jpeg_quality: int = 90
    # Dual Attention Network labels (training.synthetic_dan). Off by default: the defaults leave the
    # world byte-identical to a generator without these fields.
    dan_labels: bool = False
    dan_two_object_clips: int = 4  # per source category and split ("pour into", "put into"); dan only
    dan_extra_object_prob: float = 0.5  # single-object clips: chance of an untouched second object

    def __post_init__(self) -> None:
        if self.split not in ("seen", "novel"):
            raise ValueError(f"split must be 'seen' or 'novel', got {self.split!r}")
        unknown = [c for c in self.categories if c not in CATEGORY_BY_NAME]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; known: {sorted(CATEGORY_BY_NAME)}")
        if len(set(self.categories)) != len(self.categories) or not self.categories:
            raise ValueError("categories must be non-empty and unique")
        if not 2 <= self.min_frames <= self.max_frames:
            raise ValueError("need 2 <= min_frames <= max_frames")
        if self.image_size < 32:
            raise ValueError("image_size must be >= 32")
        for k in ("products_per_category", "clips_per_category", "test_per_category", "annotators"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1")
        if not 0 <= self.empty_points_frac <= 1 or not 0 <= self.short_clip_frac <= 1:
            raise ValueError("fractions must be in [0, 1]")
        if self.dan_two_object_clips < 0 or not 0 <= self.dan_extra_object_prob <= 1:
            raise ValueError("dan_two_object_clips must be >= 0 and dan_extra_object_prob in [0, 1]")

    def category_split(self) -> tuple[list[str], list[str]]:
        """(train categories, test categories)."""
        cats = list(self.categories)
        if self.split == "seen":
            return cats, cats
        novel = list(self.novel_categories) if self.novel_categories is not None else \
            [c for c in DEFAULT_NOVEL if c in cats]
        if not novel:
            novel = cats[-max(1, len(cats) // 4):]
        bad = [c for c in novel if c not in cats]
        if bad:
            raise ValueError(f"novel categories {bad} are not among the categories")
        seen = [c for c in cats if c not in novel]
        if not seen:
            raise ValueError("the novel split needs at least one training category")
        seen_verbs = {v for c in seen for v in CATEGORY_BY_NAME[c].verbs}
        for c in novel:
            missing = set(CATEGORY_BY_NAME[c].verbs) - seen_verbs
            if missing:
                raise ValueError(f"novel category {c!r} has verbs {sorted(missing)} that no training "
                                 f"category affords")
        return seen, novel


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _part_box_px(inst: Instance, pose: Pose, part: Part, h: int, w: int) -> tuple[list[int], list[int]]:
    """Pixel rows [r0, r1] and cols [c0, c1] (inclusive) of the part, clipped to the image."""
    pts = np.concatenate(part_polygons_px(inst, pose, part))
    pad = max((sh.thickness for sh in part.shapes), default=0.0) * pose.size / 2
    c0, r0 = np.floor(pts.min(0) - pad).astype(int)
    c1, r1 = np.ceil(pts.max(0) + pad).astype(int)
    return [int(max(r0, 0)), int(min(r1, h - 1))], [int(max(c0, 0)), int(min(c1, w - 1))]


def _annotator_points(anchor_xy: np.ndarray, rows: list[int], cols: list[int], n_annot: int,
                      rng: np.random.Generator) -> list[list[float]]:
    """Several annotators' points ``[row, col]`` near the part's interaction point, inside its box."""
    spread = 0.15 * min(rows[1] - rows[0] + 1, cols[1] - cols[0] + 1) + 1.0
    pts = []
    for _ in range(n_annot):
        for _ in range(int(rng.integers(1, 3))):
            x = float(np.clip(anchor_xy[0] + rng.normal(0, spread), cols[0], cols[1]))
            y = float(np.clip(anchor_xy[1] + rng.normal(0, spread), rows[0], rows[1]))
            pts.append([round(y, 1), round(x, 1)])
    return pts


def _write_jpg(path: Path, img: np.ndarray, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]):
        raise OSError(f"could not write {path}")


def _write_mp4(path: Path, frames: list[np.ndarray]) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(FPS), (w, h))
    if not vw.isOpened():
        return False
    for f in frames:
        vw.write(f)
    vw.release()
    return path.is_file() and path.stat().st_size > 0


CATALOGUE_ASPECTS = (1.0, 1.25, 4 / 3, 0.8)


def generate_world(out: str | Path, cfg: WorldConfig) -> dict[str, Any]:
    """Write the world under ``out`` (frames/, images/, [clips/], annotations.json, README.txt).

    Returns the annotations dict. ``out`` must be empty or absent.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    out.mkdir(parents=True, exist_ok=True)
    train_cats, test_cats = cfg.category_split()
    nouns = list(cfg.categories)
    S = cfg.image_size
    ch = "synthetic"
    annots: dict[str, Any] = {
        "verbs": list(VERBS), "nouns": nouns,
        "train_clips": [], "test_clips": [], "train_images": [], "test_images": [],
    }
    mp4_failed = 0

    Product = tuple[Instance, list[str], Pose, int, int]  # instance, image parts, pose, height, width

    def make_products(cat_name: str, n: int, tag: str, key: int) -> list[Product]:
        cat = CATEGORY_BY_NAME[cat_name]
        prods = []
        for k in range(n):
            rng = _rng(cfg.seed, 1, nouns.index(cat_name), key, k)
            inst = make_instance(cat, rng)
            vid = f"{cat_name}-{tag}{k:03d}"
            h = S
            w = int(round(S * CATALOGUE_ASPECTS[int(rng.integers(0, len(CATALOGUE_ASPECTS)))]))
            img, pose = render_catalogue(inst, h, w, rng)
            image = [ch, cat_name, vid, "catalog.jpg"]
            _write_jpg(out / "images" / Path(*image), img, cfg.jpeg_quality)
            prods.append((inst, image, pose, h, w))
        return prods

    def image_entries(prods: list[Product], cat_name: str, key: int) -> list[dict[str, Any]]:
        cat = CATEGORY_BY_NAME[cat_name]
        entries = []
        for k, (inst, image, pose, h, w) in enumerate(prods):
            for verb in VERBS:
                if verb not in cat.verbs:
                    continue
                part = cat.part(cat.verbs[verb])
                rows, cols = _part_box_px(inst, pose, part, h, w)
                rng = _rng(cfg.seed, 2, nouns.index(cat_name), key, k, VERBS.index(verb))
                pts = _annotator_points(part_anchor_px(inst, pose, part), rows, cols, cfg.annotators, rng)
                entries.append({"image": image, "verb": VERBS.index(verb), "points": pts, "shape": [h, w],
                                "noun": nouns.index(cat_name), "part": part.name,
                                "part_rows": rows, "part_cols": cols})
        return entries

    def clip_entries(prods: list[Product], cat_name: str, n: int, key: int) -> list[dict[str, Any]]:
        nonlocal mp4_failed
        cat = CATEGORY_BY_NAME[cat_name]
        verbs = [v for v in VERBS if v in cat.verbs]
        entries = []
        t0 = [0.0] * len(prods)
        for j in range(n):
            rng = _rng(cfg.seed, 3, nouns.index(cat_name), key, j)
            p = j % len(prods)
            inst, image, _, _, _ = prods[p]
            verb = verbs[(j // len(prods) + int(rng.integers(0, len(verbs)))) % len(verbs)]
            nframes = int(rng.integers(cfg.min_frames, cfg.max_frames + 1))
            t0[p] += round(float(rng.uniform(1.0, 20.0)), 1)
            start, dur = f"{t0[p]:.1f}", f"{nframes / FPS:.1f}"
            t0[p] += nframes / FPS
            clip = [ch, cat_name, image[2], start, dur]
            record = dan.ClipRecord(S, _rng(cfg.seed, 7, nouns.index(cat_name), key, j), dan_others(cat_name, key),
                                    cfg.dan_extra_object_prob) if dan else None
            frames = render_clip(inst, verb, nframes, S, rng, record)
            folder = out / "frames" / Path(*clip[:3]) / f"{start}_{dur}.mp4"
            for i, f in enumerate(frames, start=1):
                _write_jpg(folder / ("image-%08d.jpg" % i), f, cfg.jpeg_quality)
            if cfg.write_mp4 and not _write_mp4(out / "clips" / Path(*clip[:3]) / f"{start}_{dur}.mp4", frames):
                mp4_failed += 1
            entries.append({"clip": clip, "nframes": nframes, "verb": VERBS.index(verb),
                            "noun": nouns.index(cat_name), "image": image, "part": cat.verbs[verb]})
            if record is not None:
                entries[-1].update(record.labels(verb, nouns.index(cat_name)))
        return entries

    def dan_others(cat_name: str, key: int) -> list[tuple[int, Category]]:
        pool = train_cats if key == 0 else test_cats
        return [(nouns.index(c), CATEGORY_BY_NAME[c]) for c in pool if c != cat_name]

    def write_frames(clip: list[str], frames: list[np.ndarray]) -> None:
        nonlocal mp4_failed
        folder = out / "frames" / Path(*clip[:3]) / f"{clip[3]}_{clip[4]}.mp4"
        for i, f in enumerate(frames, start=1):
            _write_jpg(folder / ("image-%08d.jpg" % i), f, cfg.jpeg_quality)
        if cfg.write_mp4 and not _write_mp4(out / "clips" / Path(*clip[:3]) / f"{clip[3]}_{clip[4]}.mp4", frames):
            mp4_failed += 1

    dan = None
    if cfg.dan_labels:
        from . import synthetic_dan as dan  # late: it builds on this module

        annots["dan_actions"] = list(dan.DAN_ACTIONS)
    for cat_name in train_cats:
        prods = make_products(cat_name, cfg.products_per_category, "", 0)
        annots["train_clips"] += clip_entries(prods, cat_name, cfg.clips_per_category, 0)
        annots["train_images"] += image_entries(prods, cat_name, 0)
        if dan:
            annots["train_clips"] += dan.two_object_entries(cfg, prods, cat_name, train_cats, 0, write_frames)
    for cat_name in test_cats:
        prods = make_products(cat_name, cfg.test_per_category, "t", 1)
        annots["test_images"] += image_entries(prods, cat_name, 1)
        if cfg.test_clips_per_category:
            annots["test_clips"] += clip_entries(prods, cat_name, cfg.test_clips_per_category, 1)
        if dan and cfg.test_clips_per_category:
            annots["test_clips"] += dan.two_object_entries(cfg, prods, cat_name, test_cats, 1, write_frames)

    # ~empty_points_frac of the image entries carry no points, as in OPRA (their GT map is all zero).
    for key, lst in (("train", annots["train_images"]), ("test", annots["test_images"])):
        rng = _rng(cfg.seed, 4, 0 if key == "train" else 1)
        n_empty = int(round(cfg.empty_points_frac * len(lst)))
        for i in rng.permutation(len(lst))[:n_empty]:
            lst[int(i)]["points"] = []
    # Issue #5 stand-in: some clips lose their last frame on disk while nframes keeps the full count.
    clips = annots["train_clips"]
    n_short = int(math.ceil(cfg.short_clip_frac * len(clips))) if cfg.short_clip_frac > 0 else 0
    short = sorted(int(i) for i in _rng(cfg.seed, 5).permutation(len(clips))[:n_short])
    for i in short:
        e = clips[i]
        (out / "frames" / Path(*e["clip"][:3]) / f"{e['clip'][3]}_{e['clip'][4]}.mp4" /
         ("image-%08d.jpg" % e["nframes"])).unlink()

    args = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()
            if cfg.dan_labels or not k.startswith("dan_")}  # no new keys in a default world's json
    annots.update({
        "split": cfg.split, "seed": cfg.seed,
        "categories": nouns, "train_categories": train_cats, "test_categories": test_cats,
        "category_parts": {c: {"parts": [p.name for p in CATEGORY_BY_NAME[c].parts],
                               "verbs": dict(CATEGORY_BY_NAME[c].verbs)} for c in nouns},
        "short_clips": short,
        "generator": {"name": "training.synthetic_world", "version": GENERATOR_VERSION, "args": args},
    })
    with open(out / "annotations.json", "w", encoding="utf-8") as f:
        json.dump(annots, f, indent=1)
        f.write("\n")
    (out / "README.txt").write_text(_readme(cfg, annots), encoding="utf-8")
    if mp4_failed:
        log.warning("OpenCV could not write %d .mp4 clips (no mp4v encoder?)", mp4_failed)
    return annots


def _readme(cfg: WorldConfig, annots: dict[str, Any]) -> str:
    lines = [
        "Synthetic interaction-hotspot world (OPRA stand-in), made by `python -m training.synthetic_world`.",
        "",
        f"seed={cfg.seed} split={cfg.split} image_size={cfg.image_size} generator version {GENERATOR_VERSION}",
        f"train categories: {', '.join(annots['train_categories'])}",
        f"test categories:  {', '.join(annots['test_categories'])}",
        f"train clips {len(annots['train_clips'])}, test clips {len(annots['test_clips'])}, "
        f"train images {len(annots['train_images'])}, test images {len(annots['test_images'])} "
        f"({sum(1 for e in annots['test_images'] if not e['points'])} with no points)",
        "",
        "Layout (same as OPRA, read by training.data.OPRAClips / HotspotTestImages):",
        "  annotations.json  verbs, nouns, train_clips/test_clips {clip:[ch,pl,vid,start,dur], nframes, verb,",
        "                    noun, image}, train_images/test_images {image, verb, points [[row,col],...],",
        "                    shape [H,W]} + extra keys (noun, part, part_rows, part_cols, categories ...)",
        "  frames/<ch>/<pl>/<vid>/<start>_<dur>.mp4/image-%08d.jpg   clip frames (5 fps, from 1)",
        "  images/<ch>/<pl>/<vid>/catalog.jpg                        product (inactive / test) images",
        "  clips/<ch>/<pl>/<vid>/<start>_<dur>.mp4                   source videos (only with --write-mp4)",
        "",
        "Each clip: a hand approaches the part its verb needs and acts on it; catalogue images show the",
        "same product at rest on a clean background. Points mark the part of the verb (OPRA convention:",
        "point = [row, col], GT map shape = [H, W], no transpose).",
        "",
        "Categories: verb -> part",
    ]
    for c in annots["categories"]:
        v = CATEGORY_BY_NAME[c].verbs
        lines.append(f"  {c:9s} " + ", ".join(f"{k} -> {v[k]}" for k in VERBS if k in v))
    if annots["short_clips"]:
        lines += ["", f"{len(annots['short_clips'])} train clips miss their last frame on disk "
                      "(nframes unchanged; reference issue #5 stand-in)."]
    if cfg.dan_labels:
        from .synthetic_dan import readme_lines

        lines += readme_lines(annots)
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    d = WorldConfig()
    p = argparse.ArgumentParser(prog="python -m training.synthetic_world", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder (must be empty or absent)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split", choices=("seen", "novel"), default=d.split)
    p.add_argument("--categories", nargs="+", default=list(d.categories), choices=sorted(CATEGORY_BY_NAME),
                   metavar="CAT", help=f"object categories, from: {' '.join(sorted(CATEGORY_BY_NAME))}")
    p.add_argument("--novel-categories", nargs="+", default=None, metavar="CAT",
                   help=f"held-out test categories for --split novel ({' '.join(DEFAULT_NOVEL)} if unset)")
    p.add_argument("--products-per-category", type=int, default=d.products_per_category)
    p.add_argument("--clips-per-category", type=int, default=d.clips_per_category)
    p.add_argument("--test-per-category", type=int, default=d.test_per_category,
                   help="test products (catalogue images) per test category; one entry per afforded verb")
    p.add_argument("--test-clips-per-category", type=int, default=d.test_clips_per_category)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--min-frames", type=int, default=d.min_frames)
    p.add_argument("--max-frames", type=int, default=d.max_frames)
    p.add_argument("--annotators", type=int, default=d.annotators)
    p.add_argument("--empty-points-frac", type=float, default=d.empty_points_frac)
    p.add_argument("--short-clip-frac", type=float, default=d.short_clip_frac,
                   help="fraction of train clips written one frame short of nframes (issue #5)")
    p.add_argument("--write-mp4", action="store_true", help="also write clips/<...>.mp4 (OpenCV mp4v)")
    p.add_argument("--dan-labels", action="store_true",
                   help="Dual Attention Network labels: action/object labels, two-object actions, untouched "
                        "second objects, per-frame object and hand boxes (see training/synthetic_dan.py)")
    p.add_argument("--dan-two-object-clips", type=int, default=d.dan_two_object_clips,
                   help="with --dan-labels: two-object clips per source category and split")
    p.add_argument("--dan-extra-object-prob", type=float, default=d.dan_extra_object_prob,
                   help="with --dan-labels: chance that a single-object clip shows an untouched second object")
    p.add_argument("--overwrite", action="store_true", help="delete --out first if it exists")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = WorldConfig(
        seed=args.seed, split=args.split, categories=tuple(args.categories),
        novel_categories=tuple(args.novel_categories) if args.novel_categories else None,
        products_per_category=args.products_per_category, clips_per_category=args.clips_per_category,
        test_per_category=args.test_per_category, test_clips_per_category=args.test_clips_per_category,
        image_size=args.image_size, min_frames=args.min_frames, max_frames=args.max_frames,
        annotators=args.annotators, empty_points_frac=args.empty_points_frac,
        short_clip_frac=args.short_clip_frac, write_mp4=args.write_mp4, dan_labels=args.dan_labels,
        dan_two_object_clips=args.dan_two_object_clips, dan_extra_object_prob=args.dan_extra_object_prob,
    )
    if args.overwrite and args.out.exists():
        shutil.rmtree(args.out)
    t0 = time.perf_counter()
    annots = generate_world(args.out, cfg)
    n_frames = sum(e["nframes"] for e in annots["train_clips"] + annots["test_clips"])
    log.info("wrote %s: %d train clips, %d test clips (%d frames), %d test images in %.1f s",
             args.out, len(annots["train_clips"]), len(annots["test_clips"]), n_frames,
             len(annots["test_images"]), time.perf_counter() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
