"""The one-command demo: sample source -> hotspot node -> recorder, on the shipped demo model.

Starts the three as separate processes on this machine only (localhost discovery, a fresh domain id),
waits for the recorder, stops every process it started by its pid, and prints frames processed,
objects and latency p50/p95. Outputs: <output>/hotspots.mcap (rosbag2-compatible), overlay PNGs (one per
frame, and all of them on overlays/contact_sheet.png), summary.json, logs.

    python -m hotspot_ros.demo --output outputs/demo
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from hotspot_core import cli
from hotspot_core.demo_model import demo_model_path

from .run import node_command
from .sample_source import DEFAULT_SAMPLES


def _stop(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=Path("outputs/demo"))
    parser.add_argument("--model", type=Path, default=None, help="checkpoint (default: the shipped demo model)")
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--rate", type=float, default=2.0, help="camera rate of the sample source (Hz)")
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=400.0)
    args = parser.parse_args(argv)

    model = args.model or demo_model_path()
    if not model.is_file():
        cli.fail(f"demo model not found: {model} (make it with: .venv/bin/python -m training.make_demo_model)")
    out = args.output.resolve()
    out.mkdir(parents=True, exist_ok=True)
    for old in (out / "overlays").glob("*.png") if (out / "overlays").is_dir() else []:
        old.unlink()
    env = os.environ.copy()
    env.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # never leave this machine
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    env["ROS_LOG_DIR"] = str(out / "ros_log")
    frames = len(json.loads((args.samples / "detections.json").read_text())["frames"]) * args.loops
    py = sys.executable
    logs = {name: open(out / f"{name}.log", "wb") for name in ("node", "recorder", "source")}
    procs: list[subprocess.Popen] = []
    t0 = time.monotonic()
    try:

        def start(name: str, cmd: list[str]) -> subprocess.Popen:
            proc = subprocess.Popen(cmd, env=env, stdout=logs[name], stderr=subprocess.STDOUT)
            procs.append(proc)
            return proc

        # The shipped YAML (input_qos auto matches the reliable sample source); stats every second so the
        # recorder is ready (it waits for one) soon.
        node = start("node", node_command({"model_path": model, "stats_period_sec": 1.0}, py))
        ready = out / "recorder.ready"
        ready.unlink(missing_ok=True)
        recorder = start(
            "recorder",
            [
                py,
                "-m",
                "hotspot_ros.recorder",
                "--output",
                str(out),
                "--expect",
                str(frames),
                "--idle",
                "15",
                "--timeout",
                str(args.timeout),
                "--ready-file",
                str(ready),
            ],
        )
        # The camera starts only once the recorder is matched to the node's output: the first frames'
        # hotspot messages would otherwise be published before anyone listens, and be lost.
        ready_by = time.monotonic() + args.timeout
        while not ready.is_file() and time.monotonic() < ready_by and recorder.poll() is None and node.poll() is None:
            time.sleep(0.1)
        if not ready.is_file():
            print(f"[demo] the recorder never saw the node's hotspots topic; see {out / 'node.log'}", file=sys.stderr)
        source = start(
            "source",
            [
                py,
                "-m",
                "hotspot_ros.sample_source",
                "--samples",
                str(args.samples),
                "--rate",
                str(args.rate),
                "--loops",
                str(args.loops),
            ],
        )
        print(
            f"[demo] {frames} frames at {args.rate} Hz through the hotspot node ({model.name}); "
            f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}, logs in {out}"
        )
        source_rc = source.wait(timeout=args.timeout)
        recorder.wait(timeout=args.timeout)
        if node.poll() is not None:
            print(f"[demo] the node exited early (code {node.returncode}); see {out / 'node.log'}", file=sys.stderr)
    except subprocess.TimeoutExpired:
        print(f"[demo] timed out after {args.timeout} s", file=sys.stderr)
        source_rc = -1
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for f in logs.values():
            f.close()
    summary_path = out / "summary.json"
    if not summary_path.is_file():
        print("[demo] no summary written; see the logs", file=sys.stderr)
        return 1
    s = json.loads(summary_path.read_text())
    node_stats = s.get("node", {})
    lat = node_stats.get("latency_ms", {}).get("total", {})
    e2e = s["end_to_end_latency_ms"]
    print(
        f"[demo] frames published {frames}, processed {node_stats.get('frames_processed', s['hotspot_messages'])} "
        f"(dropped while busy {node_stats.get('frames_dropped_busy', '?')}), hotspot messages {s['hotspot_messages']}, "
        f"objects {s['objects']}"
    )
    if lat:
        print(
            f"[demo] node latency per frame: p50 {lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms; "
            f"camera-to-output p50 {e2e['p50']:.0f} ms, p95 {e2e['p95']:.0f} ms"
        )
    print(
        f"[demo] wrote {s['mcap']} ({sum(s['messages_per_topic'].values())} messages) and {s['overlay_pngs']} "
        f"overlay PNGs in {out / 'overlays'} in {time.monotonic() - t0:.0f} s"
    )
    if s.get("contact_sheet"):
        print(f"[demo] all frames on one contact sheet: {s['contact_sheet']}")
    return 0 if s["hotspot_messages"] > 0 and source_rc == 0 else 1


if __name__ == "__main__":
    cli.run(main)
