"""The project's ROS 2 interfaces with real rclpy (Fast DDS): message layout, and a
two-process round trip in which every field must survive exactly.

Needs the venv set up by ``scripts/setup_ros.sh`` (skipped otherwise). Run best in a
private network namespace: ``unshare -n bash -c 'ip link set lo up; pytest ...'``.

This file is also the publisher: the test starts it as
``python tests/test_ros_interfaces.py TOPIC_PREFIX``.
"""

from __future__ import annotations

import array
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

rclpy = pytest.importorskip("rclpy")
hmsg = pytest.importorskip("interaction_hotspots.msg")
vmsg = pytest.importorskip("vision_msgs.msg")

from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import Point  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from sensor_msgs.msg import RegionOfInterest  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

# rclpy imports rosidl_parser -> lark-parser 0.12, which imports the deprecated sre_parse.
pytestmark = pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated")

DISCOVERY_TIMEOUT_S = 60.0
PUBLISHER_LIFETIME_S = 120.0  # the publisher exits by itself after this at the latest

QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)


def _f32(values):
    """Values as float32 (what a float32[] field holds after any round trip)."""
    return array.array("f", values)


def make_messages() -> dict:
    """Deterministic messages for every topic; float32 scalars are exactly representable."""
    header = Header(frame_id="camera_color_optical_frame")
    header.stamp.sec = 1_700_000_123
    header.stamp.nanosec = 987_654_321
    actions = ["grasp", "cut", "pour", "contain"]
    n_act, h, w = len(actions), 3, 5

    peaks = [
        hmsg.HotspotPeak(
            action_index=0,
            u=330.5,
            v=251.25,
            value=1.0,
            has_position=True,
            position=Point(x=0.0625, y=-0.125, z=0.7578125),
        ),
        hmsg.HotspotPeak(action_index=2, u=301.75, v=260.5, value=1.0, has_position=False),
    ]
    obj = hmsg.ObjectHotspots(
        detection_id="det-17",
        class_id="mug",
        detection_score=0.875,
        roi=RegionOfInterest(x_offset=288, y_offset=200, height=96, width=128, do_rectify=False),
        action_scores=_f32([0.6, 0.1, 0.25, 0.05]),
        map_action_indices=array.array("H", [0, 2]),
        map_height=h,
        map_width=w,
        maps=_f32([((k + 1) * 7 + i * 3) % 11 / 10.0 for k in range(2) for i in range(h * w)]),
        map_max=_f32([3.14159, 0.001]),
        peaks=peaks,
        reused=True,
        computed_stamp=Time(sec=1_700_000_122, nanosec=5),
    )
    empty_obj = hmsg.ObjectHotspots(
        detection_id="", class_id="bowl", detection_score=0.5, action_scores=_f32([0.25] * n_act)
    )
    hotspots = hmsg.HotspotArray(header=header, action_names=actions, objects=[obj, empty_obj])

    dets = []
    for i, (cls, score) in enumerate([("mug", 0.875), ("bowl", 0.5)]):
        d = vmsg.Detection2D(header=header, id=f"det-{17 + i}")
        hyp = vmsg.ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = cls
        hyp.hypothesis.score = score
        hyp.pose.pose.position.x = 1.5 + i
        hyp.pose.pose.orientation.w = 1.0
        hyp.pose.covariance = [0.1 * j + i for j in range(36)]
        d.results = [hyp]
        d.bbox.center.position.x = 352.25 + i
        d.bbox.center.position.y = 248.5
        d.bbox.center.theta = 0.0
        d.bbox.size_x = 64.125
        d.bbox.size_y = 48.0
        dets.append(d)
    detections = vmsg.Detection2DArray(header=header, detections=dets)

    stats = hmsg.HotspotStats(
        header=header,
        frames_received=2**64 - 1,
        frames_processed=12345678901234,
        frames_dropped_stale=3,
        frames_dropped_busy=4,
        images_bad_encoding=5,
        images_corrupt=6,
        detections_unmatched=7,
        boxes_degenerate=8,
        objects_in_contact_skipped=9,
        objects_processed=10,
        objects_reused=11,
        stage_names=["preprocess", "inference", "postprocess", "publish", "total"],
        latency_p50_ms=_f32([1.5, 12.25, 0.75, 0.125, 14.625]),
        latency_p95_ms=_f32([2.5, 20.0, 1.0, 0.5, 24.0]),
        rate_hz=29.97,
    )
    stats.rate_hz = array.array("f", [stats.rate_hz])[0]  # float32-exact scalar
    return {"hotspots": hotspots, "detections": detections, "stats": stats}


# --------------------------------------------------------------------------- publisher
def publisher_main(prefix: str) -> int:
    """Publish every message of make_messages() once subscribers are matched, then idle."""
    from rclpy.executors import ExternalShutdownException

    rclpy.init()
    node = rclpy.create_node("ros_interfaces_test_pub")
    try:
        msgs = make_messages()
        pubs = {name: node.create_publisher(type(m), prefix + name, QOS) for name, m in msgs.items()}
        deadline = time.monotonic() + PUBLISHER_LIFETIME_S
        while not all(p.get_subscription_count() > 0 for p in pubs.values()):
            if time.monotonic() > deadline:
                print("no subscriber matched", file=sys.stderr, flush=True)
                return 3
            rclpy.spin_once(node, timeout_sec=0.02)
        for name, pub in pubs.items():
            pub.publish(msgs[name])
        print("published", flush=True)
        # Stay alive so reliable/transient-local delivery can complete; the test
        # stops us with SIGINT.
        while time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        return 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


# --------------------------------------------------------------------------- tests
# vision_msgs 4.x (ROS 2 Humble..Kilted) layout: the stand-in in compat/ must match it
# field for field (names, types, order) to be wire compatible.
VISION_MSGS_4X = {
    "Point2D": [("x", "double"), ("y", "double")],
    "Pose2D": [("position", "vision_msgs/Point2D"), ("theta", "double")],
    "BoundingBox2D": [("center", "vision_msgs/Pose2D"), ("size_x", "double"), ("size_y", "double")],
    "BoundingBox2DArray": [("header", "std_msgs/Header"), ("boxes", "sequence<vision_msgs/BoundingBox2D>")],
    "BoundingBox3D": [("center", "geometry_msgs/Pose"), ("size", "geometry_msgs/Vector3")],
    "BoundingBox3DArray": [("header", "std_msgs/Header"), ("boxes", "sequence<vision_msgs/BoundingBox3D>")],
    "ObjectHypothesis": [("class_id", "string"), ("score", "double")],
    "ObjectHypothesisWithPose": [
        ("hypothesis", "vision_msgs/ObjectHypothesis"),
        ("pose", "geometry_msgs/PoseWithCovariance"),
    ],
    "Detection2D": [
        ("header", "std_msgs/Header"),
        ("results", "sequence<vision_msgs/ObjectHypothesisWithPose>"),
        ("bbox", "vision_msgs/BoundingBox2D"),
        ("id", "string"),
    ],
    "Detection2DArray": [("header", "std_msgs/Header"), ("detections", "sequence<vision_msgs/Detection2D>")],
    "Detection3D": [
        ("header", "std_msgs/Header"),
        ("results", "sequence<vision_msgs/ObjectHypothesisWithPose>"),
        ("bbox", "vision_msgs/BoundingBox3D"),
        ("id", "string"),
    ],
    "Detection3DArray": [("header", "std_msgs/Header"), ("detections", "sequence<vision_msgs/Detection3D>")],
    "Classification": [("header", "std_msgs/Header"), ("results", "sequence<vision_msgs/ObjectHypothesis>")],
    "VisionClass": [("class_id", "uint16"), ("class_name", "string")],
    "LabelInfo": [
        ("header", "std_msgs/Header"),
        ("class_map", "sequence<vision_msgs/VisionClass>"),
        ("threshold", "float"),
    ],
    "VisionInfo": [
        ("header", "std_msgs/Header"),
        ("method", "string"),
        ("database_location", "string"),
        ("database_version", "int32"),
    ],
}


@pytest.mark.parametrize("name", sorted(VISION_MSGS_4X))
def test_vision_msgs_layout_is_4x(name):
    cls = getattr(vmsg, name)
    assert list(cls.get_fields_and_field_types().items()) == VISION_MSGS_4X[name]


def test_hotspot_messages_layout():
    fields = hmsg.ObjectHotspots.get_fields_and_field_types()
    assert fields["roi"] == "sensor_msgs/RegionOfInterest"
    assert fields["maps"] == "sequence<float>"
    assert fields["map_action_indices"] == "sequence<uint16>"
    assert list(hmsg.HotspotArray.get_fields_and_field_types()) == ["header", "action_names", "objects"]
    assert hmsg.HotspotPeak.get_fields_and_field_types()["position"] == "geometry_msgs/Point"
    assert fields["reused"] == "boolean" and fields["computed_stamp"] == "builtin_interfaces/Time"
    stats = hmsg.HotspotStats.get_fields_and_field_types()
    assert stats["frames_received"] == "uint64" and stats["rate_hz"] == "float"
    assert stats["objects_reused"] == "uint64"


def test_round_trip_between_processes(ros_env, tmp_path):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    prefix = f"/ros_interfaces_test_{uuid.uuid4().hex[:8]}/"
    expected = make_messages()
    received: dict = {}

    ctx = rclpy.Context()
    rclpy.init(context=ctx, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node("ros_interfaces_test_sub", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    subs = {
        name: node.create_subscription(
            type(m), prefix + name, lambda msg, name=name: received.setdefault(name, msg), QOS
        )
        for name, m in expected.items()
    }
    pub_log = tmp_path / "publisher.log"
    proc = None
    try:
        with open(pub_log, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), prefix],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )

        def spin_until(cond, what):
            deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
            while not cond():
                if proc.poll() is not None:
                    pytest.fail(f"publisher exited ({proc.returncode}) before {what}:\n" + pub_log.read_text())
                if time.monotonic() > deadline:
                    pytest.fail(f"timed out waiting for {what}; publisher log:\n" + pub_log.read_text())
                executor.spin_once(timeout_sec=0.02)

        spin_until(lambda: all(s.get_publisher_count() > 0 for s in subs.values()), "discovery")
        spin_until(lambda: len(received) == len(subs), "all messages")
    finally:
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)

    for name, msg in expected.items():
        assert received[name] == msg, name

    # Spot checks that spell out what "exact" means for the fields the node relies on.
    got = received["hotspots"]
    assert got.header.stamp.sec == 1_700_000_123 and got.header.stamp.nanosec == 987_654_321
    assert got.header.frame_id == "camera_color_optical_frame"
    assert list(got.action_names) == ["grasp", "cut", "pour", "contain"]
    obj = got.objects[0]
    assert (obj.roi.x_offset, obj.roi.y_offset, obj.roi.width, obj.roi.height) == (288, 200, 128, 96)
    assert len(obj.maps) == len(obj.map_action_indices) * obj.map_height * obj.map_width
    assert obj.maps == expected["hotspots"].objects[0].maps  # float32 bit-exact
    assert list(obj.map_action_indices) == [0, 2]
    assert obj.peaks[0].has_position and obj.peaks[0].position.z == 0.7578125
    assert not obj.peaks[1].has_position
    det = received["detections"].detections[0]
    assert det.id == "det-17" and det.results[0].hypothesis.class_id == "mug"
    assert det.bbox.center.position.x == 352.25
    assert list(det.results[0].pose.covariance) == [0.1 * j for j in range(36)]
    assert received["stats"].frames_received == 2**64 - 1


if __name__ == "__main__":
    sys.exit(publisher_main(sys.argv[1]))
