#!/usr/bin/env python3
"""Camera-rate benchmark of result reuse (issue 13), over the real middleware (not a test).

A camera at --rate Hz (default 30) sends --size images (default 640x480) with --objects boxes (default 8)
to the hotspot node (its own process, shipped demo model unless --model, input_qos reliable). Two scenes:

  static   nothing changes;
  change   every second one object (in turn) is replaced by another (a new picture inside its box).

Each scene runs with reuse_results true and false (a fresh node each), --seconds long after --warmup
seconds. Printed per run: frames sent and published (% and Hz), camera-to-output latency p50/p95 (stamp
to receipt by this process), objects computed / reused per second and frames dropped busy (node stats), the
node's own total p95 (decode to published); for the change scene also the delay from a change to the changed object's first fresh result and
the count of outputs that showed a changed object with a result from before the change (must be 0).

    AMENT_PREFIX_PATH=.venv nice -n 10 .venv/bin/python scripts/bench_reuse.py --seconds 25
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Output:
    stamp_ns: int
    recv_ns: int
    objects: list[tuple[str, bool, int]]  # (id, reused, computed stamp ns)


@dataclass
class Run:
    scene: str
    reuse: bool
    sent: list[int] = field(default_factory=list)  # stamps of frames sent in the measured window
    outputs: list[Output] = field(default_factory=list)
    changes: list[tuple[str, int]] = field(default_factory=list)  # (object id, stamp of the first changed frame)
    stats: list = field(default_factory=list)


def ns(t) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def boxes(n: int, w: int, h: int) -> list[tuple[int, int, int, int]]:
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    cw, ch = w // cols, h // rows
    side = min(cw, ch) - 40
    return [((k % cols) * cw + (cw - side) // 2, (k // cols) * ch + (ch - side) // 2, side, side) for k in range(n)]


def run_once(args, scene: str, reuse: bool) -> Run:
    from interaction_hotspots.msg import HotspotArray, HotspotStats
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    from hotspot_core.demo_model import demo_model_path
    from hotspot_ros.run import node_command

    model = args.model or demo_model_path()
    cmd = node_command({"model_path": model, "device": args.device, "stats_period_sec": 0.5, "reuse_results": reuse})
    node_proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = Node("bench_reuse_client")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    img_pub = client.create_publisher(Image, "image", qos)
    det_pub = client.create_publisher(Detection2DArray, "detections", qos)
    run = Run(scene, reuse)
    measuring = [False]

    def on_hotspots(m: HotspotArray) -> None:
        if measuring[0]:
            run.outputs.append(
                Output(
                    ns(m.header.stamp),
                    time.time_ns(),
                    [(o.detection_id, o.reused, ns(o.computed_stamp)) for o in m.objects],
                )
            )

    client.create_subscription(
        HotspotArray, "hotspots", on_hotspots, QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    )
    sending = [False]  # stats only while the camera runs: rates per second of sending
    client.create_subscription(
        HotspotStats, "hotspots/stats", lambda m: run.stats.append(m) if sending[0] else None, qos
    )
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    w, h = args.size
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    data = picture.tobytes()
    layout = boxes(args.objects, w, h)
    try:
        deadline = time.monotonic() + 180
        while (
            img_pub.get_subscription_count() == 0 or det_pub.get_subscription_count() == 0
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        period = 1.0 / args.rate
        start = time.monotonic()
        t_next, frame, next_change, changed = start, 0, start + args.warmup + 0.5, 0
        while True:
            now = time.monotonic()
            if now >= start + args.warmup + args.seconds:
                break
            if now < t_next:
                time.sleep(t_next - now)
            t_next += period
            measuring[0] = sending[0] = time.monotonic() >= start + args.warmup
            change = scene == "change" and measuring[0] and time.monotonic() >= next_change
            if change:  # another object in one box: a new 4x4 pattern of colours blown up to the box
                x, y, s, _ = layout[changed % len(layout)]
                pattern = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
                picture[y : y + s, x : x + s] = cv2.resize(pattern, (s, s), interpolation=cv2.INTER_LINEAR)
                data = picture.tobytes()
                next_change += 1.0
            img = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=data)
            img.header.stamp = client.get_clock().now().to_msg()
            img.header.frame_id = "camera"
            dets = Detection2DArray(header=img.header)
            for k, (x, y, s, _) in enumerate(layout):
                d = Detection2D(header=img.header, id=f"o{k}")
                d.bbox.center.position.x, d.bbox.center.position.y = x + s / 2.0, y + s / 2.0
                d.bbox.size_x = d.bbox.size_y = float(s) / 1.2  # the node pads by 10% per side: crop = box
                hyp = ObjectHypothesisWithPose()
                hyp.hypothesis.class_id, hyp.hypothesis.score = "object", 0.9
                d.results.append(hyp)
                dets.detections.append(d)
            img_pub.publish(img)
            det_pub.publish(dets)
            if measuring[0]:
                run.sent.append(ns(img.header.stamp))
                if change:
                    run.changes.append((f"o{changed % len(layout)}", ns(img.header.stamp)))
                    changed += 1
            frame += 1
        sending[0] = False
        time.sleep(1.5)  # the last outputs
        measuring[0] = False
    finally:
        executor.shutdown()
        client.destroy_node()
        node_proc.send_signal(signal.SIGINT)
        try:
            node_proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node_proc.kill()
            node_proc.wait()
    return run


def report(run: Run, seconds: float, rate: float) -> str:
    sent = set(run.sent)
    outs = [o for o in run.outputs if o.stamp_ns in sent]
    lat = [(o.recv_ns - o.stamp_ns) / 1e6 for o in outs]
    p50, p95 = np.percentile(lat, [50, 95]) if lat else (float("nan"),) * 2
    first, last = (run.stats[0], run.stats[-1]) if len(run.stats) >= 2 else (None, None)
    span = max(1e-9, (ns(last.header.stamp) - ns(first.header.stamp)) / 1e9) if first else float("nan")
    computed = (last.objects_processed - first.objects_processed) / span if first else float("nan")
    reused = (last.objects_reused - first.objects_reused) / span if first else float("nan")
    busy = last.frames_dropped_busy - first.frames_dropped_busy if first else -1
    lost = (
        (ns(last.header.stamp) - ns(first.header.stamp)) / 1e9 * rate - (last.frames_received - first.frames_received)
        if first
        else float("nan")
    )  # images the node never received (middleware, depth-1 queues)
    unmatched = last.detections_unmatched - first.detections_unmatched if first else -1
    # the node's own total (decode to published) p95 over its last 200 published frames
    total = dict(zip(last.stage_names, last.latency_p95_ms)).get("total", float("nan")) if last else float("nan")
    row = (
        f"{run.scene:7s} {'on' if run.reuse else 'off':5s} {len(run.sent):5d} {len(outs):5d} "
        f"{100.0 * len(outs) / max(1, len(run.sent)):6.1f} {len(outs) / seconds:6.1f} {p50:8.0f} {p95:8.0f} "
        f"{computed:8.1f} {reused:7.1f} {busy:5d} {total:7.0f}  [not received ~{max(0.0, lost):.0f}, unmatched {unmatched}]"
    )
    if run.scene == "change":
        delays, stale = [], 0
        for obj, t_change in run.changes:
            later = [o for o in outs if o.stamp_ns >= t_change]
            fresh = next((o for o in later for i, r, c in o.objects if i == obj and c >= t_change), None)
            if fresh is not None:
                delays.append((fresh.recv_ns - t_change) / 1e6)
            stale += sum(
                1
                for o in later
                for i, r, c in o.objects
                if i == obj and c < t_change and (fresh is None or o.stamp_ns <= fresh.stamp_ns)
            )
        d = f"{np.percentile(delays, 50):.0f}/{max(delays):.0f}" if delays else "-"
        row += f"   change->fresh p50/max {d} ms over {len(delays)}/{len(run.changes)} changes, stale outputs {stale}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--scenes", nargs="+", default=["static", "change"], choices=["static", "change"])
    parser.add_argument("--reuse", nargs="+", default=["on", "off"], choices=["on", "off"])
    args = parser.parse_args()

    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    import rclpy

    rclpy.init()
    w, h = args.size
    print(
        f"{args.rate:g} Hz x {args.objects} objects, {w}x{h}, device {args.device}, {args.seconds:g} s per run "
        f"after {args.warmup:g} s warm-up"
    )
    print(
        f"{'scene':7s} {'reuse':5s} {'sent':>5s} {'publ':>5s} {'%':>6s} {'Hz':>6s} {'e2e p50':>8s} {'e2e p95':>8s} "
        f"{'comp/s':>8s} {'reuse/s':>7s} {'busy':>5s} {'nodeP95':>7s}  (ms)"
    )
    try:
        for scene in args.scenes:
            for reuse in args.reuse:
                print(report(run_once(args, scene, reuse == "on"), args.seconds, args.rate), flush=True)
    finally:
        rclpy.shutdown()


if __name__ == "__main__":
    main()
