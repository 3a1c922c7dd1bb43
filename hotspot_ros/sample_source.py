"""Publish the bundled sample sequence (samples/demo) as a camera would: Image + Detection2DArray.

Each frame and its detections carry the same fresh stamp, as detectors stamp detections with their
source image's stamp. Exits after the sequence (optionally looped).

    python -m hotspot_ros.sample_source --rate 10 --loops 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

from hotspot_core import cli

from . import stop_signals
from .image_codec import rgb_to_image_fields


def _default_samples() -> Path:
    """samples/demo in the checkout, else in the installed share folder (colcon)."""
    checkout = Path(__file__).resolve().parents[1] / "samples" / "demo"
    if checkout.is_dir():
        return checkout
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("interaction_hotspots")) / "samples" / "demo"
    except Exception:  # not installed as a ROS package either: report the checkout path when loading fails
        return checkout


DEFAULT_SAMPLES = _default_samples()


def load_samples(folder: Path) -> list[tuple[object, list[dict]]]:
    """(RGB image, detections) per frame, from detections.json + the JPEGs next to it."""
    index = json.loads((folder / "detections.json").read_text())
    frames = []
    for entry in index["frames"]:
        bgr = cv2.imread(str(folder / entry["file"]))
        if bgr is None:
            raise FileNotFoundError(f"sample frame missing or unreadable: {folder / entry['file']}")
        frames.append((bgr[..., ::-1], entry["detections"]))
    return frames


def to_messages(rgb, dets: list[dict], stamp, frame_id: str) -> tuple[Image, Detection2DArray]:
    img = Image(encoding="rgb8")
    img.header.stamp, img.header.frame_id = stamp, frame_id
    img.height, img.width, img.step, img.data = rgb_to_image_fields(rgb, "rgb8")
    arr = Detection2DArray(header=img.header)
    for d in dets:
        x0, y0, x1, y1 = d["bbox"]
        det = Detection2D(header=img.header, id=d["id"])
        det.bbox.center.position.x, det.bbox.center.position.y = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        det.bbox.size_x, det.bbox.size_y = float(x1 - x0), float(y1 - y0)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = d["class_id"], float(d["score"])
        det.results.append(hyp)
        arr.detections.append(det)
    return img, arr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second")
    parser.add_argument("--loops", type=int, default=1)
    parser.add_argument("--frame-id", default="camera_color_optical_frame")
    parser.add_argument(
        "--qos",
        choices=("sensor_data", "reliable"),
        default="reliable",
        help="reliable: no frame lost on the way (the node must use input_qos reliable too)",
    )
    parser.add_argument("--wait-subscribers", type=float, default=120.0, help="seconds to wait for the node")
    args, ros_args = parser.parse_known_args(argv)
    frames = load_samples(args.samples)
    stop_signals.install()  # Ctrl-C (sent twice under ros2 launch) ends it cleanly
    rclpy.init(args=ros_args or None, signal_handler_options=SignalHandlerOptions.NO)
    node = Node("sample_source")
    qos = (
        qos_profile_sensor_data
        if args.qos == "sensor_data"
        else QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
    )
    image_pub = node.create_publisher(Image, "image", qos)
    det_pub = node.create_publisher(Detection2DArray, "detections", QoSProfile(depth=5, reliability=qos.reliability))
    try:
        deadline = time.monotonic() + args.wait_subscribers
        while (
            image_pub.get_subscription_count() == 0 or det_pub.get_subscription_count() == 0
        ) and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        if image_pub.get_subscription_count() == 0:
            node.get_logger().error("nobody subscribed to the image topic: is the hotspot node running?")
            return 1
        time.sleep(0.5)  # let the other side finish matching our publishers too (best effort loses early frames)
        period = 1.0 / args.rate
        sent = 0
        next_t = time.monotonic()
        for _ in range(args.loops):
            for rgb, dets in frames:
                img, arr = to_messages(rgb, dets, node.get_clock().now().to_msg(), args.frame_id)
                image_pub.publish(img)
                det_pub.publish(arr)
                sent += 1
                next_t += period
                time.sleep(max(0.0, next_t - time.monotonic()))
        node.get_logger().info(f"published {sent} frames at {args.rate} Hz")
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C: a requested stop, not an error
    finally:
        stop_signals.ignore()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    cli.run(main)
