"""A procedurally generated stand-in for OPRA, written in OPRA's on-disk layout and json schema.

    python -m training.synthetic --out DIR --seed 0 --split seen \
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
``training/synthetic/dan.py``. Without it the output is exactly what it was before that flag existed.

Modules, each importing only those listed before it: ``catalogue`` (verbs, part geometry, categories),
``draw`` (instances, poses, OpenCV drawing of objects, hands, backgrounds), ``render`` (catalogue images
and clips), ``config`` (``WorldConfig``, seeded RNG streams), ``dan`` (the DAN labels and two-object
clips), ``world`` (``generate_world``: files and annotations), ``cli`` (``python -m training.synthetic``).
The old ``training.synthetic_world`` module re-exports these names.
"""

from __future__ import annotations

from .catalogue import (
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
from .cli import build_parser, main
from .config import FPS, GENERATOR_NAME, GENERATOR_VERSION, WorldConfig, rng_stream
from .dan import DAN_ACTIONS, NULL_OBJECT, TWO_OBJECT_ACTIONS
from .draw import Instance, PartState, Pose, make_instance
from .render import render_catalogue, render_clip
from .world import CATALOGUE_ASPECTS, generate_world, reuse_or_generate_world

__all__ = [
    "VERBS",
    "FPS",
    "GENERATOR_NAME",
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
    "PartState",
    "Pose",
    "make_instance",
    "render_catalogue",
    "render_clip",
    "WorldConfig",
    "rng_stream",
    "CATALOGUE_ASPECTS",
    "generate_world",
    "reuse_or_generate_world",
    "DAN_ACTIONS",
    "NULL_OBJECT",
    "TWO_OBJECT_ACTIONS",
    "build_parser",
    "main",
]
