"""Demonstrations in recordings: the shared interaction rule on hand-made boxes, the synthetic scene recorded
as a real rosbag2 MCAP file, finding its interactions (recall / precision against the scene's truth) and
the finder's answers to bad recordings (one line naming the file, exit code 2, no output folder left)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from hotspot_core.interactions import ContactRule, InteractionSegmenter
from training.demonstrations.bag import BagWriter, Topics, image_rgb, iter_messages
from training.demonstrations.cli import main as cli_main
from training.demonstrations.find import find_demonstrations
from training.demonstrations.scene import SCENE_BAG, SCENE_TRUTH, SceneConfig, make_scene
from training.demonstrations.score import score

REPO = Path(__file__).resolve().parents[1]
MS = 1_000_000
HAND_ON, HAND_OFF = (40.0, 40.0, 60.0, 60.0), (200.0, 200.0, 220.0, 220.0)
MUG, PAN = ("m1", "mug", (50.0, 30.0, 90.0, 70.0)), ("p1", "pan", (0.0, 0.0, 45.0, 45.0))


def feed(seg: InteractionSegmenter, hands_per_frame, objects=(MUG,)):
    steps = []
    for i, hands in enumerate(hands_per_frame):
        steps.append(seg.update((i + 1) * 100 * MS, hands, list(objects)))
    return steps


# ---------------------------------------------------------------------------------------------- the rule
def test_reach_use_let_go_is_one_interaction_with_its_stamps() -> None:
    seg = InteractionSegmenter(ContactRule(contact_frames=3, release_frames=2), record_frames=True)
    steps = feed(seg, [[HAND_OFF]] * 2 + [[HAND_ON]] * 4 + [[HAND_OFF]] * 3)
    started = [i for i, s in enumerate(steps) if s.started]
    ended = [i for i, s in enumerate(steps) if s.ended]
    assert started == [4] and ended == [7]  # confirmed on the 3rd contact frame, ended on the 2nd without
    inter = steps[7].ended
    assert (inter.start_ns, inter.confirmed_ns, inter.release_ns, inter.end_ns) == (
        300 * MS,
        500 * MS,
        600 * MS,
        800 * MS,
    )
    assert inter.complete and inter.object == MUG and inter.contacts == {"id:m1": 4}
    assert [f.stamp_ns for f in inter.frames] == [300 * MS, 400 * MS, 500 * MS, 600 * MS, 700 * MS, 800 * MS]
    assert inter.frames[0].hands == [HAND_ON] and inter.frames[-1].touched is None
    assert [s.in_interaction for s in steps] == [False] * 4 + [True] * 4 + [False]


def test_a_passing_hand_is_no_interaction_and_a_single_missed_frame_does_not_split_one() -> None:
    seg = InteractionSegmenter(ContactRule(contact_frames=3, release_frames=2))
    assert not any(s.started for s in feed(seg, [[HAND_ON]] * 2 + [[HAND_OFF]] + [[HAND_ON]] * 2 + [[]]))
    seg = InteractionSegmenter(ContactRule(contact_frames=3, release_frames=2))
    steps = feed(seg, [[HAND_ON]] * 4 + [[]] + [[HAND_ON]] * 3 + [[HAND_OFF]] * 2)  # one frame without a hand
    assert sum(1 for s in steps if s.started) == 1 and sum(1 for s in steps if s.ended) == 1
    assert steps[-1].ended.release_ns == 800 * MS and steps[-1].frames == 10


def test_the_object_is_the_one_touched_most_and_the_margin_counts() -> None:
    seg = InteractionSegmenter(ContactRule(contact_frames=2, release_frames=1, margin_px=4.0))
    steps = feed(seg, [[(20.0, 20.0, 30.0, 30.0)]] + [[HAND_ON]] * 4 + [[HAND_OFF]], objects=(PAN, MUG))
    inter = steps[-1].ended
    assert inter.object == MUG and inter.contacts == {"id:p1": 1, "id:m1": 4} and seg.last_touched == MUG
    far = InteractionSegmenter(ContactRule(contact_frames=1, release_frames=1, margin_px=0.0))
    assert far.update(1, [(95.0, 75.0, 99.0, 79.0)], [MUG]).touched is None  # 5 px away, no margin
    assert far.update(2, [(44.0, 44.0, 48.0, 48.0)], [PAN]).touched == PAN  # overlapping, no margin needed
    untracked = InteractionSegmenter(ContactRule(contact_frames=1, release_frames=1))
    step = untracked.update(1, [HAND_ON], [("", "mug", MUG[2])])
    assert step.started is not None and step.started.contacts == {"class:mug": 1}


def test_a_hand_that_never_lets_go_is_kept_incomplete_and_bad_rules_are_refused() -> None:
    seg = InteractionSegmenter(ContactRule(contact_frames=2, release_frames=2))
    feed(seg, [[HAND_ON]] * 5)
    inter = seg.finish()
    assert inter is not None and not inter.complete and inter.end_ns == 500 * MS and not seg.active
    for bad in ({"contact_frames": 0}, {"release_frames": 0}, {"margin_px": -1.0}, {"margin_px": float("nan")}):
        with pytest.raises(ValueError):
            ContactRule(**bad)


# ---------------------------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("scene") / "scene"
    make_scene(out, SceneConfig(demos=5, seed=3))
    return out


def test_scene_is_a_rosbag2_mcap_file_that_rclpy_reads(scene: Path) -> None:
    pytest.importorskip("rclpy")
    from mcap.reader import make_reader
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2DArray

    truth = json.loads((scene / SCENE_TRUTH).read_text())
    with open(scene / SCENE_BAG, "rb") as f:
        reader = make_reader(f)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        counts = summary.statistics.channel_message_counts
        topics = {ch.topic: (summary.schemas[ch.schema_id].name, counts[cid]) for cid, ch in summary.channels.items()}
        assert topics == {
            "/image": ("sensor_msgs/msg/Image", truth["frames"]),
            "/detections": ("vision_msgs/msg/Detection2DArray", truth["frames"]),
            "/hand_detections": ("vision_msgs/msg/Detection2DArray", truth["frames"]),
        }
        seen = set()
        for _, channel, message in reader.iter_messages():
            if channel.topic in seen:
                continue
            seen.add(channel.topic)
            msg = deserialize_message(message.data, Image if channel.topic == "/image" else Detection2DArray)
            assert msg.header.stamp.sec == truth["start_ns"] // 1_000_000_000
            if channel.topic == "/image":
                assert (msg.height, msg.width, msg.encoding) == (240, 320, "rgb8")
            elif channel.topic == "/detections":  # every object, with its tracking id and class
                got = {(d.id, d.results[0].hypothesis.class_id) for d in msg.detections}
                assert got == {(o["track_id"], o["class"]) for o in truth["objects"]}


def test_the_scenes_objects_as_product_photos(scene: Path) -> None:
    """product_photos (demo_fit_probe's section 4): each recorded object drawn alone on a plain light
    background, in the colours it has in the recording; scene_config reads back the scene's settings."""
    from training.demonstrations.scene import product_photos, scene_config

    truth = json.loads((scene / SCENE_TRUTH).read_text())
    cfg = scene_config(truth)
    assert cfg == SceneConfig(demos=5, seed=3)
    photos = product_photos(cfg, size=128)
    assert sorted(photos) == sorted(o["track_id"] for o in truth["objects"])
    _, type_name, msg = next(iter_messages(scene / SCENE_BAG, ["/image"]))
    first_frame = image_rgb(msg, type_name).astype(float)
    for o in truth["objects"]:
        img = photos[o["track_id"]]
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]]).astype(float)
        assert border.std(0).max() < 12 and border.mean() > 150  # plain and light
        obj = np.abs(img.astype(float) - border.mean(0)).max(-1) > 40
        assert 0.03 < obj.mean() < 0.9  # the object, whole, not the whole photo
        x0, y0, x1, y1 = (int(round(v)) for v in o["box"])
        in_box = first_frame[y0:y1, x0:x1].reshape(-1, 3)
        colour = np.median(img[obj].astype(float), axis=0)  # its main colour is in its box in the recording
        assert np.abs(in_box - colour).max(1).min() < 8, (o["track_id"], colour)
    assert all(np.array_equal(photos[k], v) for k, v in product_photos(cfg, size=128).items())  # the same each time


def test_held_out_objects_in_the_scenes_view_as_a_test_set(tmp_path: Path) -> None:
    """scene_views (the benchmark's second test set): new objects of the categories on the scene's table,
    cut out as find's at-rest window, annotated per afforded verb on the part it acts on, read and scored by
    training.evaluate as the world's test images are."""
    import torch

    from hotspot_core.errors import ConfigError
    from training.data.config import DatasetConfig
    from training.data.test_images import HotspotTestImages
    from training.demonstrations.scene_views import SceneViewConfig, write_scene_views
    from training.evaluate import evaluate_methods
    from training.synthetic.catalogue import CATEGORY_BY_NAME, VERBS

    scene, cats = SceneConfig(objects=3), ["knife", "mug"]
    annots = write_scene_views(tmp_path / "views", scene, cats, SceneViewConfig(per_category=2, seed=4))
    entries = annots["test_images"]
    assert len(entries) == sum(2 * len(CATEGORY_BY_NAME[c].verbs) for c in cats)
    assert annots["verbs"] == list(VERBS) and annots["nouns"] == cats
    for e in entries:
        img = cv2.imread(str(tmp_path / "views" / "images" / Path(*e["image"])))
        h, w = e["shape"]
        assert img.shape == (h, w, 3) and h == w  # a square window, as find cuts
        (r0, r1), (c0, c1) = e["part_rows"], e["part_cols"]
        assert 0 <= r0 <= r1 < h and 0 <= c0 <= c1 < w
        assert all(r0 <= y <= r1 and c0 <= x <= c1 for y, x in e["points"]) and len(e["points"]) >= 5
        # the points lie on the drawn object, not on the table (whose colour the window's corners show)
        corners = np.concatenate([img[:6, :6], img[:6, -6:], img[-6:, :6], img[-6:, -6:]]).reshape(-1, 3)
        y, x = np.median(np.asarray(e["points"]), axis=0).astype(int)
        at_points = np.median(img[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).astype(float), axis=0)
        assert np.abs(at_points - np.median(corners.astype(float), axis=0)).max() > 15, e
    ds = HotspotTestImages.from_config(DatasetConfig(name="opra", root=tmp_path / "views"))
    assert len(ds) == len(entries)
    r = evaluate_methods([("center_bias", None)], ds, torch.device("cpu"))["center_bias"]
    assert r["part_metrics"]["peak_on_part"]["all"]["n_valid"] == len(entries)
    # the same objects each time for a seed, other ones for another seed
    again = write_scene_views(tmp_path / "again", scene, cats, SceneViewConfig(per_category=2, seed=4))
    other = write_scene_views(tmp_path / "other", scene, cats, SceneViewConfig(per_category=2, seed=5))
    first = Path(*entries[0]["image"])
    assert again == annots and other != annots
    assert (tmp_path / "again" / "images" / first).read_bytes() == (tmp_path / "views" / "images" / first).read_bytes()
    with pytest.raises(ConfigError, match="unknown or no categories"):
        write_scene_views(tmp_path / "bad", scene, ["teapot"])
    assert not (tmp_path / "bad").exists()


def test_find_recovers_the_scenes_interactions(scene: Path, tmp_path: Path) -> None:
    truth = json.loads((scene / SCENE_TRUTH).read_text())
    out = tmp_path / "found"
    found = find_demonstrations(scene / SCENE_BAG, out)
    s = score(found, truth)
    assert s["truth"] == 5 and s["recall"] >= 0.95 and s["precision"] >= 0.95, s
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["interactions.json", "labels.csv", "contact_sheet.png"] + [f"{i:04d}" for i in range(1, s["found"] + 1)]
    )
    assert json.loads((out / "interactions.json").read_text()) == found
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == [str(r["id"]) for r in found["interactions"]]
    assert all(r["verb"] == "" and float(r["start_s"]) < float(r["end_s"]) for r in rows)
    _, type_name, msg = next(iter_messages(scene / SCENE_BAG, ["/image"]))
    first_frame = cv2.cvtColor(image_rgb(msg, type_name), cv2.COLOR_RGB2BGR)  # no hand in it yet
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] > 5 * 192  # five tiles in a row
    for r in found["interactions"]:
        assert r["complete"] and r["inactive"]["at_rest"]
        inactive = cv2.imread(str(out / r["inactive"]["file"]))
        b = r["object"]["box"]
        assert abs(inactive.shape[1] - 1.1 * (b[2] - b[0])) <= 3 and abs(inactive.shape[0] - 1.1 * (b[3] - b[1])) <= 3
        frames = r["frames"]
        win = r["window"]
        first = cv2.imread(str(out / frames[0]["file"]))
        assert first.shape[:2] == (win[3] - win[1], win[2] - win[0])
        assert frames[r["contact_frame"]]["stamp_ns"] == r["start_ns"] and frames[r["contact_frame"]]["hands"]
        stamps = [fr["stamp_ns"] for fr in frames]
        assert stamps == sorted(stamps) and stamps[0] < r["start_ns"] and stamps[-1] > r["release_ns"]
        # the inactive image is the object at rest with no hand: as it looks in the recording's first frame
        assert r["inactive"]["stamp_ns"] < r["start_ns"]
        x0, y0 = (
            int(np.floor(v))
            for v in ((b[0] + b[2]) / 2 - 0.55 * (b[2] - b[0]), (b[1] + b[3]) / 2 - 0.55 * (b[3] - b[1]))
        )
        rest = first_frame[max(0, y0) : max(0, y0) + inactive.shape[0], max(0, x0) : max(0, x0) + inactive.shape[1]]
        assert (
            np.abs(rest.astype(int) - inactive.astype(int)).mean() < 8.0
        )  # JPEG on a grainy table: ~5; a hand: far more


# ---------------------------------------------------------------------------------------------- bad input
def _bag(path: Path, frames: int, detections: bool = True, hands: bool = True, det_offset_ns: int = 0) -> Path:
    w = BagWriter(path, Topics())
    rgb = np.full((120, 160, 3), 90, np.uint8)
    for i in range(frames):
        t = 10**18 + i * 66 * MS
        w.image(t, rgb, t)
        if detections:
            w.detections("/detections", t + det_offset_ns, [("m1", "mug", 0.9, (50, 30, 90, 70))], t + 1)
        if hands:
            w.detections("/hand_detections", t, [("h", "hand", 0.9, (150, 100, 159, 119))], t + 2)
    w.close()
    return path


def _run_find(bag: Path, out: Path, capsys) -> str:
    from hotspot_core import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.run(lambda: cli_main(["find", str(bag), "-o", str(out)]))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert not out.exists() and not list(out.parent.glob(f".{out.name}.*"))  # nothing half-written
    return err


def test_bad_recordings_get_one_line_naming_the_file_and_exit_code_2(scene: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    no_dets = _bag(tmp_path / "no_dets.mcap", 3, detections=False)
    assert f"{no_dets}: no topic /detections" in _run_find(no_dets, out, capsys)
    truncated = tmp_path / "truncated.mcap"
    data = (scene / SCENE_BAG).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    assert f"{truncated}: " in (err := _run_find(truncated, out, capsys)) and "truncated or corrupt" in err
    corrupt = tmp_path / "corrupt.mcap"
    mid = len(data) // 2
    corrupt.write_bytes(data[:mid] + bytes(200) + data[mid + 200 :])  # a damaged chunk, intact summary
    assert f"{corrupt}: " in (err := _run_find(corrupt, out, capsys)) and "truncated or corrupt" in err
    unpaired = _bag(tmp_path / "unpaired.mcap", 3, det_offset_ns=30 * MS)  # detections 30 ms off their image
    assert f"{unpaired}: none of the 3 images is usable" in _run_find(unpaired, out, capsys)
    handless = _bag(tmp_path / "handless.mcap", 3, hands=False)
    assert f"{handless}: no hand in any of the 3 frames" in _run_find(handless, out, capsys)
    untouched = _bag(tmp_path / "untouched.mcap", 6)
    assert f"{untouched}: no interactions found in 6 frames (6 with a hand, 0 with a hand touching" in _run_find(
        untouched, out, capsys
    )
    assert "no such file" in _run_find(tmp_path / "missing.mcap", out, capsys)


def test_an_empty_recording_through_the_real_command(tmp_path: Path) -> None:
    empty = _bag(tmp_path / "empty.mcap", 0, detections=False, hands=False)
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "training.demonstrations", "find", str(empty), "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"training.demonstrations: error: {empty}: an empty recording (no topics, no messages)"
    assert not out.exists()
