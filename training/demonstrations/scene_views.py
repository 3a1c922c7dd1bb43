"""Held-out objects as the robot's camera sees them: test images in the demonstration scene's view.

The world's test images are catalogue photos (``training.synthetic``): the kind of image a generated dataset
trains on, not the kind a robot's camera gives the node. These are the other kind: new instances of the
scene's categories standing on the scene's textured table among other objects, drawn by the scene's camera
and cut out as the at-rest window ``find`` cuts (a square of ``FindConfig.context`` times the object's
longer side). Each (image, verb the category affords) gets the world's annotation: annotators' points near
the part the verb acts on, and that part's box, in OPRA's layout (``annotations.json`` ``test_images``), so
``training.evaluate`` scores a model on them as on the world's. Issue 19's benchmark scores on both.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from hotspot_core.errors import ConfigError
from training.synthetic.catalogue import CATEGORY_BY_NAME, VERBS
from training.synthetic.draw import Pose, draw_object, textured_background
from training.synthetic.world import verb_annotations

from .find import FindConfig, square_window
from .scene import SceneConfig, detection_box, place_objects
from .staging import staged_folder

__all__ = ["SceneViewConfig", "write_scene_views"]

CHANNEL = "scene_views"  # the images' first path part, as OPRA's YouTube channel


@dataclass(frozen=True)
class SceneViewConfig:
    """per_category: held-out objects per category (each one image per verb it affords); seed: their own
    random stream (not the scene's); annotators: points per (image, verb), as the world's; context: the
    window's side over the object's longer side (find's at-rest window)."""

    per_category: int = 8
    seed: int = 0
    annotators: int = 5
    context: float = FindConfig().context
    jpeg_quality: int = 92

    def __post_init__(self) -> None:
        if self.per_category < 1 or self.annotators < 1 or not 1.0 <= self.context <= 10.0:
            raise ConfigError("scene views: per_category and annotators must be >= 1, context 1..10")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError("scene views: jpeg_quality must be 1..100")


def write_scene_views(
    out: str | Path, scene: SceneConfig, categories: Sequence[str], cfg: SceneViewConfig = SceneViewConfig()
) -> dict[str, Any]:
    """Write ``out/images/...`` and ``out/annotations.json`` (verbs: the world's seven), the test images of
    ``cfg.per_category`` new objects of each of ``categories`` on ``scene``'s table and camera, each with
    ``scene.objects - 1`` objects of other categories of ``scene.categories`` beside it. Appears whole or not
    at all (``staged_folder``). Returns the annotations."""
    unknown = [c for c in categories if c not in CATEGORY_BY_NAME]
    if unknown or not categories:
        raise ConfigError(f"scene views: unknown or no categories {unknown or list(categories)}")
    others = [c for c in scene.categories if c not in categories] or list(scene.categories)
    annots: dict[str, Any] = {
        "verbs": list(VERBS),
        "nouns": list(categories),
        "train_clips": [],
        "test_clips": [],
        "train_images": [],
        "test_images": [],
    }
    with staged_folder(Path(out)) as tmp:
        for n, name in enumerate(categories):
            for k in range(cfg.per_category):
                rng = np.random.default_rng([cfg.seed, 23, n, k])
                annots["test_images"] += _object_view(tmp, scene, name, others, n, k, rng, cfg)
        (tmp / "annotations.json").write_text(json.dumps(annots, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.txt").write_text(
            "Test images of held-out objects in the demonstration scene's view (training.demonstrations."
            "scene_views):\n"
            f"categories {list(categories)}, {cfg.per_category} objects each, {scene.width}x{scene.height} camera, "
            f"window {cfg.context} x the object's side, seed {cfg.seed}.\n",
            encoding="utf-8",
        )
    return annots


def _object_view(
    root: Path,
    scene: SceneConfig,
    name: str,
    others: list[str],
    noun: int,
    k: int,
    rng: np.random.Generator,
    cfg: SceneViewConfig,
) -> list[dict[str, Any]]:
    """One table: the held-out object of ``name`` in a random slot among others; its window and annotations."""
    n_others = min(scene.objects - 1, len(others))
    names = [str(c) for c in rng.choice(others, size=n_others, replace=False)] if n_others else []
    names.insert(int(rng.integers(0, len(names) + 1)), name)
    table = textured_background(scene.height, scene.width, rng)
    objs = place_objects(names, scene.width, scene.height, rng)
    for o in objs:
        draw_object(table, o.inst, o.pose)
    target = objs[names.index(name)]
    box = detection_box(
        target.inst, target.pose, None, scene.width, scene.height
    )  # the detection box the scene publishes
    if box is None:  # cannot happen for a placed object; a clear error if the drawing ever changes
        raise RuntimeError(f"scene views: {name} object {k} has no box")
    x0, y0, x1, y1 = square_window(tuple(box), cfg.context, scene.width, scene.height)
    view = table[y0:y1, x0:x1]
    h, w = view.shape[:2]
    pose = Pose(target.pose.cx - x0, target.pose.cy - y0, target.pose.size, target.pose.angle)  # in the window
    image = [CHANNEL, name, f"{name}-{k:03d}", "view.jpg"]
    path = root / "images" / Path(*image)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), view, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality]):
        raise OSError(f"could not write {path}")
    # the scene's one random stream, after the drawing, gives every verb's points
    return verb_annotations(target.inst, pose, image, (h, w), noun, cfg.annotators, lambda verb: rng)
