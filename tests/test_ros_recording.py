"""Recording demonstrations live and replaying them: ``hotspot_ros.bag_record`` and ``hotspot_ros.bag_play``
as real processes over the real middleware, and ``training.demonstrations find`` on what was recorded.

The synthetic scene's bag is played onto its topics (a camera with detections and hand detections, 15 Hz),
recorded again from the wire, and the interactions found in the recording must be the scene's own. Bad
input to both tools ends in one line and exit code 2 before any ROS participant starts.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from ros_env import ros_env  # noqa: E402,F401

from training.demonstrations.bag import iter_messages  # noqa: E402
from training.demonstrations.find import find_demonstrations  # noqa: E402
from training.demonstrations.scene import SCENE_BAG, SceneConfig, make_scene  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["/image", "/detections", "/hand_detections"]  # the scene's and the node's default topics


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("recording")
    make_scene(root / "scene", SceneConfig(demos=3, seed=0))
    return root / "scene" / SCENE_BAG


def _start(module: str, *args: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO, stdout=open(log, "w"), stderr=subprocess.STDOUT, text=True
    )


def _wait_for_line(log: Path, text: str, proc: subprocess.Popen, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if text in log.read_text():
            return True
        time.sleep(0.05)
    return text in log.read_text()


def _stop(proc: subprocess.Popen) -> int:
    """Ctrl-C, as a user stops a recording; SIGKILL if it does not end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def _last_json_text(text: str) -> dict:
    return json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1])


def _last_json(log: Path) -> dict:
    return _last_json_text(log.read_text())


def _interactions(found: Path) -> list[tuple]:
    data = json.loads((found / "interactions.json").read_text())
    return [(i["start_ns"], i["release_ns"], i["end_ns"], i["object"]["track_id"]) for i in data["interactions"]]


def test_a_camera_recorded_from_the_wire_gives_the_scenes_interactions(ros_env, scene, tmp_path):  # noqa: F811
    rec_log, play_log = tmp_path / "record.log", tmp_path / "play.log"
    recorder = _start("hotspot_ros.bag_record", *TOPICS, "--output", str(tmp_path / "demos"), log=rec_log)
    player = None
    try:
        assert _wait_for_line(rec_log, "waiting for publishers", recorder, 60), rec_log.read_text()
        player = _start("hotspot_ros.bag_play", str(scene), "--rate", "3", "--wait-for-subscribers", "60", log=play_log)
        assert player.wait(timeout=120) == 0, play_log.read_text()
        assert "[bag_record] recording: every topic subscribed" in rec_log.read_text(), rec_log.read_text()
    finally:
        if player is not None and player.poll() is None:
            player.kill()
            player.wait(timeout=10)
        rc = _stop(recorder)
    assert rc == 0, rec_log.read_text()
    played, recorded = _last_json(play_log), _last_json(rec_log)
    original = {t: 0 for t in TOPICS}
    for topic, _, _ in iter_messages(scene, TOPICS):
        original[topic] += 1
    # reliable publishers and a subscriber matched before the first message: every message arrives
    assert played["messages_per_topic"] == original, played
    assert recorded["messages_per_topic"] == original and not recorded["never_published"], recorded
    bag = tmp_path / "demos" / "demos_0.mcap"
    assert recorded["bag"] == str(bag) and bag.is_file()
    # the bytes are the recorded messages': the first image is the scene's first image
    firsts = [next(iter_messages(path, ["/image"]))[2] for path in (scene, bag)]
    a, b = ((m.header.stamp.sec, m.header.stamp.nanosec, m.height, m.width, m.encoding, bytes(m.data)) for m in firsts)
    assert a == b
    find_demonstrations(scene, tmp_path / "found_scene")
    find_demonstrations(tmp_path / "demos", tmp_path / "found_recorded")
    assert _interactions(tmp_path / "found_recorded") == _interactions(tmp_path / "found_scene")
    assert len(_interactions(tmp_path / "found_recorded")) == 3


def test_bag_play_as_shipped_replays_the_recording_at_its_pace_to_the_last_message(ros_env, scene, tmp_path):  # noqa: F811
    """`python -m hotspot_ros.bag_play BAG` with every default (rate 1, no waiting, keep-last 100): every message
    published, no faster than the recording's own span, and a subscriber gets the last image (the player
    waits for its acknowledgement before it exits)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from ros_client import Client
    from sensor_msgs.msg import Image

    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for _, _, m in iter_messages(scene, ["/image"])]
    counts = {t: sum(1 for _ in iter_messages(scene, [t])) for t in TOPICS}
    span_s = (stamps[-1][0] - stamps[0][0]) + (stamps[-1][1] - stamps[0][1]) * 1e-9
    client = Client("bag_play_client")
    got: list = []
    client.node.create_subscription(
        Image,
        "/image",
        lambda m: got.append((m.header.stamp.sec, m.header.stamp.nanosec)),
        QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE),
    )
    log = tmp_path / "play.log"
    player = _start("hotspot_ros.bag_play", str(scene), log=log)
    try:
        client.spin_until(lambda: player.poll() is not None, 120.0)
        client.spin_until(lambda: False, 0.5)  # what is still on its way
    finally:
        if player.poll() is None:
            player.kill()
        player.wait(timeout=10)
        client.close()
    assert player.returncode == 0, log.read_text()
    played = _last_json(log)
    assert played["messages_per_topic"] == counts and played["seconds"] >= span_s, (played, counts, span_s)
    assert got and got[-1] == stamps[-1] and set(got) <= set(stamps), (len(got), got[-1:], stamps[-1])


def _fails(module: str, args: list[str], cwd: Path) -> str:
    r = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_bad_input_to_the_recorder_and_player_is_one_line_and_exit_code_2(ros_env, scene, tmp_path) -> None:  # noqa: F811
    (tmp_path / "taken").mkdir()
    line = _fails("hotspot_ros.bag_record", ["/image", "-o", str(tmp_path / "taken")], REPO)
    assert "exists already" in line and "taken" in line
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(scene.read_bytes()[: scene.stat().st_size // 2])
    assert str(cut) in _fails("hotspot_ros.bag_play", [str(cut)], REPO)
    line = _fails("hotspot_ros.bag_play", [str(scene), "--topics", "/image", "/camera/nope"], REPO)
    assert "/camera/nope" in line and "/hand_detections" in line  # names what is missing and what is there
    assert "no such file" in _fails("hotspot_ros.bag_play", [str(tmp_path / "missing.mcap")], REPO)
    (tmp_path / "empty_bag").mkdir()
    assert "without .mcap files" in _fails("hotspot_ros.bag_play", [str(tmp_path / "empty_bag")], REPO)
    assert "--rate" in _fails("hotspot_ros.bag_play", [str(scene), "--rate", "0"], REPO)
    from mcap.writer import Writer

    foreign = tmp_path / "foreign.mcap"
    with open(foreign, "wb") as f:  # a bag of a message type this machine does not have
        w = Writer(f)
        w.start(profile="ros2", library="test")
        schema = w.register_schema(name="nope_msgs/msg/Thing", encoding="ros2msg", data=b"int32 x\n")
        channel = w.register_channel(topic="/thing", message_encoding="cdr", schema_id=schema)
        w.add_message(channel, log_time=1, data=b"\x00\x01\x00\x00\x07\x00\x00\x00", publish_time=1)
        w.finish()
    r = subprocess.run(
        [sys.executable, "-m", "hotspot_ros.bag_play", str(foreign)], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "nope_msgs/msg/Thing" in r.stderr and "none of the topics" in r.stderr.splitlines()[-1], r.stderr
    # a damaged chunk in the middle (its summary intact): played up to there, then one line and exit code 2
    damaged = bytearray(scene.read_bytes())
    middle = len(damaged) // 2
    damaged[middle : middle + 2000] = b"\x55" * 2000
    (tmp_path / "damaged.mcap").write_bytes(bytes(damaged))
    r = subprocess.run(
        [sys.executable, "-m", "hotspot_ros.bag_play", str(tmp_path / "damaged.mcap"), "--rate", "20"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "breaks off" in r.stderr.splitlines()[-1] and "damaged.mcap" in r.stderr.splitlines()[-1], r.stderr
    played = _last_json_text(r.stdout)["messages_per_topic"]["/image"]
    total = sum(1 for _ in iter_messages(scene, ["/image"]))
    assert 0 < played < total, (played, total)
