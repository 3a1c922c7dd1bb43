"""Old home of the synthetic world generator, now the package ``training.synthetic``; kept so that
``python -m training.synthetic_world ...`` and ``from training.synthetic_world import ...`` keep working.
"""

from __future__ import annotations

from hotspot_core import cli

from .synthetic.catalogue import (
    CATEGORIES,
    CATEGORY_BY_NAME,
    DEFAULT_NOVEL,
    VERBS,
    Category,
    Part,
    Shape,
    arc,
    ellipse,
    line,
    poly,
    rect,
    rrect,
)
from .synthetic.cli import build_parser, main
from .synthetic.config import FPS, GENERATOR_VERSION, WorldConfig
from .synthetic.draw import (
    SKIN_TONES_BGR,
    Instance,
    PartState,
    Pose,
    catalogue_background,
    draw_distractors,
    draw_hand,
    draw_object,
    make_instance,
    obj_to_px,
    part_anchor_px,
    part_polygons_px,
    textured_background,
)
from .synthetic.render import catalogue_pose, render_catalogue, render_clip
from .synthetic.world import CATALOGUE_ASPECTS, generate_world

__all__ = [
    "VERBS",
    "FPS",
    "GENERATOR_VERSION",
    "CATEGORIES",
    "CATEGORY_BY_NAME",
    "DEFAULT_NOVEL",
    "Shape",
    "Part",
    "Category",
    "rect",
    "rrect",
    "ellipse",
    "arc",
    "line",
    "poly",
    "Instance",
    "make_instance",
    "Pose",
    "PartState",
    "obj_to_px",
    "part_anchor_px",
    "part_polygons_px",
    "draw_object",
    "SKIN_TONES_BGR",
    "draw_hand",
    "textured_background",
    "draw_distractors",
    "catalogue_background",
    "catalogue_pose",
    "render_catalogue",
    "render_clip",
    "WorldConfig",
    "CATALOGUE_ASPECTS",
    "generate_world",
    "build_parser",
    "main",
]

if __name__ == "__main__":
    cli.run(main)
