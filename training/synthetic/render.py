"""Rendering the synthetic world's images: catalogue (product) images and clips of a hand acting on a part."""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from .draw import (
    Instance,
    PartState,
    Pose,
    catalogue_background,
    draw_distractors,
    draw_hand,
    draw_object,
    part_anchor_px,
    part_polygons_px,
    random_skin,
    textured_background,
)

__all__ = [
    "catalogue_pose",
    "render_catalogue",
    "fit_in_frame",
    "ease_out",
    "ClipRecorder",
    "verb_motion",
    "render_clip",
]


class ClipRecorder(Protocol):
    """What ``render_clip`` tells an observer of a clip (the DAN labels' ``training.synthetic.dan.ClipRecord``)."""

    def background(self, bg: np.ndarray, inst: Instance, pose: Pose, obj_size: float) -> None:
        """Called once with the clip's background (objects may be added to it) before any frame."""

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
        """Called after each frame is drawn: the object's pose and part states, the hand's tip and direction."""


def catalogue_pose(h: int, w: int, rng: np.random.Generator) -> Pose:
    return Pose(
        w / 2 + rng.uniform(-0.04, 0.04) * w,
        h / 2 + rng.uniform(-0.04, 0.04) * h,
        0.72 * min(h, w) * rng.uniform(0.9, 1.05),
        math.radians(rng.uniform(-4, 4)),
    )


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


def fit_in_frame(inst: Instance, pose: Pose, size: int, lift_px: float) -> Pose:
    """Shift the pose so the whole object (raised by ``lift_px`` at most) stays inside the frame."""
    pts = np.concatenate([np.concatenate(part_polygons_px(inst, pose, p)) for p in inst.category.parts])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
    y0 -= lift_px
    m = 0.02 * size
    dx = (m - x0 if x0 < m else 0.0) + (size - m - x1 if x1 > size - m else 0.0)
    dy = (m - y0 if y0 < m else 0.0) + (size - m - y1 if y1 > size - m else 0.0)
    return Pose(pose.cx + dx, pose.cy + dy, pose.size, pose.angle)


def ease_out(x: float) -> float:
    """Quadratic ease-out of ``x`` clipped to [0, 1]: fast start, gentle arrival."""
    x = min(max(x, 0.0), 1.0)
    return 1 - (1 - x) ** 2


def verb_motion(verb: str, q: float, lift: float) -> tuple[PartState, float, float]:
    """How ``verb`` moves things at progress ``q`` in [0, 1]: the acted-on part's state, the object's vertical
    offset (object units, up is negative; ``lift`` is pick up / put down's height) and the hand's rotation."""
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
    return st, obj_dy, hand_rot


def render_clip(
    inst: Instance, verb: str, nframes: int, size: int, rng: np.random.Generator, record: ClipRecorder | None = None
) -> list[np.ndarray]:
    """``nframes`` BGR frames (size x size) of a hand performing ``verb`` on the instance.

    ``record`` (DAN labels, ``training.synthetic.dan.ClipRecord``) may add a static object to the
    background and collects per-frame boxes; it draws from its own RNG, so ``rng`` sees the same calls.
    """
    cat = inst.category
    part = cat.part(cat.verbs[verb])
    bg = textured_background(size, size, rng)
    obj_size = size * rng.uniform(0.38, 0.58)
    pose = Pose(
        size * rng.uniform(0.35, 0.65), size * rng.uniform(0.38, 0.62), obj_size, math.radians(rng.uniform(-20, 20))
    )
    lift = rng.uniform(0.12, 0.22)  # object units, pick up / put down
    pose = fit_in_frame(inst, pose, size, lift * obj_size if verb in ("pick up", "put down") else 0.0)
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
    skin = random_skin(rng)
    grip = 1.0 if verb in ("hold", "pick up", "put down") else 0.0
    start = anchor - u * size * rng.uniform(0.75, 0.95)  # first frame: hand (nearly) out of view

    n_approach = max(2, int(round(nframes * rng.uniform(0.4, 0.55))))
    frames = []
    for t in range(nframes):
        a = ease_out(t / n_approach)
        q = 0.0 if t < n_approach else (t - n_approach + 1) / max(1, nframes - n_approach)
        st, obj_dy, hand_rot = verb_motion(verb, q, lift)
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
