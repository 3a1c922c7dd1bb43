"""Record topics into a rosbag2 MCAP file where ``ros2 bag record`` is not installed (the PyPI set-up).

    python -m hotspot_ros.bag_record -o my_demos /camera/color/image_raw /detector/detections \\
        /hand_detector/detections

Writes ``my_demos/my_demos_0.mcap``, rosbag2's layout (a folder holding its MCAP file; profile ros2, CDR,
zstd chunks, ros2msg schemas of the installed types), until Ctrl-C / SIGTERM or ``--duration``. Each topic
is subscribed once it has a publisher, with its publishers' type and a QoS they all match (rosbag2's rule,
``hotspot_ros.qos``); each message is written as the bytes that arrived, stamped with its arrival time. At
the end it prints what it recorded per topic, and names the topics that never had a publisher.
``python -m training.demonstrations find my_demos`` reads the folder; ``hotspot_ros.bag_play`` replays it.
On a robot with the ROS 2 distribution, ``ros2 bag record`` does the same (launch/record_demonstrations.launch.py
starts this recorder on either install).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy
from rclpy.signals import SignalHandlerOptions

from hotspot_core import cli

from . import stop_signals
from .mcap_writer import McapRecorder
from .message_types import message_class
from .qos import POLL_PERIOD_S, profile_for_publishers

READY_LINE = "[bag_record] recording: every topic subscribed"


def default_output(now: float | None = None) -> Path:
    """``demonstrations_YYYY_MM_DD-HH_MM_SS`` (rosbag2 names its default ``rosbag2_...`` the same way)."""
    return Path(time.strftime("demonstrations_%Y_%m_%d-%H_%M_%S", time.localtime(now)))


class BagRecorder(Node):
    """Subscribes to ``topics`` as their publishers appear and writes every message into ``bag``."""

    def __init__(self, bag: McapRecorder, topics: list[str]) -> None:
        super().__init__("hotspot_bag_record")
        self.bag = bag
        self.pending = [self.resolve_topic_name(t) for t in topics]
        self.types: dict[str, str] = {}
        self.refused: dict[str, str] = {}  # topic -> why it is not recorded
        self._subs = []
        self._timer = self.create_timer(POLL_PERIOD_S, self._poll)
        self._poll()

    def _poll(self) -> None:
        for topic in list(self.pending):
            infos = self.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            self.pending.remove(topic)
            kinds = sorted({i.topic_type for i in infos})
            if len(kinds) > 1:
                self._refuse(topic, f"its publishers disagree on the type ({', '.join(kinds)})")
                continue
            try:
                cls = message_class(kinds[0])
            except (ImportError, AttributeError, ValueError):
                self._refuse(topic, f"its type {kinds[0]} is not installed here")
                continue
            profile, why = profile_for_publishers([i.qos_profile for i in infos], depth=1)
            # Keep-all: while the recorder is behind (compressing a burst of large images) nothing that
            # reached it is overwritten; with a reliable publisher the backlog waits on the publisher's side.
            profile.history = HistoryPolicy.KEEP_ALL
            self.types[topic] = kinds[0]
            self._subs.append(self.create_subscription(cls, topic, self._writer(topic, kinds[0]), profile, raw=True))
            self.get_logger().info(f"recording {topic} ({kinds[0]}): {why}")
        if not self.pending and self._timer is not None:
            self.destroy_timer(self._timer)
            self._timer = None

    def _refuse(self, topic: str, why: str) -> None:
        self.refused[topic] = why
        self.get_logger().error(f"{topic} is not recorded: {why}")

    def _writer(self, topic: str, type_name: str):
        def write(data: bytes) -> None:
            self.bag.write_serialized(topic, type_name, data, time.time_ns())

        return write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("topics", nargs="+", help="the topics to record (names as published)")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="the bag folder to create (it must not exist); default demonstrations_<date>-<time>",
    )
    parser.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: at Ctrl-C)")
    args, ros_args = parser.parse_known_args(argv)
    if args.duration < 0:
        cli.fail(f"--duration must be >= 0, got {args.duration}")
    out = args.output or default_output()
    if out.exists():
        raise FileExistsError(17, "The bag folder exists already (choose another --output)", str(out))
    stop_signals.install()  # Ctrl-C (sent twice under ros2 launch) ends it cleanly
    out.mkdir(parents=True)
    bag = McapRecorder(out / f"{out.name}_0.mcap")
    rclpy.init(args=ros_args or None, signal_handler_options=SignalHandlerOptions.NO)
    node = BagRecorder(bag, args.topics)
    print(f"[bag_record] writing {bag.path}; waiting for publishers of {', '.join(node.pending)}", flush=True)
    started = time.monotonic()
    ready = False
    try:
        while not args.duration or time.monotonic() - started < args.duration:
            rclpy.spin_once(node, timeout_sec=0.1)
            if not ready and not node.pending:
                print(READY_LINE if not node.refused else "[bag_record] recording what can be", flush=True)
                ready = True
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C or SIGTERM: finish the file with what was recorded
    finally:
        stop_signals.ignore()
        bag.close()
        summary = {
            "bag": str(bag.path),
            "seconds": round(time.monotonic() - started, 3),
            "messages_per_topic": {t: bag.counts.get(t, 0) for t in node.types},
            "never_published": list(node.pending),
            "not_recorded": node.refused,
        }
        node.destroy_node()
        rclpy.try_shutdown()
    for topic in summary["never_published"]:
        print(f"[bag_record] warning: {topic} had no publisher: nothing recorded from it", file=sys.stderr)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
