#!/usr/bin/env python3
"""Does the package's recorder keep up with a camera? A synthetic scene played live and recorded (not a test).

Writes a synthetic demonstration scene (``training.demonstrations.scene``: camera, detections and hand
detections) at the camera's size and rate, starts ``hotspot_ros.bag_record`` on its three topics (its own
process, localhost-only discovery, a fresh domain id), plays the scene onto them with
``hotspot_ros.bag_play`` (its own process, at ``--rate`` times real time), stops the recorder by its pid
(SIGINT) and prints, per topic, the messages played and recorded, the recorder's CPU seconds and the
recording's size; then whether ``find`` gets the same interactions from the recording as from the scene.

    AMENT_PREFIX_PATH=.venv .venv/bin/python scripts/bench_recording.py --width 640 --height 480 --fps 30
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from training.demonstrations.find import find_demonstrations  # noqa: E402
from training.demonstrations.scene import SCENE_BAG, SceneConfig, make_scene  # noqa: E402

TOPICS = ["/image", "/detections", "/hand_detections"]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (its /proc stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _interactions(found: Path) -> list[tuple]:
    data = json.loads((found / "interactions.json").read_text())
    return [(i["start_ns"], i["release_ns"], i["object"]["track_id"]) for i in data["interactions"]]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--demos", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=1.0, help="playback speed (2: the camera twice as fast)")
    p.add_argument("--work", type=Path, default=None, help="keep the scene and recording here (default: temporary)")
    a = p.parse_args(argv)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    work = a.work or Path(tempfile.mkdtemp(prefix="bench_recording_"))
    os.environ.setdefault("ROS_LOG_DIR", str(work / "ros_log"))
    cfg = SceneConfig(demos=a.demos, seed=a.seed, width=a.width, height=a.height, fps=a.fps)
    make_scene(work / "scene", cfg)
    scene = work / "scene" / SCENE_BAG
    out = work / "recorded"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rec_log = open(work / "record.log", "w")
    recorder = subprocess.Popen(
        [sys.executable, "-m", "hotspot_ros.bag_record", *TOPICS, "-o", str(out)],
        env=env,
        stdout=rec_log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "waiting for publishers" not in (work / "record.log").read_text():
            if time.monotonic() > deadline or recorder.poll() is not None:
                raise SystemExit(f"the recorder did not start:\n{(work / 'record.log').read_text()}")
            time.sleep(0.05)
        cpu0 = _cpu_seconds(recorder.pid)
        play = subprocess.run(
            [sys.executable, "-m", "hotspot_ros.bag_play", str(scene), "--rate", str(a.rate)]
            + ["--wait-for-subscribers", "30"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        time.sleep(1.0)  # the last messages on their way
        cpu = _cpu_seconds(recorder.pid) - cpu0
    finally:
        if recorder.poll() is None:
            recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=30)
        rec_log.close()
    played = json.loads(play.stdout.strip().splitlines()[-1])
    lines = (work / "record.log").read_text().strip().splitlines()
    recorded = json.loads(next(ln for ln in reversed(lines) if ln.startswith("{")))
    size_mb = sum(f.stat().st_size for f in out.glob("*.mcap")) / 1e6
    find_demonstrations(scene, work / "found_scene")
    find_demonstrations(out, work / "found_recorded")
    same = _interactions(work / "found_scene") == _interactions(work / "found_recorded")
    scene_s = (played["messages_per_topic"]["/image"] - 1) / a.fps / a.rate
    print(
        f"camera {a.width}x{a.height} at {a.fps:g} Hz x rate {a.rate:g} ({a.fps * a.rate:g} images/s), "
        f"{a.demos} demonstrations: {scene_s:.1f} s of camera played in {played['seconds']:.1f} s "
        "(with the wait for the recorder's subscriptions and its acknowledgements)"
    )
    for topic in TOPICS:
        print(
            f"  {topic:18s} played {played['messages_per_topic'][topic]:5d}  "
            f"recorded {recorded['messages_per_topic'].get(topic, 0):5d}"
        )
    print(
        f"  recorder CPU {cpu:.1f} s over {played['seconds']:.1f} s of playback "
        f"({100 * cpu / max(played['seconds'], 1e-9):.0f} % of one core); recording {size_mb:.1f} MB"
    )
    print(f"  find: {len(_interactions(work / 'found_recorded'))} interactions, the scene's own: {same}")
    print(f"  (work folder {work})")
    return 0


if __name__ == "__main__":
    cli.run(main)
