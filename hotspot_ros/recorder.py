"""Record the hotspot node's outputs: a rosbag2-compatible MCAP plus overlay PNGs, and a summary.

Each overlay is written as ``overlays/overlay_<sec>.<nanosec>.png``; at the end, all of them also go small
onto one ``overlays/contact_sheet.png`` (in stamp order, captioned with the time since the first).

Stops after ``--expect`` hotspot messages, or once nothing new arrived for ``--idle`` seconds after the
first one, or after ``--timeout`` seconds; then writes summary.json and prints it.

    python -m hotspot_ros.recorder --output outputs/demo --expect 18
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from interaction_hotspots.msg import HotspotArray, HotspotStats
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from hotspot_core import cli
from hotspot_core.image.overlay_grid import contact_sheet

from . import stop_signals
from .image_codec import image_to_rgb
from .mcap_writer import McapRecorder

CONTACT_SHEET = "contact_sheet.png"


def _stamp(png: Path) -> tuple[int, int]:
    """(sec, nanosec) from an ``overlay_<sec>.<nanosec>.png`` name."""
    sec, nsec = png.stem.removeprefix("overlay_").split(".")
    return int(sec), int(nsec)


def overlay_pngs(folder: Path) -> list[Path]:
    """The per-frame overlay PNGs in ``folder``, in stamp order."""
    return sorted(folder.glob("overlay_*.png"), key=_stamp)


def write_contact_sheet(folder: Path) -> Path | None:
    """All overlay PNGs of ``folder``, small, on one ``contact_sheet.png`` there; None when there are none."""
    read = [(p, cv2.imread(str(p), cv2.IMREAD_COLOR)) for p in overlay_pngs(folder)]
    frames = [p for p, bgr in read if bgr is not None]  # a half-written PNG is left off, not fatal
    images = [bgr[..., ::-1] for _, bgr in read if bgr is not None]
    if not frames:
        return None
    t0 = _stamp(frames[0])
    seconds = [(s - t0[0]) + (ns - t0[1]) * 1e-9 for s, ns in map(_stamp, frames)]
    sheet = contact_sheet(images, [f"{i}  +{t:.1f} s" for i, t in enumerate(seconds)])
    path = folder / CONTACT_SHEET
    if not cv2.imwrite(str(path), sheet.image[..., ::-1]):
        raise OSError(f"could not write {path}")
    return path


READY_LINE = "[recorder] ready: matched to the node's outputs"


class Recorder(Node):
    def __init__(self, output: Path, overlays: bool = True) -> None:
        super().__init__("hotspot_recorder")
        self.output = output
        (output / "overlays").mkdir(parents=True, exist_ok=True)
        self.bag = McapRecorder(output / "hotspots.mcap")
        self.hotspots = 0
        self.objects = 0
        self.e2e_ms: list[float] = []
        self.last_stats: HotspotStats | None = None
        self.stats_received = 0
        self.overlays = 0 if overlays else None  # None: not subscribed
        self.last_message = None
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.hotspots_sub = self.create_subscription(HotspotArray, "hotspots", self._on_hotspots, reliable)
        self.create_subscription(
            HotspotArray, "hotspots/actions", lambda m: self._record("/hotspots/actions", m), latched
        )
        self.create_subscription(
            MarkerArray, "hotspots/markers", lambda m: self._record("/hotspots/markers", m), reliable
        )
        self.create_subscription(HotspotStats, "hotspots/stats", self._on_stats, reliable)
        if overlays:
            self.create_subscription(Image, "hotspots/overlay", self._on_overlay, reliable)

    def _record(self, topic: str, msg) -> None:
        self.bag.write(topic, msg, time.time_ns())

    def _on_hotspots(self, msg: HotspotArray) -> None:
        now = time.time_ns()
        self.bag.write("/hotspots", msg, now)
        self.hotspots += 1
        self.objects += len(msg.objects)
        self.e2e_ms.append((now - (msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)) / 1e6)
        self.last_message = time.monotonic()

    def _on_stats(self, msg: HotspotStats) -> None:
        self._record("/hotspots/stats", msg)
        self.last_stats = msg
        self.stats_received += 1

    def _on_overlay(self, msg: Image) -> None:
        self._record("/hotspots/overlay", msg)
        stamp = f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"
        cv2.imwrite(str(self.output / "overlays" / f"overlay_{stamp}.png"), image_to_rgb(msg)[..., ::-1])
        self.overlays += 1

    def summary(self) -> dict:
        s = self.last_stats
        out = {
            "hotspot_messages": self.hotspots,
            "objects": self.objects,
            "end_to_end_latency_ms": {
                "p50": float(np.percentile(self.e2e_ms, 50)) if self.e2e_ms else None,
                "p95": float(np.percentile(self.e2e_ms, 95)) if self.e2e_ms else None,
            },
            "mcap": str(self.output / "hotspots.mcap"),
            "messages_per_topic": dict(self.bag.counts),
            "overlay_pngs": len(overlay_pngs(self.output / "overlays")),
        }
        if s is not None:
            out["node"] = {
                "frames_received": s.frames_received,
                "frames_processed": s.frames_processed,
                "frames_dropped_busy": s.frames_dropped_busy,
                "frames_dropped_stale": s.frames_dropped_stale,
                "objects_processed": s.objects_processed,
                "objects_reused": s.objects_reused,
                "latency_ms": {
                    name: {"p50": p50, "p95": p95}
                    for name, p50, p95 in zip(s.stage_names, s.latency_p50_ms, s.latency_p95_ms)
                },
            }
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--expect", type=int, default=0, help="stop after this many hotspot messages (0: no limit)")
    parser.add_argument("--idle", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--no-overlays", action="store_true")
    parser.add_argument(
        "--ready-file",
        type=Path,
        default=None,
        help="written once the node's hotspots publisher is seen and a stats message has arrived, so "
        "a launcher can start the camera only then (a volatile message published before the "
        "node's writers have matched this recorder would be lost)",
    )
    args, ros_args = parser.parse_known_args(argv)
    stop_signals.install()  # Ctrl-C (sent twice under ros2 launch) ends it cleanly
    rclpy.init(args=ros_args or None, signal_handler_options=SignalHandlerOptions.NO)
    node = Recorder(args.output, overlays=not args.no_overlays)
    deadline = time.monotonic() + args.timeout
    interrupted = False
    try:
        ready = False
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
            # Seeing the publisher is only our side of the match; a stats message proves the node's side
            # (its participant has discovered our readers), which a busy node can lag behind by seconds.
            if not ready and node.hotspots_sub.get_publisher_count() > 0 and node.stats_received > 0:
                if args.ready_file is not None:
                    args.ready_file.write_text("ready\n")
                print(READY_LINE, flush=True)  # demo.launch.py starts the camera on this line
                ready = True
            if args.expect and node.hotspots >= args.expect:
                # The summary's node counters and latencies must include the last frames: wait for a stats
                # message that counts every frame recorded (the node publishes them every stats_period_sec,
                # 5 s as shipped), and for the last frames' overlays (their own topic, which can arrive after
                # the hotspots message), for at most --idle seconds.
                settle = time.monotonic() + args.idle
                while time.monotonic() < settle and (
                    node.last_stats is None
                    or node.last_stats.frames_processed < node.hotspots
                    or (node.overlays is not None and node.overlays < node.hotspots)
                ):
                    rclpy.spin_once(node, timeout_sec=0.1)
                break
            if node.last_message is not None and time.monotonic() - node.last_message > args.idle:
                break
    except (KeyboardInterrupt, ExternalShutdownException):
        interrupted = True  # Ctrl-C or SIGTERM (or another shutdown of the context): write what was recorded
    finally:
        stop_signals.ignore()
        node.bag.close()
        summary = node.summary()
        try:
            sheet = write_contact_sheet(args.output / "overlays")
        except OSError as exc:  # the recording and its summary matter more than the sheet
            print(f"[recorder] no contact sheet: {exc}", file=sys.stderr)
            sheet = None
        summary["contact_sheet"] = str(sheet) if sheet else None
        (args.output / "summary.json").write_text(json.dumps(summary, indent=1))
        node.destroy_node()
        rclpy.try_shutdown()
    print(json.dumps(summary))
    return 0 if summary["hotspot_messages"] > 0 or interrupted else 1  # Ctrl-C is a requested stop


if __name__ == "__main__":
    cli.run(main)
