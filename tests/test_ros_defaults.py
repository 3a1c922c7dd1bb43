"""The node with its SHIPPED defaults (config/hotspot.yaml, the shipped demo model, no -p overrides), as a
robot runs it: real-size images from reliable and best-effort publishers, markers from camera_info alone,
/diagnostics, frame accounting, time behaviour and process behaviour (exit codes, Ctrl-C).

Real rclpy processes over Fast DDS in the private network namespace of scripts/run_tests.sh.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("interaction_hotspots.msg")
pytest.importorskip("vision_msgs.msg")
pytest.importorskip("diagnostic_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data  # noqa: E402
from ros_client import Client, detections, rgb_image, start_node, stop_node  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402
from visualization_msgs.msg import Marker, MarkerArray  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
RATE_HZ = 5.0
FRAMES = 20
# The checkout's shipped YAML, named explicitly: a development venv's share/ may point at another checkout.
SHIPPED = ["--params-file", str(ROOT / "config" / "hotspot.yaml")]
SHIPPED_STATS_PERIOD_S = 5.0  # config/hotspot.yaml stats_period_sec (diagnostics come at that period)


class DefaultsClient(Client):
    """A camera + detector with a chosen QoS, and listeners for markers and /diagnostics."""

    def __init__(self, name: str, namespace: str, image_qos: QoSProfile, image_topic: str = "image") -> None:
        super().__init__(name, namespace)
        self.node.destroy_publisher(self.image_pub)
        self.node.destroy_publisher(self.det_pub)
        self.node.destroy_publisher(self.info_pub)
        self.image_pub = self.node.create_publisher(Image, image_topic, image_qos)
        self.det_pub = self.node.create_publisher(
            Detection2DArray, "detections", QoSProfile(depth=10, reliability=image_qos.reliability)
        )
        info_topic = image_topic.rsplit("/", 1)[0] + "/camera_info" if "/" in image_topic else "camera_info"
        self.info_pub = self.node.create_publisher(CameraInfo, info_topic, 10)
        self.markers: list[MarkerArray] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.node.create_subscription(
            MarkerArray,
            "hotspots/markers",
            self.markers.append,
            QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 50)

    def diag_values(self, after_s: float) -> tuple[bytes, dict[str, str]] | None:
        """Level and key/values of the newest diagnostics of our node stamped after ``after_s`` (epoch)."""
        for arr in reversed(self.diagnostics):
            if arr.header.stamp.sec + arr.header.stamp.nanosec / 1e9 > after_s:
                for st in arr.status:
                    if st.hardware_id == self.target:  # this client's hotspot node
                        return st.level, {kv.key: kv.value for kv in st.values}
        return None


def camera_info(w: int, h: int) -> CameraInfo:
    info = CameraInfo(width=w, height=h)
    info.k = [500.0, 0.0, w / 2.0, 0.0, 500.0, h / 2.0, 0.0, 0.0, 1.0]
    return info


def stats_accounted(st) -> int:
    """The images a HotspotStats message accounts for, by the sum its .msg documents (what a client that
    subscribes to hotspots/stats alone computes)."""
    return (
        st.frames_processed
        + st.frames_dropped_stale
        + st.frames_dropped_busy
        + st.images_bad_encoding
        + st.images_corrupt
        + st.images_unmatched
        + st.images_duplicate_stamp
        + st.images_waiting
        + st.frames_waiting_depth
        + st.frames_in_worker
        - st.images_matched_again
    )


def stream(client: DefaultsClient, h: int, w: int, n: int, t0: int, seed: int = 0) -> list:
    """n frames at RATE_HZ, an object in the middle; stamps t0+i (seconds). Returns the image headers."""
    headers = []
    period, next_t = 1.0 / RATE_HZ, time.monotonic()
    box = ("obj-1", "mug", 0.9, (w / 2.0, h / 2.0, w / 4.0, h / 4.0))
    for i in range(n):
        img = rgb_image(h, w, (t0 + i, 0), frame_id="camera_color_optical_frame", seed=seed + i)
        client.info_pub.publish(camera_info(w, h))
        client.image_pub.publish(img)
        client.det_pub.publish(detections(img.header, [box]))
        headers.append(img.header)
        next_t += period
        client.spin_until(lambda: False, max(0.0, next_t - time.monotonic()))
    return headers


def settle(client: DefaultsClient, h: int, w: int, t0: int) -> None:
    """One more frame 2 s (of stamp time) later: detections whose image never came are given up."""
    stream(client, h, w, 1, t0 + 2)


@pytest.fixture
def node_log(tmp_path):
    return tmp_path / "node.log"


def _run_defaults(tmp_path, log, image_qos, publisher: str, image_topic: str = "image") -> None:
    ns = f"/defaults_{publisher}"
    cmd = [sys.executable, "-m", "hotspot_ros.run", *SHIPPED, "--ros-args", "-r", f"__ns:={ns}"]
    if image_topic != "image":
        cmd += ["-r", f"image:={image_topic}"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    client = DefaultsClient(f"defaults_client_{publisher}", ns, image_qos, image_topic)
    try:
        assert client.wait_for_node(), "node never subscribed:\n" + log.read_text()
        # one frame end to end first: discovery has completed in both directions before the measured frames
        primer = rgb_image(480, 640, (50, 0))
        client.info_pub.publish(camera_info(640, 480))
        assert client.send_until_output(primer, detections(primer.header, [("p", "mug", 0.9, (320, 240, 99, 99))]))
        sent = 1
        for (h, w), t0 in (((480, 640), 100), ((720, 1280), 200)):
            start = len(client.hotspots)
            stream(client, h, w, FRAMES, t0, seed=t0)
            settle(client, h, w, t0 + FRAMES)
            sent += FRAMES + 1
            t_sent = time.time()
            assert client.spin_until(
                lambda t_sent=t_sent: (
                    (d := client.diag_values(t_sent + 0.5)) is not None and int(d[1]["frames_in_worker"]) == 0
                ),
                4 * SHIPPED_STATS_PERIOD_S,
            ), "no up-to-date /diagnostics:\n" + log.read_text()[-3000:]
            level, c = client.diag_values(t_sent + 0.5)
            n = {k: int(v) for k, v in c.items() if v.lstrip("-").isdigit()}
            # every frame sent (one detection message each) was processed or dropped for a counted reason
            counted = (
                n["frames_processed"]
                + n["frames_dropped_busy"]
                + n["frames_dropped_stale"]
                + n["images_bad_encoding"]
                + n["images_corrupt"]
                + n["detections_unmatched"]
            )
            assert counted >= 0.99 * (sent - n["detections_waiting"]), f"{sent} sent, {n}"
            assert n["accounting_unaccounted"] == 0, str(n)  # received images = processed + each drop reason + waiting
            # a subscriber to hotspots/stats alone can do the same accounting (the message's documented sum)
            assert client.spin_until(
                lambda t_sent=t_sent: (
                    (st := client.latest_stats(t_sent + 0.5, timeout=0.0)) is not None and st.frames_in_worker == 0
                ),
                4 * SHIPPED_STATS_PERIOD_S,
            ), "no up-to-date hotspots/stats"
            st = client.latest_stats(t_sent + 0.5, timeout=0.0)
            assert st.frames_received == stats_accounted(st), f"stats do not account every image: {st}"
            mine = [m for m in client.hotspots[start:] if m.header.stamp.sec in range(t0, t0 + FRAMES)]
            assert len(mine) > 0, str(n)
            if publisher == "reliable":  # matched as reliable: nothing is lost on the way
                assert n["images_missing"] == 0 and n["images_lost"] == 0, str(n)
            assert c["model"] and c["backend"] and "rate_hz" in c and "latency_total_p50_ms" in c
            assert level in (DiagnosticStatus.OK, DiagnosticStatus.WARN)
        text = log.read_text()
        expected = "reliable" if publisher == "reliable" else "best_effort"
        resolved = image_topic if image_topic.startswith("/") else f"{ns}/{image_topic}"
        assert f"input_qos auto: {resolved}: {expected}" in text, text[-2000:]
        # markers from camera_info alone (no depth): the peak's ray up to marker_default_depth_m (1.0 m), drawn
        # as a line in "<action>/ray", never as a sphere that would look like a measured point
        rays = [m for arr in client.markers for m in arr.markers if m.action == Marker.ADD]
        assert rays, "no markers without depth"
        assert all(m.type == Marker.LINE_STRIP and m.ns.endswith("/ray") for m in rays)
        assert all(math.isclose(m.points[-1].z, 1.0, rel_tol=1e-6) for m in rays)
        assert "Traceback" not in text and "[ERROR]" not in text, text[-3000:]
    finally:
        client.close()
        rc = stop_node(proc)
    assert rc == 0, log.read_text()[-2000:]


def test_shipped_defaults_reliable_publisher_real_size_images(ros_env, tmp_path, node_log):  # noqa: F811
    _run_defaults(tmp_path, node_log, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE), "reliable")


def test_shipped_defaults_best_effort_publisher_and_camera_info_follows_image(ros_env, tmp_path, node_log):  # noqa: F811
    # the camera publishes /cam/color/image_raw and /cam/color/camera_info: one remap of the image is enough
    _run_defaults(tmp_path, node_log, qos_profile_sensor_data, "best_effort", image_topic="/cam/color/image_raw")


def test_configure_failure_under_autostart_exits_non_zero(ros_env, tmp_path):  # noqa: F811
    log = tmp_path / "node.log"
    proc = start_node({"model_path": str(tmp_path / "absent.safetensors")}, extra_args=SHIPPED, log_path=log)
    try:
        rc = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        stop_node(proc)
        pytest.fail("the node stayed alive after its autostart configure failed:\n" + log.read_text()[-2000:])
    assert rc == 1, log.read_text()[-2000:]
    assert "absent.safetensors" in log.read_text() and "Traceback" not in log.read_text()


def test_unconfigured_node_reports_error_diagnostics_and_ends_on_ctrl_c(ros_env, tmp_path):  # noqa: F811
    log = tmp_path / "node.log"
    ns = "/unconfigured"
    proc = start_node({}, extra_args=SHIPPED + ["--no-autostart"], log_path=log, namespace=ns)
    client = DefaultsClient("unconfigured_client", ns, QoSProfile(depth=1))
    try:
        assert client.spin_until(lambda: client.diag_values(0) is not None, 90 + 3 * SHIPPED_STATS_PERIOD_S), (
            log.read_text()
        )
        level, values = client.diag_values(0)
        assert level == DiagnosticStatus.ERROR
    finally:
        client.close()
    proc.send_signal(signal.SIGINT)
    try:
        rc = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_node(proc)
        pytest.fail("Ctrl-C did not end the unconfigured node")
    assert rc == 0 and "Traceback" not in log.read_text(), log.read_text()[-2000:]


def test_time_duplicates_jumps_and_shutdown_timers(ros_env, tmp_path):  # noqa: F811
    """A second image with the same stamp replaces the first; a backwards jump (bag --loop) clears the caches
    with one log line and a counter and the new time line is processed; after the shutdown transition no
    timer publishes any more."""
    from lifecycle_msgs.msg import Transition

    log = tmp_path / "node.log"
    ns = "/timeline"
    proc = start_node({}, extra_args=SHIPPED, log_path=log, namespace=ns)
    client = DefaultsClient("timeline_client", ns, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        assert client.wait_for_node(), log.read_text()
        box = [("obj-1", "mug", 0.9, (320.0, 240.0, 160.0, 120.0))]
        first = rgb_image(480, 640, (5000, 0), frame_id="first")
        second = rgb_image(480, 640, (5000, 0), frame_id="second", seed=3)
        client.image_pub.publish(first)
        client.spin_until(lambda: False, 0.5)  # taken by the node before the second comes (depth-1 queue)
        client.image_pub.publish(second)
        client.spin_until(lambda: False, 0.5)
        client.det_pub.publish(detections(second.header, box))
        assert client.spin_until(lambda: any(m.header.stamp.sec == 5000 for m in client.hotspots), 30.0)
        out = [m for m in client.hotspots if m.header.stamp.sec == 5000]
        assert [m.header.frame_id for m in out] == ["second"], "the older image of a duplicate stamp was used"

        # detections whose image never comes although the camera publisher is matched: a warning and a counter
        lost = rgb_image(480, 640, (5001, 0))
        client.det_pub.publish(detections(lost.header, box))
        client.spin_until(lambda: False, 0.3)
        later = rgb_image(480, 640, (5003, 0), frame_id="later")  # newer by 2 s: the lost one is given up
        client.image_pub.publish(later)
        client.det_pub.publish(detections(later.header, box))
        assert client.spin_until(lambda: "no image with that stamp arrived although" in log.read_text(), 30.0)

        # the bag starts again 4000 s earlier: its frames are matched and processed as before
        back = rgb_image(480, 640, (1000, 0), frame_id="again")
        client.image_pub.publish(back)
        client.spin_until(lambda: False, 0.3)
        client.det_pub.publish(detections(back.header, box))
        assert client.spin_until(lambda: any(m.header.stamp.sec == 1000 for m in client.hotspots), 30.0), (
            "frames after a backwards time jump were not processed:\n" + log.read_text()[-2000:]
        )
        t_wall = time.time()
        assert client.spin_until(lambda: client.diag_values(t_wall) is not None, 3 * SHIPPED_STATS_PERIOD_S)
        _, values = client.diag_values(t_wall)
        assert int(values["time_jumps"]) == 1 and int(values["images_duplicate_stamp"]) == 1, values
        assert int(values["images_missing"]) == 1 and int(values["detections_unmatched"]) >= 1, values
        assert log.read_text().count("jumped back") == 1
        st = client.latest_stats(t_wall, timeout=3 * SHIPPED_STATS_PERIOD_S)
        assert st is not None and st.images_duplicate_stamp == 1, st
        assert st.frames_received == stats_accounted(st), f"stats do not account every image: {st}"
        # the input has stopped: at the shipped period an idle node reports rate 0, not its last active rate
        # (what follows in the log and /diagnostics: test_ros_node, at a short period)
        assert client.spin_until(
            lambda: (s := client.latest_stats(t_wall, timeout=0.0)) is not None and s.rate_hz == 0.0,
            6 * SHIPPED_STATS_PERIOD_S,
        ), f"idle node still reports a rate: {client.stats[-1].rate_hz}"

        assert client.change_state(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        n_stats, n_diag = len(client.stats), len(client.diagnostics)
        client.spin_until(lambda: False, 2.5 * SHIPPED_STATS_PERIOD_S)
        assert len(client.stats) == n_stats and len(client.diagnostics) == n_diag, "timers still publishing"
    finally:
        client.close()
        rc = stop_node(proc)
    assert rc == 0, log.read_text()[-2000:]


def test_stats_line_has_no_nan_before_the_first_frame():
    from hotspot_ros.latency import Counters, LatencyStats
    from hotspot_ros.messages import stats_line, stats_message

    line = stats_line(stats_message(rclpy.time.Time().to_msg(), Counters().as_dict(), LatencyStats()))
    assert "nan" not in line.lower() and "no frame yet" in line


def test_frame_matcher_books_duplicates_jumps_and_never_matched_images():
    from hotspot_ros.stamp_sync import FrameMatcher

    m = FrameMatcher[str](size=3, give_up_ns=100, jump_ns=300)
    for t in (100, 200, 300):
        m.add_image(t, f"img{t}")
    m.add_image(300, "img300b")  # same stamp: replaces (the first was never matched)
    m.add_detections(300, "det300")
    frames, _ = m.match(0, False, False)
    assert frames == [("img300b", "det300", None, None)]
    m.add_image(400, "img400")  # evicts img100 (never matched)
    assert (m.counts.images_duplicate_stamp, m.counts.images_unmatched) == (1, 1)
    m.add_image(10, "img10")  # the bag starts again: caches cleared (img200, img400 never matched)
    assert m.counts.time_jumps == 1 and m.counts.images_unmatched == 3
    m.add_detections(10, "det10")
    frames, _ = m.match(0, False, False)
    assert frames == [("img10", "det10", None, None)]


def test_diagnostic_levels():
    from hotspot_ros.diagnostics import frame_accounting, level_and_message

    assert level_and_message(False, {}, {})[0] == DiagnosticStatus.ERROR
    ok = level_and_message(
        True,
        {"frames_received": 10, "frames_processed": 10, "detections_received": 10},
        {"frames_received": 5, "frames_processed": 5, "detections_received": 5},
    )
    assert ok[0] == DiagnosticStatus.OK
    warn = level_and_message(True, {"frames_received": 10, "frames_dropped_busy": 2, "detections_received": 10}, {})
    assert warn[0] == DiagnosticStatus.WARN and "frames_dropped_busy +2" in warn[1]
    err = level_and_message(True, {"images_missing": 3, "detections_received": 3}, {})
    assert err[0] == DiagnosticStatus.ERROR
    acc = frame_accounting(
        {
            "frames_received": 9,
            "frames_processed": 5,
            "frames_dropped_busy": 1,
            "images_unmatched": 2,
            "images_waiting": 1,
        }
    )
    assert acc["unaccounted"] == 0
