"""Tests of training.data (transforms, windows, OPRA/EPIC loaders, test images, sampler, config) and
training.extract_frames, on small fixtures written in the real on-disk layouts."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from fixtures_epic import EXPECTED, TEST_IMAGE_H, TEST_IMAGE_W, TEST_POINTS_XY, make_epic_fixture
from PIL import Image
from torch.utils.data import DataLoader

from training import extract_frames
from training.data import (
    ClipTransform,
    ConfigError,
    CropPerturb,
    DatasetConfig,
    EPICClips,
    EvalTransform,
    HotspotTestImages,
    ImageTransform,
    OPRAClips,
    build_clip_dataset,
    class_balanced_sampler,
    class_balanced_weights,
    collate_test_images,
    select_window,
)
from training.data.config import add_dataset_args, dataset_config_from_args
from training.data.transforms import IMAGENET_MEAN, IMAGENET_STD

RESIZE, CROP = 40, 32  # small sizes keep the suite fast; defaults (256/224) are checked separately


def grey_level(t: torch.Tensor) -> float:
    """Undo the normalisation of a uniform grey (3,H,W) tensor -> its 0..255 level."""
    return float((t[0].mean() * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255.0)


# ----------------------------------------------------------------------------------------------------
# A tiny OPRA tree: frame i of a clip is grey level 10*i; each product's catalogue image has its own
# level, so tests can tell which frames / which product's image a sample used.
# ----------------------------------------------------------------------------------------------------
OPRA_CLIPS = [
    # (clip parts, nframes, frames on disk, verb, product level)
    (["ch1", "pl1", "vidA", "12.5", "4.0"], 20, 20, 0, 200),
    (["ch1", "pl1", "vidB", "3.0", "1.0"], 5, 5, 1, 150),  # short: padded
    (["ch2", "pl9", "vidC", "7.1", "1.6"], 8, 7, 2, 100),  # issue #5: last frame missing
    (["ch2", "pl9", "vidD", "0.0", "2.0"], 10, None, 0, 50),  # frame folder missing: dropped
]


def make_opra_fixture(root: Path) -> dict:
    clips = []
    for clip, nframes, on_disk, verb, level in OPRA_CLIPS:
        image = clip[:3] + ["product.jpg"]
        img_path = root / "images" / Path(*image)
        img_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(img_path), np.full((30, 44, 3), level, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 100])
        if on_disk is not None:
            d = root / "frames" / Path(*clip[:3]) / f"{clip[3]}_{clip[4]}.mp4"
            d.mkdir(parents=True, exist_ok=True)
            for i in range(1, on_disk + 1):
                cv2.imwrite(
                    str(d / ("image-%08d.jpg" % i)),
                    np.full((36, 36, 3), 10 * i, np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 100],
                )
        clips.append({"clip": clip, "nframes": nframes, "verb": verb, "noun": 0, "image": image})
    annots = {
        "verbs": ["hold", "rotate", "push"],
        "nouns": ["thing"],
        "train_clips": clips,
        "test_clips": [],
        "train_images": [],
        "test_images": [
            {
                "image": ["ch1", "pl1", "vidA", "product.jpg"],
                "verb": 1,
                "points": [[5.0, 35.0], [6.0, 36.0]],
                "shape": [30, 44],
            },
            {"image": ["ch1", "pl1", "vidB", "product.jpg"], "verb": 0, "points": [], "shape": [30, 44]},
        ],
    }
    (root / "annotations.json").write_text(json.dumps(annots), encoding="utf-8")
    return annots


@pytest.fixture(scope="module")
def opra_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("opra")
    make_opra_fixture(root)
    return root


@pytest.fixture(scope="module")
def epic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("epic")
    make_epic_fixture(root)
    return root


def opra(root: Path, train: bool = True, **kw) -> OPRAClips:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return OPRAClips(root, train=train, resize=RESIZE, crop=CROP, **kw)


def epic(root: Path, train: bool = True, **kw) -> EPICClips:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return EPICClips(root, train=train, resize=RESIZE, crop=CROP, **kw)


# ----------------------------------------------------------------------------------------------------
# Transforms
# ----------------------------------------------------------------------------------------------------
def _pattern(w: int = 60, h: int = 45) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.stack([xx * 255 // w, yy * 255 // h, (xx + yy) % 256], -1).astype(np.uint8)
    return Image.fromarray(arr)


def test_clip_transform_train_shares_crop_and_flip_across_frames() -> None:
    t = ClipTransform(train=True, resize=RESIZE, crop=CROP)
    img = _pattern()
    flips = 0
    for seed in range(40):
        out = t([img, img.copy(), img.copy()], np.random.default_rng(seed))
        assert out.shape == (3, 3, CROP, CROP) and out.dtype == torch.float32
        assert torch.equal(out[0], out[1]) and torch.equal(out[0], out[2])
        # Channel 0 increases with x in the source: a flip makes it decrease.
        flips += bool(out[0, 0, :, 0].mean() > out[0, 0, :, -1].mean())
    assert 8 <= flips <= 32  # p=0.5 clip-wide flip


def test_clip_transform_train_is_seeded_and_val_is_centre_crop() -> None:
    img = _pattern()
    t = ClipTransform(train=True, resize=RESIZE, crop=CROP)
    a = t([img], np.random.default_rng(7))
    b = t([img], np.random.default_rng(7))
    assert torch.equal(a, b)
    outs = {t([img], np.random.default_rng(s)).sum().item() for s in range(10)}
    assert len(outs) > 1  # crops actually vary
    v = ClipTransform(train=False, resize=RESIZE, crop=CROP)
    p = v.sample_params(RESIZE, int(RESIZE * 60 / 45), None)
    assert not p.flip and p.top == 4 and p.left == round((53 - CROP) / 2)
    assert torch.equal(v([img]), v([img]))


def test_image_transform_and_defaults() -> None:
    img = _pattern(300, 200)
    out = ImageTransform(train=True)(img, np.random.default_rng(0))
    assert out.shape == (3, 224, 224)
    assert ImageTransform(train=False)(img).shape == (3, 224, 224)
    with pytest.raises(ValueError):
        ImageTransform(train=True, resize=100, crop=120)


def test_eval_transform_resizes_straight_without_keeping_aspect() -> None:
    arr = np.zeros((20, 80, 3), np.uint8)
    arr[:, 40:] = 255  # right half white
    out = EvalTransform(32)(Image.fromarray(arr))
    assert out.shape == (3, 32, 32)
    # The white half covers the right half of the square output (no crop, aspect not kept).
    assert grey_level(out[:, :, 20:]) > 250 and grey_level(out[:, :, :12]) < 5


# ----------------------------------------------------------------------------------------------------
# Windows
# ----------------------------------------------------------------------------------------------------
def test_select_window_train_range_excludes_last_start() -> None:
    starts = Counter(select_window(12, 8, True, np.random.default_rng(s))[0] for s in range(300))
    assert set(starts) == {0, 1, 2, 3}  # [0, 12-8): the last window (start 4) is never used
    assert all(select_window(12, 8, True, np.random.default_rng(s))[1] == 8 for s in range(5))


def test_select_window_val_centred_and_short_clips() -> None:
    assert select_window(20, 8, False) == (6, 8)
    assert select_window(9, 8, False) == (0, 8)
    assert select_window(5, 8, True, np.random.default_rng(0)) == (0, 5)
    assert select_window(8, 8, True, np.random.default_rng(0)) == (0, 8)


# ----------------------------------------------------------------------------------------------------
# OPRA loader
# ----------------------------------------------------------------------------------------------------
def test_opra_shapes_dtypes_and_padding(opra_root: Path) -> None:
    ds = opra(opra_root, train=True)
    assert len(ds) == 3
    for i in range(len(ds)):
        s = ds[i]
        assert s["frames"].shape == (8, 3, CROP, CROP) and s["frames"].dtype == torch.float32
        assert s["inactive"].shape == (3, CROP, CROP) and s["negative"].shape == (3, CROP, CROP)
        assert isinstance(s["length"], int) and isinstance(s["verb"], int) and isinstance(s["key"], str)
    short = ds[1]
    assert short["length"] == 5 and short["key"] == "ch1/pl1/vidB/3.0_1.0.mp4"
    assert torch.count_nonzero(short["frames"][5:]) == 0
    assert all(torch.count_nonzero(short["frames"][i]) > 0 for i in range(5))
    assert ds.labels == [0, 1, 2]


def test_opra_validation_window_is_centred(opra_root: Path) -> None:
    ds = opra(opra_root, train=False)
    s = ds[0]  # 20 frames -> centred window starts at frame index 6 (frame file 7)
    levels = [round(grey_level(f) / 10) for f in s["frames"]]
    assert s["length"] == 8 and levels == list(range(7, 15))


def test_opra_training_windows_random_but_reproducible(opra_root: Path) -> None:
    ds = opra(opra_root, train=True, seed=3)
    first = []
    for epoch in range(12):
        ds.set_epoch(epoch)
        levels = [round(grey_level(f) / 10) for f in ds[0]["frames"]]
        assert levels == list(range(levels[0], levels[0] + 8))  # consecutive frames
        assert 1 <= levels[0] <= 12  # start in [0, 20-8) -> first file 1..12
        first.append(levels[0])
    assert len(set(first)) > 1
    ds.set_epoch(4)
    again = opra(opra_root, train=True, seed=3)
    again.set_epoch(4)
    a, b = ds[0], again[0]
    assert torch.equal(a["frames"], b["frames"]) and torch.equal(a["inactive"], b["inactive"])


def test_opra_missing_frames_clamped_and_missing_folders_dropped(opra_root: Path) -> None:
    with pytest.warns(RuntimeWarning, match="1 dropped.*1 listed frames missing"):
        ds = OPRAClips(opra_root, train=False, resize=RESIZE, crop=CROP)
    assert ds.missing_frames == 1 and ds.clamped_clips == 1 and ds.dropped_entries == 1
    assert ds.counters() == {
        "entries": 4,
        "dropped_entries": 1,
        "clamped_clips": 1,
        "missing_frames": 1,
        "missing_images": 0,
    }
    s = ds[2]  # nframes 8 in the json, 7 on disk: never crashes, true length 7
    assert s["length"] == 7 and torch.count_nonzero(s["frames"][7]) == 0
    assert "vidD" not in " ".join(it.key for it in ds.items)


def test_opra_clip_with_missing_catalogue_image_is_dropped(tmp_path: Path) -> None:
    make_opra_fixture(tmp_path)
    (tmp_path / "images" / "ch1" / "pl1" / "vidB" / "product.jpg").unlink()
    with pytest.warns(RuntimeWarning) as record:
        ds = OPRAClips(tmp_path, resize=RESIZE, crop=CROP)
    messages = [str(w.message) for w in record]
    assert any("1 clips dropped (catalogue image missing)" in m for m in messages)
    assert any("2/4 clips usable" in m for m in messages)
    assert ds.missing_images == 1 and len(ds) == 2 and "vidB" not in " ".join(it.key for it in ds.items)


def test_opra_inactive_is_own_product_and_negative_another(opra_root: Path) -> None:
    ds = opra(opra_root, train=True)
    levels = {0: 200, 1: 150, 2: 100}
    for epoch in range(5):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            s = ds[i]
            assert abs(grey_level(s["inactive"]) - levels[i]) < 3
            neg = grey_level(s["negative"])
            assert abs(neg - levels[i]) > 20 and min(abs(neg - v) for v in levels.values()) < 3


def test_opra_batches_through_dataloader_with_class_balanced_sampler(opra_root: Path) -> None:
    ds = opra(opra_root, train=True)
    sampler = class_balanced_sampler(ds.labels, generator=torch.Generator().manual_seed(0))
    batch = next(iter(DataLoader(ds, batch_size=3, sampler=sampler, shuffle=False)))
    assert batch["frames"].shape == (3, 8, 3, CROP, CROP)
    assert batch["length"].dtype == torch.int64 and len(batch["key"]) == 3


# ----------------------------------------------------------------------------------------------------
# EPIC loader
# ----------------------------------------------------------------------------------------------------
def test_epic_loader_counts_and_shapes(epic_root: Path) -> None:
    with pytest.warns(RuntimeWarning):
        ds = EPICClips(epic_root, train=True, resize=RESIZE, crop=CROP)
    got = ds.counters()
    for k, v in EXPECTED.items():
        if k != "usable_clips":
            assert got[k] == v, k
    assert len(ds) == EXPECTED["usable_clips"]
    assert [it.key for it in ds.items] == ["P01_01/1_101", "P01_01/21_61", "P02_03/11_131"]
    for epoch in range(3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):  # includes the zero-width 'cup' box
            s = ds[i]
            assert s["frames"].shape == (8, 3, CROP, CROP)
            assert s["inactive"].shape == (3, CROP, CROP) and s["negative"].shape == (3, CROP, CROP)
    assert ds[1]["length"] == 5 and torch.count_nonzero(ds[1]["frames"][5:]) == 0


def test_epic_frames_every_tenth_centred_and_clamped(epic_root: Path) -> None:
    ds = epic(epic_root, train=False)
    levels = [round(grey_level(f)) for f in ds[0]["frames"]]
    # frames 1,11,...,101 (11 of them); centred window of 8 starts at index 1 -> frames 11..81
    assert levels == list(range(11, 82, 10))
    names = [Path(f).name for f in ds.items[0].frames]
    assert names == ["frame_%010d.jpg" % i for i in range(1, 102, 10)]  # range(start, stop+1, 10)
    s = ds[2]  # 11..131 listed, video ends at 91 -> 9 frames on disk
    assert ds.items[2].frames[-1].endswith("frame_0000000091.jpg") and len(ds.items[2].frames) == 9
    assert s["length"] == 8


def test_epic_from_config(epic_root: Path) -> None:
    cfg = DatasetConfig(name="epic", root=epic_root, resize=RESIZE, crop=CROP)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = build_clip_dataset(cfg)
    assert isinstance(ds, EPICClips) and len(ds) == EXPECTED["usable_clips"]


def test_clip_datasets_share_argument_handling(epic_root: Path, opra_root: Path) -> None:
    # One constructor path for both datasets: the dataset's default frame stride, layout folders from the
    # config, the name check, and a config-built dataset equal to a directly built one.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert (epic(epic_root).sample_rate, opra(opra_root).sample_rate) == (10, 1)
        for root, name, direct in ((epic_root, "epic", epic), (opra_root, "opra", opra)):
            cfg = DatasetConfig(name=name, root=root, resize=RESIZE, crop=CROP, sample_rate=2, seed=4)
            built = build_clip_dataset(cfg, split="train", train=False)
            plain = direct(root, False, sample_rate=2, seed=4)
            assert [(i.frames, i.key) for i in built.items] == [(i.frames, i.key) for i in plain.items]
            assert built.sample_rate == 2 and not built.train and built.counters() == plain.counters()
            other = EPICClips if name == "opra" else OPRAClips
            with pytest.raises(ValueError, match=f"{other.__name__} needs an '{other.dataset_name}' config"):
                other.from_config(cfg)


# ----------------------------------------------------------------------------------------------------
# CropPerturb
# ----------------------------------------------------------------------------------------------------
def test_crop_perturb_bounds() -> None:
    cp = CropPerturb()
    W, H = 200, 100
    x0, y0, x1, y1 = 60, 30, 100, 70
    w, h = x1 - x0, y1 - y0
    for s in range(300):
        left, t, r, b = cp.params((x0, y0, x1, y1), (W, H), np.random.default_rng(s))
        pw, ph = math.floor(1.5 * w) // 2, math.floor(1.5 * h) // 2
        assert x0 - min(pw, x0) - 0.2 * w - 1 <= left <= x0 + 0.2 * w + 1
        assert x1 - 0.2 * w - 1 <= r <= x1 + min(pw, W - x1) + 0.2 * w + 1
        assert y0 - min(ph, y0) - 0.2 * h - 1 <= t <= y0 + 0.2 * h + 1
        assert y1 - 0.2 * h - 1 <= b <= y1 + min(ph, H - y1) + 0.2 * h + 1
        assert w - 1 <= r - left <= w + 2 * pw + 1
    # At the border the padding is limited to the room left; only the shift can leave the image.
    for s in range(100):
        left, t, r, b = cp.params((0, 0, 50, 40), (50, 40), np.random.default_rng(s))
        assert -0.2 * 50 - 1 <= left <= 0.2 * 50 + 1 and r - left <= 51


def test_crop_perturb_zero_size_box_does_not_raise() -> None:
    cp = CropPerturb()
    img = Image.fromarray(np.full((30, 40, 3), 90, np.uint8))
    for box in ([10, 10, 10, 20], [10, 10, 20, 10], [5, 5, 5, 5], [3, 3, 4, 4]):
        for s in range(20):  # e*w < 1 for width-1 boxes is the reference's UnboundLocalError case
            out = cp(img, box, np.random.default_rng(s))
            assert out.size[0] >= 1 and out.size[1] >= 1
    out = ImageTransform(train=True, resize=RESIZE, crop=CROP)(
        cp(img, [10, 10, 10, 20], np.random.default_rng(0)), np.random.default_rng(0)
    )
    assert out.shape == (3, CROP, CROP)


def test_crop_perturb_outside_image_is_black() -> None:
    img = Image.fromarray(np.full((20, 20, 3), 200, np.uint8))
    out = np.asarray(img.crop((-10, -10, 10, 10)))
    assert out[0, 0].tolist() == [0, 0, 0] and out[-1, -1].tolist() == [200, 200, 200]


# ----------------------------------------------------------------------------------------------------
# Test images and GT
# ----------------------------------------------------------------------------------------------------
def test_opra_test_images_gt_and_keys(opra_root: Path) -> None:
    ds = HotspotTestImages(opra_root, "opra", size=32)
    s = ds[0]
    assert s["image"].shape == (3, 32, 32) and s["heatmap"].shape == (32, 32)
    assert s["key"] == ("ch1", "pl1", "vidA", "product.jpg", "1") and s["verb"] == 1
    assert abs(float(s["heatmap"].sum()) - 1.0) < 1e-4
    r, c = np.unravel_index(int(s["heatmap"].argmax()), (32, 32))
    # points [row 5, col 35] of a 30x44 map -> top right of the square GT
    assert r < 12 and c > 20
    assert float(ds[1]["heatmap"].abs().sum()) == 0.0  # empty points -> all-zero GT
    b = collate_test_images([ds[0], ds[1]])
    assert b["image"].shape == (2, 3, 32, 32) and b["key"][1] == ("ch1", "pl1", "vidB", "product.jpg", "0")


def test_epic_test_images_are_transposed(epic_root: Path) -> None:
    S = 40
    ds = HotspotTestImages(epic_root, "epic", size=S)
    hm = ds[0]["heatmap"].numpy()
    r, c = np.unravel_index(int(hm.argmax()), hm.shape)
    x, y = np.mean(TEST_POINTS_XY, axis=0)
    # EPIC points are (x, y) with shape (W, H); transpose=True puts x on columns.
    assert abs(c - x / TEST_IMAGE_W * S) <= 2 and abs(r - y / TEST_IMAGE_H * S) <= 2
    as_opra = HotspotTestImages(epic_root, "opra", size=S)[0]["heatmap"].numpy()
    r2, c2 = np.unravel_index(int(as_opra.argmax()), as_opra.shape)
    assert abs(r2 - r) > 5 or abs(c2 - c) > 5  # the flag matters
    assert ds[1]["key"] == ("P01_01_31_10_5_40_30.jpg", "4")


# ----------------------------------------------------------------------------------------------------
# Sampler
# ----------------------------------------------------------------------------------------------------
def test_class_balanced_weights_capped_at_100() -> None:
    labels = [0] * 1000 + [1] * 5 + [2] * 95
    w = class_balanced_weights(labels)
    assert w.dtype == torch.float64 and w.shape == (1100,)
    assert w[0].item() == pytest.approx(1.1)
    assert w[1000].item() == 100.0  # 1100/5 = 220 capped
    assert w[1005].item() == pytest.approx(1100 / 95)
    assert class_balanced_weights(labels, cap=1000.0)[1000].item() == pytest.approx(220.0)


def test_class_balanced_sampler_draws_with_replacement_and_is_seeded() -> None:
    labels = [0] * 90 + [1] * 10
    s1 = class_balanced_sampler(labels, generator=torch.Generator().manual_seed(1))
    s2 = class_balanced_sampler(labels, generator=torch.Generator().manual_seed(1))
    d1, d2 = list(s1), list(s2)
    assert s1.replacement and len(d1) == 100 and d1 == d2
    minority = sum(labels[i] == 1 for i in d1)
    assert 30 <= minority <= 70  # balanced, not 10%


# ----------------------------------------------------------------------------------------------------
# Config
# ----------------------------------------------------------------------------------------------------
def test_dataset_config_yaml_and_validation(tmp_path: Path, opra_root: Path) -> None:
    p = tmp_path / "data.yaml"
    p.write_text(f"name: opra\nroot: {opra_root}\nmax_len: 6\nresize: {RESIZE}\ncrop: {CROP}\n")
    cfg = DatasetConfig.from_yaml(p, check_paths=True)
    assert cfg.max_len == 6 and cfg.sample_rate == 1 and cfg.frames_path == opra_root / "frames"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = build_clip_dataset(cfg, train=False)
    assert isinstance(ds, OPRAClips) and ds[0]["frames"].shape == (6, 3, CROP, CROP)
    assert DatasetConfig.from_dict(cfg.to_dict()) == cfg

    p.write_text(f"name: opra\nroot: {opra_root}\nmaxlen: 8\n")
    with pytest.raises(ConfigError, match="unknown dataset config keys.*maxlen"):
        DatasetConfig.from_yaml(p)
    p.write_text("name: opra\nmax_len: 8\n")
    with pytest.raises(ConfigError, match="root"):
        DatasetConfig.from_yaml(p)
    with pytest.raises(ConfigError, match="does not exist"):
        DatasetConfig.from_dict({"name": "opra", "root": str(tmp_path / "nope")}, check_paths=True)
    with pytest.raises(ConfigError, match="name"):
        DatasetConfig.from_dict({"name": "coco", "root": str(tmp_path)})
    with pytest.raises(ConfigError, match="crop"):
        DatasetConfig(name="epic", root=tmp_path, resize=100, crop=200)
    assert DatasetConfig(name="epic", root=tmp_path).sample_rate == 10


def test_dataset_config_without_a_name_reads_it_from_the_root(tmp_path: Path, opra_root: Path, epic_root: Path) -> None:
    """``--data-root DIR`` alone (no ``--data-name``): the tree under DIR says which dataset it is."""
    assert DatasetConfig.from_dict({"root": str(opra_root)}).name == "opra"
    assert DatasetConfig.from_dict({"root": str(epic_root)}).name == "epic"
    with pytest.raises(ConfigError, match="--data-name"):
        DatasetConfig.from_dict({"root": str(tmp_path)})  # neither tree: the user must say
    with pytest.raises(ConfigError, match="does not exist"):
        DatasetConfig.from_dict({"root": str(tmp_path / "nope")})


def test_dataset_config_cli_flags_override_yaml(tmp_path: Path, opra_root: Path) -> None:
    import argparse

    p = tmp_path / "data.yaml"
    p.write_text(f"dataset:\n  name: opra\n  root: {opra_root}\n  max_len: 6\n")
    parser = argparse.ArgumentParser()
    add_dataset_args(parser)
    cfg = dataset_config_from_args(parser.parse_args(["--data-config", str(p), "--max-len", "4"]))
    assert cfg.max_len == 4 and cfg.root == opra_root
    cfg = dataset_config_from_args(parser.parse_args(["--data-name", "opra", "--data-root", str(opra_root)]))
    assert cfg.name == "opra" and cfg.max_len == 8


# ----------------------------------------------------------------------------------------------------
# Frame extraction
# ----------------------------------------------------------------------------------------------------
def _write_test_video(path: Path, n: int = 30, fps: float = 20.0) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 48))
    if not vw.isOpened():
        return False
    for i in range(n):
        vw.write(np.full((48, 64, 3), 8 * i, np.uint8))
    vw.release()
    cap = cv2.VideoCapture(str(path))
    ok = cap.isOpened() and cap.read()[0]
    cap.release()
    return bool(ok)


@pytest.fixture()
def clips_tree(tmp_path: Path) -> Path:
    clips = tmp_path / "clips"
    if not _write_test_video(clips / "chX" / "plY" / "vidZ" / "10.0_1.5.mp4"):
        pytest.skip("OpenCV cannot write/read mp4 here")
    return clips


def test_extract_frames_opencv_resamples_to_5fps(clips_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "frames" / "clip.mp4"
    n = extract_frames.extract_opencv(clips_tree / "chX/plY/vidZ/10.0_1.5.mp4", out, fps=5, size=32)
    assert n == 8  # 30 frames at 20 fps = 1.5 s -> outputs at 0, 0.2, ..., 1.4 s
    files = sorted(out.glob("image-*.jpg"))
    assert [f.name for f in files] == ["image-%08d.jpg" % i for i in range(1, 9)]
    levels = [float(cv2.imread(str(f)).mean()) for f in files]
    for k, lv in enumerate(levels):  # output k is input frame 4k (level 32k)
        assert abs(lv - 32 * k) < 6, (k, lv)
    assert cv2.imread(str(files[0])).shape == (32, 32, 3)


def test_extract_frames_cli_writes_loader_layout(
    clips_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract_frames.shutil, "which", lambda name: None)  # force the OpenCV path
    frames, counts = tmp_path / "frames", tmp_path / "counts.json"
    rc = extract_frames.main(
        ["--clips", str(clips_tree), "--out", str(frames), "--size", "32", "--counts", str(counts)]
    )
    assert rc == 0
    folder = frames / "chX" / "plY" / "vidZ" / "10.0_1.5.mp4"
    assert (folder / "image-00000001.jpg").is_file() and (folder / "image-00000008.jpg").is_file()
    assert json.loads(counts.read_text()) == {"chX/plY/vidZ/10.0_1.5.mp4": 8}
    # Already extracted folders are kept unless --overwrite.
    (folder / "image-00000008.jpg").unlink()
    extract_frames.main(["--clips", str(clips_tree), "--out", str(frames), "--size", "32"])
    assert not (folder / "image-00000008.jpg").exists()
    extract_frames.main(["--clips", str(clips_tree), "--out", str(frames), "--size", "32", "--overwrite"])
    assert (folder / "image-00000008.jpg").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not on PATH")
def test_extract_frames_ffmpeg(clips_tree: Path, tmp_path: Path) -> None:
    assert extract_frames.choose_backend("auto") == "ffmpeg"
    out = tmp_path / "ff" / "clip.mp4"
    n = extract_frames.extract_ffmpeg(clips_tree / "chX/plY/vidZ/10.0_1.5.mp4", out, fps=5, size=32)
    assert 7 <= n <= 8 and cv2.imread(str(out / "image-00000001.jpg")).shape == (32, 32, 3)


def test_choose_backend_without_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract_frames.shutil, "which", lambda name: None)
    assert extract_frames.choose_backend("auto") == "opencv"
    with pytest.raises(FileNotFoundError):
        extract_frames.choose_backend("ffmpeg")
