"""Teaching it your objects (issue 19, second half): labels, the dataset, the train chain, end to end.

A real synthetic demonstration scene (rosbag2 MCAP) goes through the real ``find``; labels come from its
ground truth as an interval file (as a user would write one), from a filled-in labels.csv, and from the
shipped demo DAN. The end-to-end test trains a real model (few epochs) and scores it on the synthetic world's
held-out test images with ``training.evaluate``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from ros_env import ros_env  # noqa: F401  (the ROS test's isolated environment)

from hotspot_core import cli
from training.demonstrations.build import BuildConfig, build_dataset
from training.demonstrations.cli import main as cli_main
from training.demonstrations.find import find_demonstrations
from training.demonstrations.labels import (
    LabelError,
    interval_labels,
    read_labels,
    resolve_labels,
    write_truth_intervals,
)
from training.demonstrations.pipeline import hand_cue
from training.demonstrations.scene import SCENE_BAG, SceneConfig, make_scene


@pytest.fixture(scope="module")
def found(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A 9-demonstration scene (3 objects) and find's folder: (folder, interactions.json, scene.json)."""
    root = tmp_path_factory.mktemp("teach")
    truth = make_scene(root / "scene", SceneConfig(demos=9, seed=4))
    folder = root / "found"
    find_demonstrations(root / "scene" / SCENE_BAG, folder)
    return folder, json.loads((folder / "interactions.json").read_text()), truth


def _truth_verbs(found_json: dict, truth: dict) -> dict[int, str]:
    """Each found interaction's true verb: the true demonstration on its object overlapping it most."""
    out = {}
    for r in found_json["interactions"]:
        best = max(
            (d for d in truth["interactions"] if d["track_id"] == r["object"]["track_id"]),
            key=lambda d: min(r["release_ns"], d["release_ns"]) - max(r["start_ns"], d["contact_start_ns"]),
        )
        out[r["id"]] = best["verb"]
    return out


def _filled_csv(folder: Path, path: Path, verbs: dict[int, str], blank: set[int] = frozenset()) -> Path:
    with open(folder / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({**r, "verb": "" if int(r["id"]) in blank else verbs[int(r["id"])]})
    return path


def _fails(argv: list[str], capsys) -> str:
    """Run the real CLI; it must exit 2 with one line on stderr, which is returned."""
    with pytest.raises(SystemExit) as info:
        cli.run(lambda: cli_main(argv))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    return err[-1]


# ------------------------------------------------------------------------------------------------ labels
def test_labels_from_the_filled_csv_keep_source_and_row(found, tmp_path, capsys) -> None:
    folder, fj, truth = found
    verbs = _truth_verbs(fj, truth)
    path = _filled_csv(folder, tmp_path / "labels.csv", verbs, blank={2})
    labels = read_labels(path, fj)
    assert {lab.id: lab.verb for lab in labels} == {k: v for k, v in verbs.items() if k != 2}
    assert {lab.source for lab in labels} == {"csv"} and all(lab.confidence is None for lab in labels)
    assert labels[0].origin == f"{path} row 2"
    assert "1 of 9 interactions have no verb (left out)" in capsys.readouterr().err


def test_labels_by_time_interval_match_the_scenes_truth(found, tmp_path, capsys) -> None:
    folder, fj, truth = found
    path = write_truth_intervals(truth, tmp_path / "intervals.csv")
    labels = interval_labels(path, fj)
    assert {lab.id: lab.verb for lab in labels} == _truth_verbs(fj, truth)
    assert {lab.source for lab in labels} == {"interval"}
    # without the track_id column, and with a row that overlaps nothing
    rows = path.read_text().splitlines()
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "start_s,end_s,verb\n" + "\n".join(",".join(r.split(",")[:3]) for r in rows[1:]) + "\n999,1000,hold\n"
    )
    assert {lab.id: lab.verb for lab in resolve_labels(folder, fj, plain)} == _truth_verbs(fj, truth)
    assert f"{plain}: rows [{len(rows) + 1}] overlap no found interaction" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty label file"),
        ("id,verb\n1,hold\n42,hold\n", "row 3: no interaction 42"),
        ("id,verb\n1,hold\n1,rotate\n", "row 3: interaction 1 is labelled twice (also row 2)"),
        ("id,verb\none,hold\n", "row 2: id 'one' is not an interaction number"),
        ("id,verb\n1,hold\n2,\n", None),  # fine: 2 left out
        ("id,verb,source\n1,hold,guess\n", "row 2: source 'guess' is not one of"),
        ("start_s,end_s,verb\n3,2,hold\n", "row 2: end_s 2 is not after start_s 3"),
        ("start_s,end_s,verb\n1,x,hold\n", "row 2: end_s 'x' is not a number"),
        ("start_s,end_s,verb\n", "no intervals (only a header)"),
        ("begin,verb\n1,hold\n", "row 1: no column start_s, end_s"),
        ("id,verb\n1,\n2,\n", "no interaction is labelled"),
    ],
)
def test_bad_label_files_name_the_file_and_row(found, tmp_path, text, message) -> None:
    folder, fj, _ = found
    path = tmp_path / "labels.csv"
    path.write_text(text)
    if message is None:
        assert [lab.id for lab in resolve_labels(folder, fj, path)] == [1]
        return
    with pytest.raises(LabelError) as info:
        resolve_labels(folder, fj, path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_dan_labels_come_from_the_shipped_dan_with_their_confidence(found, tmp_path) -> None:
    from hotspot_core.demo_model import demo_dan_path
    from training.synthetic import DAN_ACTIONS

    folder, fj, _ = found
    labels = resolve_labels(folder, fj, dan=demo_dan_path(), min_confidence=0.0)
    assert len(labels) == len(fj["interactions"])
    assert all(lab.source == "dan" and lab.verb in DAN_ACTIONS and 0 < lab.confidence <= 1 for lab in labels)
    strict = resolve_labels(folder, fj, dan=demo_dan_path(), min_confidence=0.6)
    assert [lab.id for lab in strict] == [lab.id for lab in labels if lab.confidence >= 0.6]
    with pytest.raises(LabelError, match="no interaction is labelled"):
        resolve_labels(folder, fj, dan=demo_dan_path(), min_confidence=1.0)
    # the command writes them as a labels CSV with source and confidence, which reads back unchanged
    out = tmp_path / "dan.csv"
    assert cli_main(["label", str(folder), "--dan", "--min-confidence", "0", "-o", str(out)]) == 0
    assert read_labels(out, fj) == [
        type(lab)(lab.id, lab.verb, "dan", lab.confidence, f"{out} row {i + 2}") for i, lab in enumerate(labels)
    ]


# ------------------------------------------------------------------------------------------------ build
def test_build_writes_an_opra_dataset_training_reads(found, tmp_path) -> None:
    from training.data.config import DatasetConfig
    from training.data.opra import OPRAClips
    from training.data.test_images import HotspotTestImages
    from training.locate import training_clips

    folder, fj, truth = found
    labels = interval_labels(write_truth_intervals(truth, tmp_path / "iv.csv"), fj)
    out = tmp_path / "ds"
    annots = build_dataset(folder, labels, out, BuildConfig(min_clips=1, test_frac=0.3), truth)
    assert annots["verbs"] == sorted({lab.verb for lab in labels})
    assert len(annots["train_clips"]) + len(annots["test_clips"]) == len(labels)
    assert annots["test_clips"] and len(annots["test_images"]) == len(annots["test_clips"])
    assert {e["label_source"] for e in annots["train_clips"]} == {"interval"}
    clips = OPRAClips(out)
    assert len(clips) == len(annots["train_clips"])
    sample = clips[0]
    assert sample["frames"].shape[1:] == (3, 224, 224) and sample["inactive"].shape == (3, 224, 224)
    # clips resampled to 5 fps from the 15 Hz recording
    e = annots["train_clips"][0]
    n_src = len(next(r for r in fj["interactions"] if r["id"] == e["interaction"])["frames"])
    assert e["nframes"] == len(range(0, n_src, 3)) and len(e["hands"]) == e["nframes"]
    assert len(training_clips(DatasetConfig(name="opra", root=out))) == len(annots["train_clips"])
    # the at-rest image is the clip's window before the hand came: the frames' size, no hand in it
    from PIL import Image

    inter = next(r for r in fj["interactions"] if r["id"] == e["interaction"])
    with Image.open(out / "images" / Path(*e["image"])) as im:
        side = inter["window"][2] - inter["window"][0]
        assert im.size == (side, inter["window"][3] - inter["window"][1])
    assert inter["inactive"]["at_rest"] and inter["inactive"]["stamp_ns"] < inter["start_ns"]
    test = HotspotTestImages(out)
    for i in range(len(test)):  # the truth's points lie on the part: the GT map peaks inside the image
        assert test.heatmap(i).max() > 0


def test_the_contact_fit_carries_each_clip_to_every_at_rest_view(found, tmp_path) -> None:
    """The dataset keeps each clip's window (trained on), tight and mid at-rest views and their mirror images;
    the fit's clips use all six, the clip's cue found once."""
    from PIL import Image

    from hotspot_core.errors import ConfigError
    from training.data.clips import load_rgb
    from training.demonstrations.build import MID_CONTEXT
    from training.demonstrations.pipeline import contact_cues, fit_clips
    from training.locate import LocateConfig

    folder, fj, truth = found
    labels = interval_labels(write_truth_intervals(truth, tmp_path / "iv.csv"), fj)
    annots = build_dataset(folder, labels, tmp_path / "ds", BuildConfig(min_clips=1))
    assert annots["demonstrations"]["fit_images"] == ["window", "tight", "mid"]
    assert annots["demonstrations"]["fit_mirror"] is True
    by_id = {r["id"]: r for r in fj["interactions"]}
    images = tmp_path / "ds" / "images"

    def pixels(path) -> np.ndarray:
        return np.asarray(load_rgb(images / Path(*path)), np.float32)

    for e in annots["train_clips"]:
        stem = f"{e['interaction']:04d}"
        names = [p[-1] for p in e["fit_images"]]
        assert names == [
            f"{stem}.jpg",
            f"{stem}_window_mirror.jpg",
            f"{stem}_tight.jpg",
            f"{stem}_tight_mirror.jpg",
            f"{stem}_mid.jpg",
            f"{stem}_mid_mirror.jpg",
        ]
        window, window_m, tight, tight_m, mid, mid_m = e["fit_images"]
        assert window == e["image"] and all(p[:3] == e["image"][:3] for p in e["fit_images"])
        inter = by_id[e["interaction"]]
        assert (images / Path(*tight)).read_bytes() == (folder / inter["inactive"]["file"]).read_bytes()
        side = inter["window"][2] - inter["window"][0]
        with Image.open(images / Path(*window)) as im:
            assert im.size == (side, inter["window"][3] - inter["window"][1])
        for a, b in ((window, window_m), (tight, tight_m), (mid, mid_m)):  # the mirror image, up to JPEG
            flipped, plain = (np.abs(pixels(a)[:, ::-1] - pixels(b)).mean(), np.abs(pixels(a) - pixels(b)).mean())
            assert flipped < 6.0 and flipped < 0.5 * plain, (b, flipped, plain)
        box = inter["object"]["box"]
        want = min(round(max(box[2] - box[0], box[3] - box[1]) * MID_CONTEXT), side)
        with Image.open(images / Path(*mid)) as im:
            assert im.size[0] == im.size[1] and abs(im.size[0] - want) <= 1
    clips = fit_clips(tmp_path / "ds")
    assert len(clips) == 6 * len(annots["train_clips"])
    for k in range(0, len(clips), 6):  # one clip's six views in a row
        group = clips[k : k + 6]
        assert all(c.frames == group[0].frames and c.verb == group[0].verb for c in group)
        assert len({c.image.name[:4] for c in group}) == 1 and len({c.image for c in group}) == 6
    cue, counts = contact_cues(tmp_path / "ds", LocateConfig().contact, hands=False)
    frames = [np.asarray(load_rgb(f)) for f in clips[0].frames]
    first = cue(clips[0], frames)
    assert all(cue(c, frames) is first for c in clips[1:6])  # found once per clip
    assert counts == {"hands": 0, "frames": 1, "none": 0}
    # a clip whose frames show no change (the hand already there): its recorded hand boxes instead
    from training.demonstrations.pipeline import _clip_folder, _entries_by_folder

    still = [np.asarray(load_rgb(clips[6].frames[0]))] * len(clips[6].frames)
    entry = _entries_by_folder(tmp_path / "ds")[_clip_folder(clips[6])]
    assert cue(clips[6], still) is not None and counts == {"hands": 1, "frames": 1, "none": 0}
    assert np.array_equal(cue(clips[6], still), hand_cue(entry, LocateConfig().contact))
    # neither: counted, and the fit gives the clip its object map (training.locate)
    annots_file = tmp_path / "ds" / "annotations.json"
    bare = json.loads(annots_file.read_text())
    for e in bare["train_clips"]:
        e["hands"] = [[] for _ in e["hands"]]
    annots_file.write_text(json.dumps(bare))
    cue, counts = contact_cues(tmp_path / "ds", LocateConfig().contact, hands=True)
    assert cue(clips[6], still) is None and counts == {"hands": 0, "frames": 0, "none": 1}
    assert cue(clips[0], frames) is not None and counts == {"hands": 0, "frames": 1, "none": 1}

    one = build_dataset(
        folder, labels, tmp_path / "ds1", BuildConfig(min_clips=1, fit_images=("tight",), fit_mirror=False)
    )
    assert [e["fit_images"] for e in one["train_clips"]] == [
        [[*e["image"][:3], f"{e['interaction']:04d}_tight.jpg"]] for e in one["train_clips"]
    ]
    assert [c.image.name for c in fit_clips(tmp_path / "ds1")] == [
        f"{e['interaction']:04d}_tight.jpg" for e in one["train_clips"]
    ]
    assert not list((tmp_path / "ds1" / "images").rglob("*_mirror.jpg"))
    for bad in ((), ("window", "window"), ("wide",)):
        with pytest.raises(ConfigError, match="fit_images"):
            BuildConfig(fit_images=bad)


def test_build_refuses_bad_labels_with_one_line_and_leaves_nothing(found, tmp_path, capsys) -> None:
    folder, fj, truth = found
    verbs = _truth_verbs(fj, truth)
    good = _filled_csv(folder, tmp_path / "good.csv", verbs)
    out = tmp_path / "ds"
    base = ["build", str(folder), "-o", str(out)]

    err = _fails([*base, "--labels", str(good), "--verbs", "hold", "rotate"], capsys)
    wrong = next(i for i, v in sorted(verbs.items()) if v not in ("hold", "rotate"))
    assert f"{good} row {wrong + 1}: verb {verbs[wrong]!r} is not one of --verbs" in err
    typo = {**verbs, 1: "hodl"}
    err = _fails([*base, "--labels", str(_filled_csv(folder, tmp_path / "typo.csv", typo))], capsys)
    assert "verb 'hodl' has 1 training clip(s), fewer than --min-clips 3" in err and "typo.csv row 2" in err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert f"{empty}: empty label file" in _fails([*base, "--labels", str(empty)], capsys)
    blank = _filled_csv(folder, tmp_path / "blank.csv", verbs, blank=set(verbs))
    assert f"{blank}: no interaction is labelled" in _fails([*base, "--labels", str(blank)], capsys)
    assert "No such label file" in _fails([*base, "--labels", str(tmp_path / "none.csv")], capsys)
    assert "not both or neither" in _fails(base, capsys)
    assert "interactions.json" in _fails(["build", str(tmp_path), "-o", str(out), "--labels", str(good)], capsys)
    assert not out.exists() and not list(tmp_path.glob(".ds.*"))  # nothing half-written


def test_hand_cue_lies_where_the_hand_overlaps_the_object() -> None:
    from training.contact import ContactConfig

    entry = {
        "window": [0, 0, 100, 100],
        "contact_frames": [1, 2, 3, 4],
        "object_boxes": [[20, 20, 80, 80]] * 5,
        "hands": [[], [[60, 50, 90, 95]], [[62, 52, 92, 97]], [[0, 0, 5, 5]], []],
    }
    cue = hand_cue(entry, ContactConfig(size=100))
    ys, xs = np.nonzero(cue)
    assert cue.max() == 1 and xs.min() >= 60 and xs.max() < 80 and ys.min() >= 50 and ys.max() < 80
    assert hand_cue({**entry, "hands": [[]] * 5}, ContactConfig(size=100)) is None


def test_teach_grows_each_contact_to_the_part_unless_told_not_to() -> None:
    """teach's contact fit: training.locate's with the part's extent grown (issue 21's similarity 0.7), or
    without it (--extent none); bad values refused by LocateConfig's own checks."""
    from hotspot_core.errors import ConfigError
    from training.demonstrations.cli import build_parser
    from training.demonstrations.pipeline import TeachConfig
    from training.locate import LocateConfig

    shipped = TeachConfig().locate_config()
    assert (shipped.extent, shipped.grow_similarity) == ("grow", 0.7)
    assert shipped == LocateConfig(extent="grow", grow_similarity=0.7)  # every other setting: locate's own
    assert TeachConfig(extent="none", seed=3).locate_config() == LocateConfig(seed=3, grow_similarity=0.7)
    a = build_parser().parse_args(["train", "bag.mcap", "-o", "m.safetensors"])
    assert (a.extent, a.grow_similarity) == ("grow", 0.7)
    assert build_parser().parse_args(["train", "b", "-o", "m.safetensors", "--extent", "none"]).extent == "none"
    for bad in ({"extent": "box"}, {"grow_similarity": 1.0}, {"grow_similarity": -1.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TeachConfig(**bad)


# ------------------------------------------------------------------------------------------------ end to end
@pytest.fixture(scope="module")
def taught(found, tmp_path_factory) -> tuple[Path, dict, list[str]]:
    """The end-to-end model: the scene's recording -> ``teach`` (few epochs, the hand-box cue, labels from the
    truth as an interval file) -> a model file. (model, teach's result, what is left in its folder)."""
    from training.demonstrations.pipeline import TeachConfig, teach
    from training.synthetic import VERBS

    folder, _, truth = found
    root = tmp_path_factory.mktemp("taught")
    intervals = write_truth_intervals(truth, root / "intervals.csv")
    model = root / "model.safetensors"
    cfg = TeachConfig(build=BuildConfig(min_clips=1, verbs=VERBS), epochs=4, cache_views=1, cue="hands")
    r = teach(folder.parent / "scene" / SCENE_BAG, model, cfg, labels=intervals)
    return model, r, sorted(p.name for p in root.iterdir())


@pytest.mark.slow
def test_recording_to_a_scored_model(found, taught, tmp_path) -> None:
    """scene -> find -> labels from the truth -> build -> train -> locate -> predictor -> training.evaluate."""
    import torch

    from hotspot_core.frame import InferenceConfig, load_predictor
    from hotspot_core.hotspots.checkpoint import read_metadata
    from training.data.test_images import HotspotTestImages
    from training.evaluate import evaluate_methods
    from training.synthetic import VERBS, WorldConfig, generate_world

    folder, fj, truth = found
    model, r, left = taught
    assert r["labels"] == r["interactions"] == len(truth["interactions"])
    assert r["cue"]["hands"] == r["labels"]  # every clip's contact came from the recorded hand boxes
    predictor, path = load_predictor(InferenceConfig(model_path=str(model), device="cpu"))
    assert path == str(model) and tuple(predictor.actions) == VERBS
    _, extra = read_metadata(model)
    assert extra["located"]["cue"] == "hands" and extra["demonstrations"]["label_sources"] == {"interval": 9}
    assert extra["located"]["fit_images"] == ["window", "tight", "mid"] and extra["located"]["fit_mirror"] is True
    assert extra["located"]["extent"] == "grow" and extra["located"]["grow_similarity"] == 0.7
    # the work folder was temporary: nothing but the model is left beside the labels
    assert left == ["intervals.csv", "model.safetensors"]
    world = tmp_path / "world"
    categories = tuple(sorted({o["class"] for o in truth["objects"]}))
    generate_world(
        world,
        WorldConfig(
            categories=categories,
            products_per_category=1,
            clips_per_category=1,
            test_per_category=1,
            image_size=128,
            min_frames=2,
            max_frames=2,
        ),
    )
    ds = HotspotTestImages(world)
    res = evaluate_methods([("ours_located", str(model)), ("center_bias", None)], ds, torch.device("cpu"))
    for name in ("ours_located", "center_bias"):
        m = res[name]["metrics"]
        assert (
            m["KLD"]["n_valid"] == len(ds)
            and np.isfinite([m["KLD"]["mean"], m["SIM"]["mean"], m["AUC-J"]["mean"]]).all()
        )


@pytest.mark.slow
def test_the_taught_model_runs_in_the_node_on_the_recording_replayed(ros_env, found, taught, tmp_path):  # noqa: F811
    """The loop a user closes: the recording -> `teach` (the module's small model) -> the node with that
    `model_path` -> the recording replayed onto the node's default topics by `hotspot_ros.bag_play` ->
    hotspots of the taught verbs for the recorded objects."""
    pytest.importorskip("rclpy")
    import subprocess
    import sys

    from interaction_hotspots.msg import HotspotArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from ros_client import Client, start_node, stop_node

    from hotspot_core.frame import InferenceConfig, load_predictor

    folder, _, truth = found
    scene = folder.parent / "scene" / SCENE_BAG
    model = taught[0]
    verbs = list(load_predictor(InferenceConfig(model_path=str(model), device="cpu"))[0].actions)

    client = Client("taught_model_client")
    got: list = []
    client.node.create_subscription(
        HotspotArray, "/hotspots", got.append, QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
    )
    log = tmp_path / "node.log"
    node = start_node({"model_path": str(model)}, log_path=log)
    try:
        assert client.wait_for_node(), f"the node never subscribed; log:\n{log.read_text()}"
        play = subprocess.run(
            [sys.executable, "-m", "hotspot_ros.bag_play", str(scene), "--rate", "4", "--wait-for-subscribers", "60"]
            + ["--topics", "/image", "/detections"],  # what the node subscribes to as shipped (no hand topic)
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert play.returncode == 0, play.stdout + play.stderr
        assert client.spin_until(lambda: len(got) >= 3, 60.0), f"{len(got)} hotspot messages; log:\n{log.read_text()}"
    finally:
        stop_node(node)
        client.close()
    classes = {o["class"] for o in truth["objects"]}
    for msg in got:
        assert list(msg.action_names) == verbs, (list(msg.action_names), verbs)
        assert {o.class_id for o in msg.objects} <= classes and msg.objects
        for o in msg.objects:
            assert len(o.action_scores) == len(verbs)
