#!/usr/bin/env python3
"""Node latency per frame for 1, 4 and 8 objects, over the real middleware (not a test).

Starts the hotspot node as its own process (localhost-only discovery, a fresh domain id), sends one
frame at a time and waits for its HotspotArray, and prints the node's own per-stage p50/p95 (its stats
topic) and the camera-to-output latency seen by the sender. Stops the node by its pid.

    AMENT_PREFIX_PATH=.venv .venv/bin/python scripts/bench_node.py --frames 20 [--model PATH] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hotspot_core import cli

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="leave result reuse on (off by default here: every frame repeats the same pixels, so "
        "with reuse on this would time the reuse path, see scripts/bench_reuse.py)",
    )
    args = parser.parse_args()
    if args.model is not None and not args.model.is_file():  # before starting a node that would fail on it
        parser.error(f"no such model file: {args.model}")

    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    import rclpy
    from interaction_hotspots.msg import HotspotArray, HotspotStats
    from rclpy.node import Node
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

    from hotspot_core.demo_model import demo_model_path
    from hotspot_ros.run import node_command

    model = args.model or demo_model_path()
    params = {"model_path": model, "device": args.device, "stats_period_sec": 0.5, "max_objects": 64}
    cmd = node_command({**params, "reuse_results": args.reuse})
    node_proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    rclpy.init()
    client = Node("bench_client")
    qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    img_pub = client.create_publisher(Image, "image", qos)
    det_pub = client.create_publisher(Detection2DArray, "detections", qos)
    outputs: list[tuple[HotspotArray, int]] = []
    stats: list[HotspotStats] = []
    client.create_subscription(HotspotArray, "hotspots", lambda m: outputs.append((m, time.time_ns())), qos)
    client.create_subscription(HotspotStats, "hotspots/stats", stats.append, qos)
    w, h = args.size
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, h * w * 3, dtype=np.uint8).tobytes()
    try:
        deadline = time.monotonic() + 180
        while img_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            rclpy.spin_once(client, timeout_sec=0.1)
        print(f"model {model.name}, device {args.device}, image {w}x{h}, {args.frames} frames per row")
        print(
            f"{'objects':>7s} {'node p50':>9s} {'node p95':>9s} {'infer p50':>10s} {'e2e p50':>8s} {'e2e p95':>8s}  (ms per frame)"
        )
        for n_obj in args.objects:
            lat = []
            stats.clear()
            for i in range(args.frames + 2):  # 2 warm-up frames per row
                img = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=pixels)
                img.header.stamp = client.get_clock().now().to_msg()
                img.header.frame_id = "camera"
                dets = Detection2DArray(header=img.header)
                for k in range(n_obj):
                    d = Detection2D(header=img.header, id=f"o{k}")
                    d.bbox.center.position.x, d.bbox.center.position.y = 40 + (k % 4) * 150, 60 + (k // 4) * 200
                    d.bbox.size_x = d.bbox.size_y = 100.0
                    hyp = ObjectHypothesisWithPose()
                    hyp.hypothesis.class_id, hyp.hypothesis.score = "object", 0.9
                    d.results.append(hyp)
                    dets.detections.append(d)
                start = len(outputs)
                sent = time.time_ns()
                img_pub.publish(img)
                det_pub.publish(dets)
                end = time.monotonic() + 120
                while len(outputs) == start and time.monotonic() < end:
                    rclpy.spin_once(client, timeout_sec=0.01)
                if len(outputs) > start and i >= 2:
                    lat.append((outputs[-1][1] - sent) / 1e6)
            settle = time.monotonic() + 1.2
            while time.monotonic() < settle:
                rclpy.spin_once(client, timeout_sec=0.05)
            s = stats[-1]
            p50 = dict(zip(s.stage_names, s.latency_p50_ms))
            p95 = dict(zip(s.stage_names, s.latency_p95_ms))
            q = np.percentile(lat, [50, 95]) if lat else (float("nan"),) * 2
            print(
                f"{n_obj:7d} {p50['total']:9.0f} {p95['total']:9.0f} {p50['inference']:10.0f} {q[0]:8.0f} {q[1]:8.0f}"
            )
    finally:
        client.destroy_node()
        rclpy.shutdown()
        node_proc.send_signal(signal.SIGINT)
        try:
            node_proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node_proc.kill()


if __name__ == "__main__":
    cli.run(main)
