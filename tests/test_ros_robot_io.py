"""Depth and camera_info as a robot sends them, and the 3-D outputs a planner uses, over the real middleware:
depth published after its colour frame, no camera_info, camera_info with zero focal length, depth of
another size or encoding, NaN depth at the peaks, a detector without ids that reorders its detections.
Every case is counted in /diagnostics and the node keeps running.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("interaction_hotspots.msg")
pytest.importorskip("vision_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, PointCloud2  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_client import Client, detections, rgb_image, start_node, stop_node, tiny_model  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

pytestmark = [pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated"), pytest.mark.slow]

NS = "/robot_io"
H, W = 120, 160
FX = 100.0
MUG = ("", "mug", 0.9, (60.0, 60.0, 40.0, 50.0))  # a detector that sends no ids
CUP = ("", "mug", 0.8, (125.0, 70.0, 30.0, 60.0))
DEPTH_WAIT_S = 2.0  # generous (the range's top): the test's depth comes ~0.5 s after its frame


def camera_info(fx: float = FX) -> CameraInfo:
    info = CameraInfo(width=W, height=H)
    info.k = [fx, 0.0, 80.0, 0.0, fx, 60.0, 0.0, 0.0, 1.0]
    return info


def depth_image(header, values: np.ndarray, encoding: str = "32FC1") -> Image:
    values = np.asarray(values, np.float32)
    d = Image(header=header, height=values.shape[0], width=values.shape[1], encoding=encoding)
    d.step = values.shape[1] * 4
    d.data = values.tobytes()
    return d


class RobotClient(Client):
    def __init__(self) -> None:
        super().__init__("robot_io_client", namespace=NS)
        reliable = QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE)
        self.markers: list[MarkerArray] = []
        self.points: list[PointCloud2] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.node.create_subscription(MarkerArray, "hotspots/markers", self.markers.append, reliable)
        self.node.create_subscription(PointCloud2, "hotspots/points", self.points.append, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 50)

    def output(self, stamp, timeout: float = 30.0):
        def found(items, header=lambda m: m.header):  # a MarkerArray's stamp is its markers' (DELETEALL first)
            return next((m for m in items if header(m).stamp == stamp), None)

        def marker_array(m):
            return m.markers[0].header

        self.spin_until(lambda: None not in (found(self.hotspots), found(self.markers, marker_array)), timeout)
        return found(self.hotspots), found(self.markers, marker_array)

    def send(self, img, dets, depth=None, depth_after_s: float = 0.0):
        self.image_pub.publish(img)
        self.det_pub.publish(dets)
        if depth is not None:
            if depth_after_s:
                self.spin_until(lambda: False, depth_after_s)
            self.depth_pub.publish(depth)
        return self.output(img.header.stamp)

    def diagnosis(self, after_s: float, timeout: float = 20.0) -> tuple[bytes, dict[str, str]]:
        def newest():
            for arr in reversed(self.diagnostics):
                s = arr.status[0] if arr.status else None
                stamp = arr.header.stamp.sec + arr.header.stamp.nanosec / 1e9
                if s is not None and s.hardware_id == NS + "/hotspot_node" and stamp > after_s:
                    return s
            return None

        self.spin_until(lambda: newest() is not None, timeout)
        s = newest()
        assert s is not None, "no /diagnostics from the node"
        return s.level, {kv.key: kv.value for kv in s.values} | {"message": s.message}


_stamp = [2000]


def frame(boxes=(MUG, CUP), seed: int = 0):
    _stamp[0] += 1
    img = rgb_image(H, W, (_stamp[0], 500_000_000), frame_id="camera_color_optical_frame", seed=seed)
    return img, detections(img.header, list(boxes))


def later(header, ms: int):
    """The depth sensor's stamp: a few milliseconds off the colour one."""
    h = type(header)()
    h.frame_id = header.frame_id
    h.stamp.sec, h.stamp.nanosec = header.stamp.sec, header.stamp.nanosec + ms * 1_000_000
    return h


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "m.safetensors", ["hold", "push"])


@pytest.fixture(scope="module")
def client(ros_env):
    c = RobotClient()
    yield c
    c.close()
    if rclpy.ok():
        rclpy.shutdown()


@pytest.fixture(scope="module")
def node(ros_env, model_path, tmp_path_factory, client):
    log = tmp_path_factory.mktemp("log") / "node.log"
    params = {
        "model_path": str(model_path),
        "use_depth": True,
        "depth_wait_sec": DEPTH_WAIT_S,
        "stats_period_sec": 0.3,
        "reuse_results": False,  # every frame computed: each case below is its own frame
    }
    proc = start_node(params, log_path=log, namespace=NS)
    try:
        assert client.wait_for_node(), f"node never subscribed; log:\n{log.read_text()}"
        assert client.spin_until(lambda: client.depth_pub.get_subscription_count() > 0, 30.0)
        proc.log = log
        yield proc
    finally:
        stop_node(proc)


def test_1_without_camera_info_frames_go_on_and_the_missing_info_is_reported(node, client):
    img, dets = frame()
    depth = depth_image(img.header, np.full((H, W), 0.8))
    out = client.send_until_output(img, dets)  # repeats until discovery completes
    client.depth_pub.publish(depth)
    assert out is not None and len(out.objects) == 2
    assert not any(p.has_position or p.has_normal for o in out.objects for p in o.peaks)
    level, values = client.diagnosis(time.time())
    assert int(values["camera_info_missing"]) > 0 and "camera_info_missing" in values["message"]
    assert level == DiagnosticStatus.WARN
    assert "no camera_info received yet" in node.log.read_text()


def _publish_info(client, info: CameraInfo) -> None:
    assert client.spin_until(lambda: client.info_pub.get_subscription_count() > 0, 30.0)
    for _ in range(3):  # the node keeps the newest
        client.info_pub.publish(info)
        client.spin_until(lambda: False, 0.1)


def test_2_depth_after_its_frame_gives_positions_normals_points_and_the_detector_box(node, client):
    _publish_info(client, camera_info())
    img, dets = frame()
    depth = depth_image(later(img.header, 6), np.full((H, W), 0.8))  # 6 ms off, within 20 ms
    out, markers = client.send(img, dets, depth, depth_after_s=0.5)  # depth half a second after the frame
    assert out is not None, "the frame never came out"
    for obj in out.objects:
        for p in obj.peaks:
            assert p.has_position and math.isclose(p.position.z, 0.8, rel_tol=1e-5)
            assert p.has_normal and (p.normal.x, p.normal.y, p.normal.z) == pytest.approx((0, 0, -1), abs=1e-5)
            assert p.normal_residual_m == pytest.approx(0.0, abs=1e-5)
    # the detector's own box as received (centre, size) and its place in the message
    got = {
        (o.detection_index, o.detection_center_x, o.detection_center_y, o.detection_size_x, o.detection_size_y)
        for o in out.objects
    }
    assert got == {(0, 60.0, 60.0, 40.0, 50.0), (1, 125.0, 70.0, 30.0, 60.0)}
    # markers: measured peaks are spheres, with approach arrows
    adds = [m for m in markers.markers if m.action == Marker.ADD]
    assert {m.type for m in adds} == {Marker.SPHERE, Marker.ARROW}
    # the hotspot regions in 3-D (published while subscribed): one cloud per frame, same stamp and frame
    assert client.spin_until(lambda: any(c.header.stamp == img.header.stamp for c in client.points), 10.0)
    cloud = next(c for c in client.points if c.header.stamp == img.header.stamp)
    assert cloud.header.frame_id == "camera_color_optical_frame" and cloud.width > 0
    from hotspot_ros.messages import POINT_DTYPE

    pts = np.frombuffer(bytes(cloud.data), POINT_DTYPE)
    assert np.all(pts["z"] == np.float32(0.8)) and set(pts["object"]) == {0, 1} and set(pts["action"]) == {0, 1}
    assert np.all(pts["value"] >= 0.5) and len(pts) <= 2 * 2 * 500  # shipped points_threshold / points_max_per_map


def test_3_bad_depth_and_camera_info_are_counted_and_survived(node, client):
    _publish_info(client, camera_info())
    start = time.time()
    cases = {
        "smaller depth": depth_image(None, np.full((H // 2, W // 2), 0.8)),
        "8UC3 depth": None,
        "NaN depth": depth_image(None, np.full((H, W), np.nan)),
    }
    outs = {}
    for name, depth in cases.items():
        img, dets = frame()
        if depth is None:
            depth = depth_image(img.header, np.zeros((H, W)))
            depth.encoding, depth.step, depth.data = "8UC3", W * 3, bytes(H * W * 3)
        depth.header = img.header
        outs[name] = client.send(img, dets, depth)
        assert outs[name][0] is not None, f"no output after {name}"
    for name, (out, markers) in outs.items():
        assert not any(p.has_position or p.has_normal for o in out.objects for p in o.peaks), name
        rays = [m for m in markers.markers if m.action == Marker.ADD]
        assert rays and all(m.type == Marker.LINE_STRIP and m.ns.endswith("/ray") for m in rays), name

    _publish_info(client, camera_info(fx=0.0))  # a camera_info with zero focal length
    img, dets = frame()
    out, markers = client.send(img, dets, depth_image(img.header, np.full((H, W), 0.8)))
    assert out is not None and len(out.objects) == 2  # hotspots still computed, nothing in 3-D
    assert not any(p.has_position for o in out.objects for p in o.peaks)
    assert not [m for m in markers.markers if m.action == Marker.ADD]
    _publish_info(client, camera_info())

    level, values = client.diagnosis(time.time())
    assert int(values["depth_unusable"]) >= 2  # another size, another encoding
    assert int(values["peaks_without_depth"]) >= 2 * 2  # NaN at every peak of both objects
    assert int(values["camera_info_invalid"]) >= 1
    text = node.log.read_text()
    assert "not aligned" in text and "8UC3" in text and "no valid intrinsics" in text
    assert node.poll() is None, "node process died"
    assert start > 0 and level in (DiagnosticStatus.OK, DiagnosticStatus.WARN)


def test_4_no_ids_and_reordered_detections_keep_each_objects_markers(node, client):
    _publish_info(client, camera_info())
    ids = []
    for boxes in ((MUG, CUP), (CUP, MUG)):
        img, dets = frame(boxes)
        out, markers = client.send(img, dets, depth_image(img.header, np.full((H, W), 0.7)))
        assert out is not None
        spheres = [m for m in markers.markers if m.type == Marker.SPHERE and m.action == Marker.ADD]
        by_box = {}
        for m in spheres:  # which object a sphere belongs to: the one whose peak it is drawn at
            obj = next(
                o for o in out.objects for p in o.peaks if math.isclose(p.position.x, m.pose.position.x, abs_tol=1e-6)
            )
            by_box.setdefault((obj.detection_center_x, obj.detection_center_y), set()).add(m.id)
        ids.append(by_box)
        # detection_index names the detection in the message it came in
        for o in out.objects:
            d = dets.detections[o.detection_index]
            assert (d.bbox.center.position.x, d.bbox.size_x) == (o.detection_center_x, o.detection_size_x)
    assert ids[0] == ids[1] and len(ids[0]) == 2, "a marker moved to another object when the order changed"
    assert all(len(v) == 1 for v in ids[0].values()), "one id per object across its actions"
    _, values = client.diagnosis(time.time())
    assert int(values["detections_without_id"]) >= 4
    assert node.poll() is None
