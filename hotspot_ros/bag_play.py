"""Replay a rosbag2 MCAP recording onto its topics where ``ros2 bag play`` is not installed (the PyPI set-up).

    python -m hotspot_ros.bag_play my_demos [--rate 1.0] [--topics /image /detections]

``BAG`` is an ``.mcap`` file or a rosbag2 folder (its ``*.mcap`` files in name order). Every message is
published as the bytes recorded (no decoding), at its recorded time relative to the first, divided by
``--rate``; publishers are reliable and volatile (they reach best-effort subscribers too), keep-last
``--history-depth`` (100; 0: keep-all, every message waits for every subscriber's acknowledgement). Use it to
run the node, with a model taught from a recording, on that recording: ``python -m hotspot_ros.run`` (or the
launch file) in one terminal, this in another. A topic whose type is not installed here is named and skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import rclpy
from mcap.reader import make_reader
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions

from hotspot_core import cli
from hotspot_core.mcap_bags import READ_ERRORS, bag_files, bag_topics, read_error

from . import stop_signals
from .message_types import message_class

SLEEP_SLICE_S = 0.05  # the longest uninterrupted sleep, so Ctrl-C is seen promptly


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bag", type=Path, help="an .mcap file or a rosbag2 folder")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed (2: twice as fast)")
    parser.add_argument("--topics", nargs="+", default=None, help="play only these topics (default: all)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before the first message")
    parser.add_argument(
        "--wait-for-subscribers",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait (at most this long) until every played topic has a subscriber (0: do not wait)",
    )
    parser.add_argument(
        "--history-depth",
        type=int,
        default=100,
        help="messages each publisher keeps for a slow subscriber (0: all of them, the playback then waits "
        "for the slowest subscriber)",
    )
    parser.add_argument(
        "--ack-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="at the end, wait at most this long for the subscribers to acknowledge every message",
    )
    args, ros_args = parser.parse_known_args(argv)
    if args.rate <= 0 or min(args.delay, args.wait_for_subscribers, args.ack_timeout, args.history_depth) < 0:
        cli.fail("--rate must be > 0, --delay, --wait-for-subscribers, --history-depth and --ack-timeout >= 0")
    files = bag_files(args.bag)
    types = bag_topics(args.bag)
    wanted = list(types) if args.topics is None else args.topics
    unknown = [t for t in wanted if t not in types]
    if unknown:
        cli.fail(f"{args.bag}: no topic {', '.join(unknown)} in the bag (it has {', '.join(sorted(types)) or 'none'})")
    classes, skipped = {}, {}
    for topic in wanted:
        try:
            classes[topic] = message_class(types[topic])
        except (ImportError, AttributeError, ValueError):
            skipped[topic] = types[topic]
            print(f"[bag_play] {topic} is not played: its type {types[topic]!r} is not installed here", file=sys.stderr)
    if not classes:
        cli.fail(f"{args.bag}: none of the topics has a message type installed here")
    stop_signals.install()
    rclpy.init(args=ros_args or None, signal_handler_options=SignalHandlerOptions.NO)
    node = Node("hotspot_bag_play")
    # Keep-last by default, as a camera driver publishes: a subscriber slower than the recording (the node)
    # misses messages and the playback keeps its pace. --history-depth 0 (keep-all) instead waits for every
    # subscriber to acknowledge each message: nothing is lost, and the slowest subscriber sets the pace.
    profile = QoSProfile(
        history=HistoryPolicy.KEEP_ALL if args.history_depth == 0 else HistoryPolicy.KEEP_LAST,
        depth=max(1, args.history_depth),
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.VOLATILE,
    )
    publishers = {topic: node.create_publisher(cls, topic, profile) for topic, cls in classes.items()}
    counts = dict.fromkeys(publishers, 0)
    failed = None
    started = time.monotonic()
    try:
        if args.wait_for_subscribers:
            deadline = time.monotonic() + args.wait_for_subscribers
            while time.monotonic() < deadline and any(p.get_subscription_count() == 0 for p in publishers.values()):
                time.sleep(SLEEP_SLICE_S)
            lonely = [t for t, p in publishers.items() if p.get_subscription_count() == 0]
            if lonely:
                node.get_logger().warning(f"no subscriber yet on {', '.join(lonely)}: playing anyway")
        time.sleep(args.delay)
        print(f"[bag_play] playing {len(publishers)} topics of {args.bag} at rate {args.rate}", flush=True)
        t0_wall, t0_bag = None, None
        for path in files:
            with open(path, "rb") as f:
                try:
                    for _, channel, message in make_reader(f).iter_messages(
                        topics=list(publishers), log_time_order=True
                    ):
                        if t0_wall is None:
                            t0_wall, t0_bag = time.monotonic(), message.log_time
                        due = t0_wall + (message.log_time - t0_bag) / 1e9 / args.rate
                        while (left := due - time.monotonic()) > 0:
                            time.sleep(min(left, SLEEP_SLICE_S))
                        publishers[channel.topic].publish(message.data)
                        counts[channel.topic] += 1
                except READ_ERRORS as exc:  # a damaged chunk: stop there, say so, keep what was played
                    failed = str(read_error(path, exc))
                    break
        # Exiting drops what the subscribers have not received yet (the last large image, a lagging
        # recorder's backlog): wait for their acknowledgements first.
        unacked = [t for t, pub in publishers.items() if not pub.wait_for_all_acked(Duration(seconds=args.ack_timeout))]
        if unacked:
            node.get_logger().warning(
                f"not every message on {', '.join(unacked)} was acknowledged within {args.ack_timeout:g} s"
            )
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C: stop where it is
    finally:
        stop_signals.ignore()
        node.destroy_node()
        rclpy.try_shutdown()
    summary = {
        "bag": str(args.bag),
        "seconds": round(time.monotonic() - started, 3),
        "messages_per_topic": counts,
        "not_played": skipped,
    }
    print(json.dumps(summary), flush=True)
    if failed:
        cli.fail(f"played up to where the recording breaks off: {failed}")
    return 0


if __name__ == "__main__":
    cli.run(main)
