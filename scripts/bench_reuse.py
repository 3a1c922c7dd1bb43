#!/usr/bin/env python3
"""Camera-rate benchmark of result reuse (issues 13, 18), over the real middleware (not a test).

A camera at --rate Hz (default 30) sends --size images (default 640x480) of a real photo (scikit-image's
CC0 coffee picture) with --objects objects pasted on it (default 8, crops of other scikit-image photos) and
their detection boxes to the hotspot node (its own process, shipped demo model and YAML unless --model,
input_qos reliable). With --jitter PX every box's centre and size move by uniform random offsets in
[-PX, PX] each frame, as a real detector's boxes do on a still scene. Scenes:

  static   nothing changes;
  move     every second one object (in turn) moves by --move-px pixels (its box follows, plus jitter);
  change   every second one object (in turn) changes: moved by --move-px, replaced by another object,
           or a skin-coloured hand patch enters its crop (the three kinds in turn).

Each scene runs with reuse_results true and false (a fresh node each), --seconds long after --warmup
seconds. Printed per run: frames sent and published (% and Hz), camera-to-output latency p50/p95 (stamp
to receipt by this process), objects computed / reused per second and frames dropped busy (node stats), the
node's own total p95 (decode to published); for move/change also the delay from a change to the changed
object's first fresh result and the count of outputs after a change that showed the changed object with a
result from before it (must be 0).

    AMENT_PREFIX_PATH=.venv nice -n 10 .venv/bin/python scripts/bench_reuse.py --seconds 60 --jitter 3

``--measure-fingerprints`` instead prints, without ROS, the fingerprint differences (hotspot_core.reuse, the
shipped ReuseConfig) of the sample frames' objects against sensor-like noise, JPEG re-encoding, the object
moved by 1-4 px and a hand-coloured patch in its crop: the margins the reuse threshold sits between.
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

from hotspot_core import cli

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


class Scene:
    """A photo with objects (crops of other photos) at rest, and the changes the benchmark makes to them."""

    MOVES = ((1, 0), (0, 1), (-1, 0), (0, -1))  # directions in turn, so objects stay near their place
    HAND_RGB = (224, 172, 150)

    def __init__(self, w: int, h: int, n: int, rng: np.random.Generator) -> None:
        import skimage.data

        self.rng = rng
        self.background = cv2.resize(skimage.data.coffee(), (w, h), interpolation=cv2.INTER_AREA)
        self.sources = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.rocket()]
        self.layout = boxes(n, w, h)
        self.patches = [self._new_object(s) for _, _, s, _ in self.layout]
        self.offsets = [(0, 0)] * n
        self.moves = 0
        self.picture = self._render()

    def _new_object(self, side: int) -> np.ndarray:
        src = self.sources[int(self.rng.integers(len(self.sources)))]
        y, x = (int(self.rng.integers(0, d - 2 * side)) for d in src.shape[:2])
        return cv2.resize(src[y : y + 2 * side, x : x + 2 * side], (side, side), interpolation=cv2.INTER_AREA)

    def _render(self) -> np.ndarray:
        out = self.background.copy()
        for (x, y, s, _), patch, (dx, dy) in zip(self.layout, self.patches, self.offsets):
            out[y + dy : y + dy + s, x + dx : x + dx + s] = patch
        return out

    def box(self, k: int) -> tuple[float, float, float]:
        """Object k's true box: centre x, centre y, side."""
        x, y, s, _ = self.layout[k]
        dx, dy = self.offsets[k]
        return x + dx + s / 2.0, y + dy + s / 2.0, float(s)

    def change(self, k: int, kind: str, move_px: int) -> None:
        if kind == "move":
            ux, uy = self.MOVES[self.moves % len(self.MOVES)]
            self.moves += 1
            dx, dy = self.offsets[k]
            self.offsets[k] = (dx + ux * move_px, dy + uy * move_px)
        elif kind == "replace":
            self.patches[k] = self._new_object(self.layout[k][2])
        else:  # a hand over a third of the object, from its right edge
            s = self.layout[k][2]
            patch = self.patches[k].copy()
            cv2.ellipse(patch, (s, s // 2), (s // 3, s // 4), 0, 0, 360, self.HAND_RGB, -1)
            self.patches[k] = patch
        self.picture = self._render()


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
    jitter_rng = np.random.default_rng(1)
    world = Scene(w, h, args.objects, rng)
    data = world.picture.tobytes()
    kinds = {"move": ["move"], "change": ["move", "replace", "hand"]}.get(scene, [])
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
            change = bool(kinds) and measuring[0] and time.monotonic() >= next_change
            if change:
                world.change(changed % args.objects, kinds[changed % len(kinds)], args.move_px)
                data = world.picture.tobytes()
                next_change += 1.0
            img = Image(height=h, width=w, encoding="rgb8", step=w * 3, data=data)
            img.header.stamp = client.get_clock().now().to_msg()
            img.header.frame_id = "camera"
            dets = Detection2DArray(header=img.header)
            for k in range(args.objects):
                cx, cy, s = world.box(k)
                # the node pads by 10% per side: the crop is the object's square; jitter moves centre and size
                bw, bh = s / 1.2, s / 1.2
                cx, cy, bw, bh = (v + jitter_rng.uniform(-args.jitter, args.jitter) for v in (cx, cy, bw, bh))
                d = Detection2D(header=img.header, id=f"o{k}")
                d.bbox.center.position.x, d.bbox.center.position.y = cx, cy
                d.bbox.size_x, d.bbox.size_y = bw, bh
                hyp = ObjectHypothesisWithPose()
                hyp.hypothesis.class_id, hyp.hypothesis.score = "object", 0.9
                d.results.append(hyp)
                dets.detections.append(d)
            img_pub.publish(img)
            det_pub.publish(dets)
            if measuring[0]:
                run.sent.append(ns(img.header.stamp))
                if change:
                    run.changes.append((f"o{changed % args.objects}", ns(img.header.stamp)))
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
    if run.scene != "static":
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


def measure_fingerprints() -> None:
    """Fingerprint differences at the remembered crop box on the sample frames (see the module docstring)."""
    import json

    from hotspot_core.image.boxes import pad_and_clamp
    from hotspot_core.reuse import ReuseConfig, difference, fingerprint

    cfg = ReuseConfig()
    samples = ROOT / "samples" / "demo"
    rng = np.random.default_rng(0)
    cases: dict[str, list[float]] = {}
    frames = json.loads((samples / "detections.json").read_text())["frames"]
    for entry in frames:
        rgb = np.ascontiguousarray(cv2.imread(str(samples / entry["file"]))[..., ::-1])
        h, w = rgb.shape[:2]
        noisy = np.clip(rgb + rng.normal(0, 6, rgb.shape), 0, 255).astype(np.uint8)
        jpeg = cv2.imdecode(cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], cv2.IMREAD_UNCHANGED)
        for d in entry["detections"]:
            roi = pad_and_clamp(tuple(map(float, d["bbox"])), 0.1, w, h, 8)
            if roi is None:
                continue
            ref = fingerprint(rgb, roi, cfg.fingerprint_size)

            def add(name: str, image: np.ndarray, ref=ref, roi=roi) -> None:
                cases.setdefault(name, []).append(difference(ref, fingerprint(image, roi, cfg.fingerprint_size)))

            add("sensor noise sigma 6", noisy)
            add("JPEG q70", jpeg)
            for px in (1, 2, 3, 4):  # the whole picture moved px pixels in a random direction
                a = rng.uniform(0, 2 * np.pi)
                m = np.float32([[1, 0, px * np.cos(a)], [0, 1, px * np.sin(a)]])
                add(f"moved {px} px", cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REFLECT))
            hand = rgb.copy()  # a 60x40 px skin-coloured patch at a random place in the crop
            x = int(rng.integers(roi.x0, max(roi.x0 + 1, roi.x1 - 60)))
            y = int(rng.integers(roi.y0, max(roi.y0 + 1, roi.y1 - 40)))
            hand[y : y + 40, x : x + 60] = Scene.HAND_RGB
            add("60x40 px hand patch", hand)
    print(
        f"fingerprint differences, {cfg.fingerprint_size}x{cfg.fingerprint_size} cells, threshold "
        f"{cfg.max_difference:g}, {len(next(iter(cases.values())))} objects of {len(frames)} sample frames"
    )
    print(f"{'case':22s} {'min':>6s} {'median':>7s} {'max':>6s}  over threshold")
    for name, v in cases.items():
        over = sum(x > cfg.max_difference for x in v)
        print(f"{name:22s} {min(v):6.1f} {np.median(v):7.1f} {max(v):6.1f}  {over}/{len(v)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], metavar=("W", "H"))
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--jitter", type=float, default=0.0, help="box centre/size jitter per frame, +- pixels")
    parser.add_argument("--move-px", type=int, default=4, help="how far a moved object moves, pixels")
    parser.add_argument("--scenes", nargs="+", default=["static", "change"], choices=["static", "move", "change"])
    parser.add_argument("--reuse", nargs="+", default=["on", "off"], choices=["on", "off"])
    parser.add_argument("--measure-fingerprints", action="store_true", help="print fingerprint margins (no ROS)")
    args = parser.parse_args()
    if args.model is not None and not args.model.is_file():  # before starting a node that would fail on it
        parser.error(f"no such model file: {args.model}")
    if args.measure_fingerprints:
        measure_fingerprints()
        return

    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    import rclpy

    rclpy.init()
    w, h = args.size
    print(
        f"{args.rate:g} Hz x {args.objects} objects, {w}x{h}, box jitter +-{args.jitter:g} px, device "
        f"{args.device}, {args.seconds:g} s per run after {args.warmup:g} s warm-up"
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
    cli.run(main)
