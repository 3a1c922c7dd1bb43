"""The object catalogue of the synthetic world: OPRA's verbs, part geometry and the categories.

Shapes are in object coordinates (x right, y down, the object's larger extent is about 1). Each category
lists its functional parts in drawing order and maps every verb it affords to the part the action needs
(hold -> handle, rotate -> cap/lid/knob, push -> button, pull -> knob/lid, touch -> blade/screen, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "VERBS",
    "Shape",
    "rect",
    "rrect",
    "ellipse",
    "arc",
    "line",
    "poly",
    "Part",
    "Category",
    "CATEGORIES",
    "CATEGORY_BY_NAME",
    "DEFAULT_NOVEL",
]

VERBS: tuple[str, ...] = ("hold", "touch", "rotate", "push", "pull", "pick up", "put down")


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
    return Shape(
        ((cx - w / 2, cy - h / 2), (cx + w / 2, cy - h / 2), (cx + w / 2, cy + h / 2), (cx - w / 2, cy + h / 2)), role
    )


def rrect(cx: float, cy: float, w: float, h: float, r: float, role: str, n: int = 5) -> Shape:
    """Rounded rectangle with corner radius ``r``."""
    pts = []
    for (ox, oy), a0 in (
        ((w / 2 - r, -h / 2 + r), -90),
        ((w / 2 - r, h / 2 - r), 0),
        ((-w / 2 + r, h / 2 - r), 90),
        ((-w / 2 + r, -h / 2 + r), 180),
    ):
        for k in range(n + 1):
            a = math.radians(a0 + 90 * k / n)
            pts.append((cx + ox + r * math.cos(a), cy + oy + r * math.sin(a)))
    return Shape(tuple(pts), role)


def ellipse(cx: float, cy: float, rx: float, ry: float, role: str, n: int = 28) -> Shape:
    return Shape(
        tuple((cx + rx * math.cos(2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n)) for k in range(n)),
        role,
    )


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, t: float, role: str, n: int = 16) -> Shape:
    """Stroked elliptic arc from angle ``a0`` to ``a1`` degrees (image coordinates: y down)."""
    pts = tuple(
        (
            cx + rx * math.cos(math.radians(a0 + (a1 - a0) * k / n)),
            cy + ry * math.sin(math.radians(a0 + (a1 - a0) * k / n)),
        )
        for k in range(n + 1)
    )
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
        Category(
            "mug",
            (
                Part(
                    "body",
                    (
                        rect(0, 0.05, 0.56, 0.8, "body"),
                        ellipse(0, -0.35, 0.28, 0.05, "dark"),
                        rect(0, 0.12, 0.56, 0.16, "accent"),
                    ),
                    (0.0, 0.1),
                ),
                Part(
                    "handle", (arc(0.3, 0.03, 0.17, 0.22, -90, 90, 0.08, "body"),), (0.47, 0.03), direction=(1.0, 0.0)
                ),
            ),
            {"hold": "handle", "pick up": "handle", "put down": "body"},
        ),
        Category(
            "bottle",
            (
                Part(
                    "body",
                    (
                        rrect(0, 0.15, 0.42, 0.7, 0.06, "body"),
                        poly([(-0.21, -0.2), (0.21, -0.2), (0.08, -0.33), (-0.08, -0.33)], "body"),
                        rect(0, -0.35, 0.16, 0.06, "body"),
                        rect(0, 0.15, 0.42, 0.26, "light"),
                    ),
                    (0.0, 0.2),
                ),
                Part(
                    "cap",
                    (rect(0, -0.44, 0.22, 0.13, "accent"), line(0, -0.5, 0, -0.38, 0.03, "dark")),
                    (0.0, -0.44),
                    direction=(0.0, -1.0),
                ),
            ),
            {"rotate": "cap", "hold": "body", "pick up": "body"},
        ),
        Category(
            "jar",
            (
                Part("body", (rrect(0, 0.1, 0.72, 0.72, 0.1, "body"), rect(0, 0.12, 0.72, 0.3, "light")), (0.0, 0.15)),
                Part(
                    "lid",
                    (rect(0, -0.33, 0.78, 0.15, "accent"),)
                    + tuple(line(x, -0.39, x, -0.27, 0.02, "dark") for x in (-0.28, -0.14, 0.0, 0.14, 0.28)),
                    (0.0, -0.33),
                    direction=(0.0, -1.0),
                ),
            ),
            {"rotate": "lid", "hold": "body", "put down": "body"},
        ),
        Category(
            "kettle",
            (
                Part(
                    "body",
                    (
                        ellipse(0, 0.14, 0.4, 0.33, "body"),
                        rect(0, 0.44, 0.66, 0.07, "dark"),
                        poly([(-0.33, 0.02), (-0.6, -0.2), (-0.55, -0.24), (-0.26, 0.15)], "body"),
                    ),
                    (0.0, 0.15),
                ),
                Part(
                    "lid",
                    (ellipse(0, -0.17, 0.2, 0.05, "accent"), rect(0, -0.24, 0.08, 0.07, "dark")),
                    (0.0, -0.24),
                    direction=(0.0, -1.0),
                ),
                Part("handle", (arc(0.05, -0.12, 0.34, 0.3, 200, 340, 0.08, "dark"),), (0.05, -0.42)),
                Part("switch", (rect(0.36, -0.1, 0.1, 0.07, "red"),), (0.36, -0.1), direction=(1.0, 0.0)),
            ),
            {"hold": "handle", "pick up": "handle", "push": "switch", "pull": "lid"},
        ),
        Category(
            "knife",
            (
                Part(
                    "blade",
                    (
                        poly([(-0.62, -0.01), (-0.5, -0.07), (0.08, -0.07), (0.08, 0.06), (-0.45, 0.06)], "metal"),
                        line(-0.55, 0.04, 0.05, 0.04, 0.01, "light"),
                    ),
                    (-0.28, 0.0),
                ),
                Part(
                    "handle",
                    (
                        rrect(0.3, 0.0, 0.44, 0.14, 0.04, "accent"),
                        ellipse(0.2, 0, 0.02, 0.02, "light"),
                        ellipse(0.4, 0, 0.02, 0.02, "light"),
                    ),
                    (0.3, 0.0),
                    direction=(1.0, 0.0),
                ),
            ),
            {"hold": "handle", "pick up": "handle", "touch": "blade"},
        ),
        Category(
            "scissors",
            (
                Part(
                    "blade",
                    (
                        poly([(0.02, -0.03), (-0.62, -0.1), (-0.6, -0.05), (0.02, 0.03)], "metal"),
                        poly([(0.02, 0.03), (-0.62, 0.1), (-0.6, 0.05), (0.02, -0.03)], "metal"),
                        ellipse(0.0, 0.0, 0.03, 0.03, "dark"),
                    ),
                    (-0.3, 0.0),
                ),
                Part(
                    "handle",
                    (
                        arc(0.26, -0.13, 0.13, 0.09, 0, 360, 0.05, "accent", n=24),
                        arc(0.26, 0.13, 0.13, 0.09, 0, 360, 0.05, "accent", n=24),
                        line(0.02, -0.03, 0.14, -0.1, 0.05, "accent"),
                        line(0.02, 0.03, 0.14, 0.1, 0.05, "accent"),
                    ),
                    (0.3, 0.0),
                    direction=(1.0, 0.0),
                ),
            ),
            {"hold": "handle", "pick up": "handle", "touch": "blade"},
        ),
        Category(
            "drawer",
            (
                Part("cabinet", (rect(0, 0, 0.9, 0.9, "body"),), (0.0, 0.0)),
                Part("top_front", (rect(0, -0.2, 0.76, 0.34, "light"),), (0.0, -0.2)),
                Part(
                    "front",
                    (rect(0, 0.2, 0.76, 0.34, "light"), line(-0.3, 0.2, 0.3, 0.2, 0.02, "dark")),
                    (0.0, 0.22),
                    direction=(0.0, 1.0),
                ),
                Part(
                    "knob",
                    (ellipse(0, -0.2, 0.06, 0.06, "metal"), ellipse(0, -0.2, 0.025, 0.025, "dark")),
                    (0.0, -0.2),
                    direction=(0.0, 1.0),
                    drags=("top_front",),
                ),
            ),
            {"pull": "knob", "push": "front"},
        ),
        Category(
            "lamp",
            (
                Part("base", (ellipse(0, 0.44, 0.3, 0.06, "dark"),), (0.0, 0.44)),
                Part("stem", (line(0, 0.42, 0.06, -0.12, 0.05, "metal"),), (0.03, 0.16)),
                Part(
                    "shade",
                    (
                        poly([(-0.12, -0.48), (0.16, -0.48), (0.32, -0.14), (-0.26, -0.14)], "accent"),
                        ellipse(0.03, -0.14, 0.29, 0.03, "light"),
                    ),
                    (0.03, -0.31),
                ),
                Part("button", (ellipse(0.19, 0.42, 0.045, 0.03, "red"),), (0.19, 0.41), direction=(0.0, -1.0)),
            ),
            {"push": "button", "rotate": "shade", "hold": "stem"},
        ),
        Category(
            "remote",
            (
                Part(
                    "body",
                    (rrect(0, 0, 0.3, 1.0, 0.08, "dark"),)
                    + tuple(ellipse(x, y, 0.035, 0.03, "light") for y in (0.0, 0.12, 0.24) for x in (-0.07, 0.07)),
                    (0.0, 0.3),
                ),
                Part("button", (ellipse(0, -0.36, 0.055, 0.055, "red"),), (0.0, -0.36)),
            ),
            {"push": "button", "hold": "body", "pick up": "body"},
        ),
        Category(
            "radio",
            (
                Part("handle", (arc(0, -0.2, 0.36, 0.22, 180, 360, 0.05, "dark"),), (0.0, -0.42)),
                Part(
                    "box",
                    (rrect(0, 0.12, 1.0, 0.6, 0.05, "body"), rect(-0.2, 0.12, 0.46, 0.46, "dark"))
                    + tuple(
                        ellipse(-0.2 + dx, 0.12 + dy, 0.02, 0.02, "metal")
                        for dx in (-0.14, 0.0, 0.14)
                        for dy in (-0.14, 0.0, 0.14)
                    ),
                    (0.0, 0.12),
                ),
                Part(
                    "knob",
                    (ellipse(0.3, 0.03, 0.1, 0.1, "metal"), line(0.3, 0.03, 0.3, -0.06, 0.025, "dark")),
                    (0.3, 0.03),
                ),
                Part("button", (rect(0.3, 0.3, 0.14, 0.07, "red"),), (0.3, 0.3)),
            ),
            {"rotate": "knob", "push": "button", "pick up": "handle"},
        ),
        Category(
            "pot",
            (
                Part(
                    "body",
                    (rect(-0.15, 0.17, 0.62, 0.42, "metal"), rect(-0.15, 0.36, 0.62, 0.04, "dark")),
                    (-0.15, 0.2),
                ),
                Part(
                    "lid",
                    (ellipse(-0.15, -0.05, 0.34, 0.06, "accent"), rect(-0.15, -0.13, 0.1, 0.07, "dark")),
                    (-0.15, -0.13),
                    direction=(0.0, -1.0),
                ),
                Part("handle", (line(0.17, 0.06, 0.62, 0.0, 0.08, "dark"),), (0.45, 0.02), direction=(1.0, 0.0)),
            ),
            {"hold": "handle", "pick up": "handle", "pull": "lid", "put down": "handle"},
        ),
        Category(
            "phone",
            (
                Part("body", (rrect(0, 0, 0.5, 1.0, 0.07, "dark"),), (0.22, 0.1)),
                Part("screen", (rect(0, -0.04, 0.42, 0.78, "light"),), (0.0, -0.08)),
                Part("button", (ellipse(0, 0.43, 0.045, 0.045, "metal"),), (0.0, 0.43)),
            ),
            {"touch": "screen", "push": "button", "hold": "body", "pick up": "body"},
        ),
    ]
    for c in cats:
        for verb, part in c.verbs.items():
            assert verb in VERBS, (c.name, verb)
            c.part(part)
    return tuple(cats)


CATEGORIES: tuple[Category, ...] = _categories()
CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}
DEFAULT_NOVEL: tuple[str, ...] = ("kettle", "scissors", "radio")
