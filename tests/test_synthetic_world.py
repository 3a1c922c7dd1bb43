"""Tests of training.synthetic (the synthetic world): layout/schema read by the real OPRA loaders, determinism, GT on
the right part, the novel-category split, the CLI and the old module names."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from hotspot_core.eval.ground_truth import gt_heatmap_from_points
from training import synthetic as sw
from training.data import HotspotTestImages, OPRAClips

# CI-sized: every category, few clips, small frames.
SMALL = dict(
    products_per_category=2,
    clips_per_category=2,
    test_per_category=1,
    test_clips_per_category=1,
    image_size=96,
    min_frames=4,
    max_frames=9,
    short_clip_frac=0.1,
)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("world") / "seen"
    annots = sw.generate_world(root, sw.WorldConfig(seed=0, **SMALL))
    return root, annots


@pytest.fixture(scope="module")
def novel_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("world") / "novel"
    annots = sw.generate_world(root, sw.WorldConfig(seed=1, split="novel", **SMALL))
    return root, annots


def test_categories_parts_and_verbs() -> None:
    assert len(sw.CATEGORIES) >= 8
    assert set(sw.VERBS) == {"hold", "touch", "rotate", "push", "pull", "pick up", "put down"}
    used = {v for c in sw.CATEGORIES for v in c.verbs}
    assert used == set(sw.VERBS)  # every OPRA verb is afforded somewhere
    for c in sw.CATEGORIES:
        assert len(c.parts) >= 2 and all(c.part(p) for p in c.verbs.values())
    # Actions are shared across categories.
    assert all(sum(v in c.verbs for c in sw.CATEGORIES) >= 2 for v in sw.VERBS)


def test_schema_and_layout_match_opra(world: tuple[Path, dict]) -> None:
    root, annots = world
    on_disk = json.loads((root / "annotations.json").read_text())
    assert on_disk == annots
    assert on_disk["verbs"] == list(sw.VERBS)
    short = set(on_disk["short_clips"])
    assert len(short) >= 1
    for i, e in enumerate(on_disk["train_clips"] + on_disk["test_clips"]):
        assert len(e["clip"]) == 5 and all(isinstance(p, str) for p in e["clip"])
        folder = root / "frames" / ("%s/%s/%s/%s_%s.mp4" % tuple(e["clip"]))
        names = sorted(p.name for p in folder.iterdir())
        n = e["nframes"] - (1 if (i in short and i < len(on_disk["train_clips"])) else 0)
        assert names == ["image-%08d.jpg" % k for k in range(1, n + 1)]
        assert cv2.imread(str(folder / names[0])).shape == (96, 96, 3)
        assert (root / "images" / Path(*e["image"])).is_file()
        assert e["image"][:3] == e["clip"][:3]
    for e in on_disk["test_images"] + on_disk["train_images"]:
        img = cv2.imread(str(root / "images" / Path(*e["image"])))
        assert list(img.shape[:2]) == e["shape"]
        assert isinstance(e["verb"], int) and isinstance(e["points"], list)
    assert (root / "README.txt").read_text().startswith("Synthetic interaction-hotspot world")


def test_opra_loaders_read_the_world(world: tuple[Path, dict]) -> None:
    root, annots = world
    with pytest.warns(RuntimeWarning, match="listed frames missing"):
        ds = OPRAClips(root, resize=64, crop=56)
    assert len(ds) == len(annots["train_clips"]) and ds.dropped_entries == 0
    assert ds.missing_frames == len(annots["short_clips"]) == ds.clamped_clips
    s = ds[0]
    assert s["frames"].shape == (8, 3, 56, 56) and s["inactive"].shape == (3, 56, 56)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        val = OPRAClips(root, split="test", resize=64, crop=56)
    assert len(val) == len(annots["test_clips"]) and not val.train
    te = HotspotTestImages(root, "opra", size=56)
    assert len(te) == len(annots["test_images"])
    sums = [float(te[i]["heatmap"].sum()) for i in range(len(te))]
    assert all(abs(x - 1) < 1e-3 or x == 0 for x in sums)


def test_about_a_fifth_of_test_entries_have_no_points(world: tuple[Path, dict]) -> None:
    _, annots = world
    for key in ("test_images", "train_images"):
        entries = annots[key]
        empty = sum(1 for e in entries if not e["points"])
        assert empty == round(0.2 * len(entries))
        assert all(len(e["points"]) >= 5 for e in entries if e["points"])  # several annotators


def _peak_on_part(e: dict, transpose: bool) -> bool:
    hm = gt_heatmap_from_points(e["points"], e["shape"], k_ratio=3.0, transpose=transpose)
    r, c = np.unravel_index(int(hm.argmax()), hm.shape)
    (r0, r1), (c0, c1) = e["part_rows"], e["part_cols"]
    m = 2
    return r0 - m <= r <= r1 + m and c0 - m <= c <= c1 + m


def test_gt_peak_lies_on_the_interaction_part(world: tuple[Path, dict]) -> None:
    root, annots = world
    entries = [e for e in annots["test_images"] + annots["train_images"] if e["points"]]
    assert entries
    for e in entries:
        assert _peak_on_part(e, transpose=False), (e["image"], e["part"])
        # The peak is on the object, not on the clean catalogue background.
        img = cv2.imread(str(root / "images" / Path(*e["image"]))).astype(int)
        hm = gt_heatmap_from_points(e["points"], e["shape"])
        r, c = np.unravel_index(int(hm.argmax()), hm.shape)
        (r0, r1), (c0, c1) = e["part_rows"], e["part_cols"]
        patch = img[r0 : r1 + 1, c0 : c1 + 1]
        assert np.abs(patch - img[1, 1]).sum(-1).max() > 60  # the part box holds non-background pixels
    # Reading the points as (x, y) instead would miss most parts: the check is orientation-sensitive.
    swapped = [dict(e, points=[[p[1], p[0]] for p in e["points"]], shape=e["shape"][::-1]) for e in entries]
    hits = sum(
        _peak_on_part(dict(s, part_rows=e["part_rows"], part_cols=e["part_cols"]), transpose=True)
        for s, e in zip(swapped, entries)
    )
    assert hits == len(entries)  # EPIC-style (x, y) + transpose is the same map ...
    misses = sum(
        not _peak_on_part(dict(e, points=[[p[1], p[0]] for p in e["points"]]), transpose=False) for e in entries
    )
    assert misses > len(entries) // 2  # ... while swapping the axes alone lands off the part


def test_seen_split_uses_new_instances_of_the_same_categories(world: tuple[Path, dict]) -> None:
    _, annots = world
    assert annots["split"] == "seen" and annots["train_categories"] == annots["test_categories"]
    assert len(annots["train_categories"]) >= 8
    train_products = {tuple(e["image"]) for e in annots["train_clips"]}
    test_products = {tuple(e["image"]) for e in annots["test_images"]}
    assert train_products.isdisjoint(test_products)
    assert {e["noun"] for e in annots["test_images"]} == {e["noun"] for e in annots["train_clips"]}


def test_novel_split_holds_out_categories(novel_world: tuple[Path, dict]) -> None:
    root, annots = novel_world
    nouns = annots["nouns"]
    train_cats, test_cats = set(annots["train_categories"]), set(annots["test_categories"])
    assert annots["split"] == "novel" and train_cats and test_cats and train_cats.isdisjoint(test_cats)
    assert {nouns[e["noun"]] for e in annots["train_clips"]} <= train_cats
    assert {nouns[e["noun"]] for e in annots["train_images"]} <= train_cats
    assert {nouns[e["noun"]] for e in annots["test_images"]} == test_cats
    assert not any(e["clip"][1] in test_cats for e in annots["train_clips"])
    train_verbs = {v for c in train_cats for v in annots["category_parts"][c]["verbs"]}
    assert {annots["verbs"][e["verb"]] for e in annots["test_images"]} <= train_verbs
    # No frame folder of a held-out category is referenced by the training loader.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = OPRAClips(root, resize=64, crop=56)
    assert not any(it.key.split("/")[1] in test_cats for it in ds.items)


def test_novel_split_rejects_verbs_no_training_category_affords() -> None:
    with pytest.raises(ValueError, match="no training category affords"):
        cfg = sw.WorldConfig(split="novel", categories=("mug", "drawer"), novel_categories=("drawer",))
        cfg.category_split()
    with pytest.raises(ValueError, match="unknown categories"):
        sw.WorldConfig(categories=("mug", "spaceship"))


def test_same_seed_gives_identical_world(tmp_path: Path) -> None:
    cfg = sw.WorldConfig(
        seed=5,
        categories=("mug", "bottle", "drawer"),
        products_per_category=1,
        clips_per_category=2,
        test_per_category=1,
        image_size=64,
        min_frames=3,
        max_frames=5,
        short_clip_frac=0.2,
    )
    sw.generate_world(tmp_path / "a", cfg)
    sw.generate_world(tmp_path / "b", cfg)
    a, b = tree_digest(tmp_path / "a"), tree_digest(tmp_path / "b")
    assert a == b and "annotations.json" in a and len(a) > 20
    sw.generate_world(tmp_path / "c", sw.WorldConfig(**{**cfg.__dict__, "seed": 6}))
    c = tree_digest(tmp_path / "c")
    assert c["annotations.json"] != a["annotations.json"]
    with pytest.raises(FileExistsError):
        sw.generate_world(tmp_path / "a", cfg)


def test_clips_show_a_hand_acting_on_the_part(tmp_path: Path) -> None:
    cfg = sw.WorldConfig(
        seed=2,
        categories=("bottle", "remote"),
        products_per_category=1,
        clips_per_category=3,
        test_per_category=1,
        image_size=128,
        min_frames=8,
        max_frames=8,
        test_clips_per_category=0,
    )
    annots = sw.generate_world(tmp_path / "w", cfg)
    for e in annots["train_clips"]:
        folder = tmp_path / "w" / "frames" / ("%s/%s/%s/%s_%s.mp4" % tuple(e["clip"]))
        first = cv2.imread(str(folder / "image-00000001.jpg")).astype(int)
        last = cv2.imread(str(folder / "image-00000008.jpg")).astype(int)
        assert np.abs(first - last).sum(-1).mean() > 1.0  # things move

        # Skin-coloured pixels (BGR, R > G > B) appear by the end: the hand has arrived.
        def skin(img: np.ndarray) -> int:
            b, g, r = img[..., 0], img[..., 1], img[..., 2]
            return int(((r > g + 15) & (g > b + 10) & (r > 90)).sum())

        assert skin(last) > skin(first)


def test_cli_writes_a_ci_sized_novel_world(tmp_path: Path) -> None:
    # Speed is a figure, not an assertion (house rule): the CLI logs the generation time.
    out = tmp_path / "cli"
    rc = sw.main(
        [
            "--out",
            str(out),
            "--seed",
            "0",
            "--clips-per-category",
            "3",
            "--test-per-category",
            "1",
            "--products-per-category",
            "2",
            "--image-size",
            "128",
            "--min-frames",
            "6",
            "--max-frames",
            "10",
            "--split",
            "novel",
        ]
    )
    annots = json.loads((out / "annotations.json").read_text())
    n_frames = sum(e["nframes"] for e in annots["train_clips"] + annots["test_clips"])
    assert rc == 0 and n_frames >= 200, n_frames
    assert annots["generator"]["args"]["split"] == "novel"
    assert set(annots["test_categories"]) == set(sw.DEFAULT_NOVEL)


def test_old_module_names_write_the_same_world(tmp_path: Path) -> None:
    # `python -m training.synthetic_world` (scripts and worlds' README.txt name it) and the old import paths
    # are shims over training.synthetic: same CLI, same names, byte-identical output.
    args = [
        "--seed",
        "3",
        "--categories",
        "mug",
        "drawer",
        "kettle",
        "--products-per-category",
        "1",
        "--clips-per-category",
        "2",
        "--test-per-category",
        "1",
        "--image-size",
        "64",
        "--min-frames",
        "3",
        "--max-frames",
        "4",
        "--dan-labels",
        "--dan-two-object-clips",
        "1",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    subprocess.run(
        [sys.executable, "-m", "training.synthetic_world", "--out", str(tmp_path / "old"), *args],
        check=True,
        env=env,
        capture_output=True,
    )
    assert sw.main(["--out", str(tmp_path / "new"), *args]) == 0
    old, new = tree_digest(tmp_path / "old"), tree_digest(tmp_path / "new")
    assert old == new and len(old) > 20
    from training import synthetic_world

    assert synthetic_world.generate_world is sw.generate_world and synthetic_world.WorldConfig is sw.WorldConfig


def test_package_modules_form_a_layered_graph_without_private_imports() -> None:
    # Each module of training.synthetic imports only modules listed before it (no circle) and only public names.
    order = ["catalogue", "draw", "render", "config", "dan", "world", "cli"]
    folder = Path(sw.__file__).parent
    for i, name in enumerate(order):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node.module in order[:i], (name, node.module)
                assert not any(a.name.startswith("_") for a in node.names), (name, node.module)
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(order + ["__init__", "__main__"])
