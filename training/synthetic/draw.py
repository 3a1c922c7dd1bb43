"""Drawing the synthetic world with OpenCV: product instances, poses, objects, hands and backgrounds.

Pixel coordinates are (x right, y down); polygons are drawn anti-aliased with 4 fractional bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .catalogue import Category, Part, Shape

__all__ = [
    "hsv_bgr",
    "Instance",
    "make_instance",
    "Pose",
    "PartState",
    "obj_to_px",
    "part_anchor_px",
    "part_polygons_px",
    "with_dragged_parts",
    "draw_object",
    "SKIN_TONES_BGR",
    "random_skin",
    "draw_hand",
    "textured_background",
    "draw_distractors",
    "catalogue_background",
]


def hsv_bgr(h: float, s: float, v: float) -> tuple[int, int, int]:
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
        "body": hsv_bgr(hue, rng.uniform(0.35, 0.9), rng.uniform(0.45, 0.95)),
        "accent": hsv_bgr(hue + rng.uniform(50, 130), rng.uniform(0.5, 0.95), rng.uniform(0.4, 0.9)),
        "dark": hsv_bgr(rng.uniform(0, 180), rng.uniform(0, 0.4), rng.uniform(0.1, 0.3)),
        "metal": hsv_bgr(rng.uniform(90, 120), rng.uniform(0, 0.12), rng.uniform(0.6, 0.85)),
        "light": hsv_bgr(rng.uniform(0, 180), rng.uniform(0.0, 0.2), rng.uniform(0.85, 1.0)),
        "red": hsv_bgr(rng.uniform(-6, 6), rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)),
    }
    return Instance(
        category, float(rng.uniform(0.88, 1.12)), float(rng.uniform(0.88, 1.12)), bool(rng.random() < 0.5), palette
    )


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


def with_dragged_parts(category: Category, states: dict[str, PartState] | None) -> dict[str, PartState]:
    """A copy of ``states`` where each part a driver drags (a drawer's front) moves with its driver."""
    states = dict(states or {})
    for p in category.parts:
        for dragged in p.drags:
            if p.name in states:
                states.setdefault(dragged, states[p.name])
    return states


def draw_object(img: np.ndarray, inst: Instance, pose: Pose, states: dict[str, PartState] | None = None) -> None:
    """Draw all parts in order; ``states`` animate parts (dragged parts follow their driver)."""
    states = with_dragged_parts(inst.category, states)
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


SKIN_TONES_BGR = ((160, 190, 240), (130, 170, 225), (105, 145, 200), (80, 115, 170), (60, 85, 130), (140, 180, 235))


def random_skin(rng: np.random.Generator) -> tuple[int, int, int]:
    """One of ``SKIN_TONES_BGR`` with each channel jittered by up to +-10."""
    skin = SKIN_TONES_BGR[int(rng.integers(0, len(SKIN_TONES_BGR)))]
    return tuple(int(np.clip(c + rng.uniform(-10, 10), 0, 255)) for c in skin)  # type: ignore[return-value]


def draw_hand(
    img: np.ndarray, tip: np.ndarray, direction: np.ndarray, size: float, skin: tuple[int, int, int], grip: float = 0.0
) -> None:
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
    base = np.array(hsv_bgr(rng.uniform(0, 180), rng.uniform(0.05, 0.5), rng.uniform(0.35, 0.85)), np.float32)
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


def draw_distractors(img: np.ndarray, rng: np.random.Generator, avoid: tuple[float, float, float], n: int) -> None:
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
        colour = hsv_bgr(rng.uniform(0, 180), rng.uniform(0.2, 1), rng.uniform(0.2, 1))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            cv2.circle(img, (int(x), int(y)), int(r), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            a = rng.uniform(0, np.pi)
            box = cv2.boxPoints(
                ((float(x), float(y)), (float(2 * r), float(r * rng.uniform(0.4, 1.2))), float(np.degrees(a)))
            )
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
