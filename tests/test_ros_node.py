"""The hotspot node end to end: real rclpy processes over Fast DDS, a real model, real messages.

Run by scripts/run_tests.sh inside a private network namespace (loopback only). Skipped where the ROS 2
set-up (scripts/setup_ros.sh) has not been run.
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

from lifecycle_msgs.msg import Transition  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_client import Client, detections, rgb_image, start_node, stop_node, tiny_model  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

from hotspot_core.image.boxes import center_size_to_xyxy, pad_and_clamp  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated"), pytest.mark.slow]

ACTIONS = ["hold", "rotate", "push"]
H, W = 120, 160
MUG = ("mug-1", "mug", 0.9, (60.0, 60.0, 40.0, 50.0))
BOTTLE = ("bottle-7", "bottle", 0.7, (120.0, 70.0, 30.0, 60.0))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model") / "m.safetensors", ACTIONS)


@pytest.fixture(scope="module")
def client(ros_env):
    c = Client()
    yield c
    c.close()
    if rclpy.ok():
        rclpy.shutdown()


@pytest.fixture(scope="module")
def node(ros_env, model_path, tmp_path_factory, client):
    log = tmp_path_factory.mktemp("log") / "node.log"
    proc = start_node({"model_path": str(model_path), "stats_period_sec": 0.3, "box_padding": 0.1}, log_path=log)
    proc.log_path = log  # for tests that read what the node logged
    try:
        assert client.wait_for_node(), f"node never subscribed; log:\n{log.read_text()}"
        yield proc
    finally:
        stop_node(proc)
    assert proc.returncode is not None


_stamp = [1000]


def next_stamp() -> tuple[int, int]:
    _stamp[0] += 1
    return (_stamp[0], 250_000_000)


def good_frame(boxes=(MUG, BOTTLE), **kw):
    img = rgb_image(H, W, next_stamp(), frame_id="camera_color_optical_frame", **kw)
    return img, detections(img.header, list(boxes))


def test_end_to_end_header_actions_maps_rois(node, client):
    img, dets = good_frame()
    out = client.send_until_output(img, dets)
    assert out is not None, "no HotspotArray came back"
    assert out.header.stamp == img.header.stamp and out.header.frame_id == "camera_color_optical_frame"
    assert list(out.action_names) == ACTIONS
    assert client.spin_until(lambda: bool(client.actions), 10.0), "latched action names not received"
    assert list(client.actions[-1].action_names) == ACTIONS
    assert [o.detection_id for o in out.objects] == ["mug-1", "bottle-7"]  # highest score first
    for obj, (_det_id, cls, score, box) in zip(out.objects, (MUG, BOTTLE)):
        roi = pad_and_clamp(center_size_to_xyxy(*box), 0.1, W, H)
        assert (obj.roi.x_offset, obj.roi.y_offset, obj.roi.width, obj.roi.height) == (
            roi.x0,
            roi.y0,
            roi.width,
            roi.height,
        )
        assert obj.class_id == cls and math.isclose(obj.detection_score, score, rel_tol=1e-6)
        assert obj.map_height == obj.map_width == 8  # 64 px input / stride 8
        assert len(obj.maps) == len(ACTIONS) * 8 * 8 and list(obj.map_action_indices) == [0, 1, 2]
        maps = np.asarray(obj.maps, np.float32)
        assert np.isfinite(maps).all() and maps.max() <= 1.0 and maps.max() > 0
        assert abs(sum(obj.action_scores) - 1) < 1e-4 and len(obj.map_max) == 3
        assert len(obj.peaks) == 3
        for p in obj.peaks:
            assert roi.x0 <= p.u <= roi.x1 and roi.y0 <= p.v <= roi.y1 and not p.has_position


def test_overlay_rendered_only_while_subscribed(node, client):
    for _ in range(3):
        assert client.send_until_output(*good_frame()) is not None
    stats = client.latest_stats(time.time())
    assert stats is not None and stats.frames_processed >= 3
    assert stats.overlays_rendered == 0, "overlay drawn with nobody subscribed"
    client.subscribe_overlay()
    img, dets = good_frame()
    client.spin_until(
        lambda: any(o.header.stamp == img.header.stamp for o in client.overlays),
        60.0,
        step=lambda: (client.image_pub.publish(img), client.det_pub.publish(dets)),
        period=0.3,
    )
    overlay = next((o for o in client.overlays if o.header.stamp == img.header.stamp), None)
    assert overlay is not None, "no overlay while subscribed"
    assert overlay.encoding == "bgr8" and (overlay.height, overlay.width) == (H, W)
    assert overlay.header.frame_id == img.header.frame_id
    client.unsubscribe_overlay()
    assert client.latest_stats(time.time()).overlays_rendered >= 1


def _node_parameters(client, names: list[str]) -> dict:
    from rcl_interfaces.srv import GetParameters

    values = client._call(GetParameters, f"{client.target}/get_parameters", GetParameters.Request(names=names)).values
    return {n: v.integer_value if v.type == 2 else v.double_value for n, v in zip(names, values)}


def test_overlay_is_the_renderers_picture_with_the_nodes_parameters(node, client):
    """The overlay is hotspot_core's picture of the published hotspots, drawn with the node's overlay_top_k
    and overlay_threshold (as shipped, then overlay_top_k changed at run time)."""
    from hotspot_core.image.boxes import Roi
    from hotspot_core.image.overlay import ObjectMaps, OverlayConfig, render_overlay
    from hotspot_ros.image_codec import image_to_rgb

    names = ["overlay_top_k", "overlay_threshold"]
    shipped = _node_parameters(client, names)
    client.subscribe_overlay()
    try:
        for top_k in (None, 3):
            if top_k is not None:
                assert client.set_parameters({"overlay_top_k": top_k})[0].successful
            values = _node_parameters(client, names)
            img, dets = good_frame()
            msg = client.send_until_output(img, dets)
            assert msg is not None
            client.spin_until(lambda img=img: any(o.header.stamp == img.header.stamp for o in client.overlays), 30.0)
            overlay = next(o for o in client.overlays if o.header.stamp == img.header.stamp)
            objects = []
            for o in msg.objects:
                k = len(o.map_action_indices)
                roi = Roi(o.roi.x_offset, o.roi.y_offset, o.roi.x_offset + o.roi.width, o.roi.y_offset + o.roi.height)
                maps = np.asarray(o.maps, np.float32).reshape(k, o.map_height, o.map_width)
                scores, indices = np.asarray(o.action_scores), np.asarray(o.map_action_indices)
                objects.append((o.class_id, ObjectMaps(roi, scores, indices, maps)))
            config = OverlayConfig(top_k=values["overlay_top_k"], level=values["overlay_threshold"])
            expected = render_overlay(image_to_rgb(img), objects, msg.action_names, config)
            assert len(expected.hotspots) == len(objects) * (top_k or shipped["overlay_top_k"])
            assert np.abs(image_to_rgb(overlay).astype(int) - expected.image.astype(int)).max() <= 1
        rejected = client.set_parameters({"overlay_top_k": -1})
        assert not rejected[0].successful and "overlay_top_k" in rejected[0].reason
    finally:
        client.set_parameters({"overlay_top_k": shipped["overlay_top_k"]})
        client.unsubscribe_overlay()


def test_runtime_parameter_changes(node, client):
    results = client.set_parameters({"box_padding": 0.0})
    assert results[0].successful
    img, dets = good_frame(boxes=(MUG,))
    out = client.send_until_output(img, dets)
    roi = pad_and_clamp(center_size_to_xyxy(*MUG[3]), 0.0, W, H)
    assert (out.objects[0].roi.x_offset, out.objects[0].roi.width) == (roi.x0, roi.width)

    rejected = client.set_parameters({"box_padding": 2.0})
    assert not rejected[0].successful and "box_padding" in rejected[0].reason

    filtered_before = client.latest_stats(time.time()).objects_filtered
    assert client.set_parameters({"object_classes": ["bottle"]})[0].successful
    out = client.send_until_output(*good_frame())
    assert [o.class_id for o in out.objects] == ["bottle"]
    assert client.latest_stats(time.time()).objects_filtered > filtered_before
    assert client.set_parameters({"object_classes": [""], "box_padding": 0.1})[0].successful


def test_objects_in_a_hand_and_moving_objects_are_skipped(node, client):
    base = client.latest_stats(time.time())
    hand = ("h-1", "hand", 0.8, (85.0, 60.0, 20.0, 20.0))  # touches the mug (x 40..80 -> hand 75..95)
    out = client.send_until_output(*good_frame(boxes=(MUG, BOTTLE, hand)))
    assert [o.class_id for o in out.objects] == ["bottle"], "the mug in a hand (and the hand) must be skipped"
    assert client.latest_stats(time.time()).objects_in_contact_skipped > base.objects_in_contact_skipped

    assert client.set_parameters({"stability_frames": 2})[0].successful
    try:
        first = client.send_until_output(*good_frame(boxes=(MUG,)))
        assert first.objects == []  # no history yet: not known to be at rest
        moved = ("mug-1", "mug", 0.9, (100.0, 60.0, 40.0, 50.0))
        outs = [client.send_until_output(*good_frame(boxes=(moved if i % 2 else MUG,))) for i in range(3)]
        assert all(o.objects == [] for o in outs), "a moving box is never at rest"
        outs = [client.send_until_output(*good_frame(boxes=(MUG,))) for _ in range(3)]
        assert outs[-1].objects and outs[-1].objects[0].detection_id == "mug-1"
        assert client.latest_stats(time.time()).objects_moving_skipped > base.objects_moving_skipped
    finally:
        assert client.set_parameters({"stability_frames": 0})[0].successful


def test_bad_inputs_are_logged_counted_and_survived(node, client):
    base = client.latest_stats(time.time())

    img, dets = good_frame()
    img.encoding = "yuv422"
    client.spin_until(lambda: False, 1.5, step=lambda: (client.image_pub.publish(img), client.det_pub.publish(dets)))
    img, dets = good_frame()
    img.data = img.data[:-7]  # truncated payload
    client.spin_until(lambda: False, 1.5, step=lambda: (client.image_pub.publish(img), client.det_pub.publish(dets)))
    empty = Image(encoding="rgb8")
    empty.header.stamp.sec, empty.header.stamp.nanosec = next_stamp()
    client.spin_until(
        lambda: False,
        1.5,
        step=lambda: (client.image_pub.publish(empty), client.det_pub.publish(detections(empty.header, [MUG]))),
    )

    # boxes: zero-sized, entirely outside the image, NaN centre -- and one good box, which must still come out
    bad_boxes = [
        ("z", "mug", 0.9, (50.0, 50.0, 0.0, 10.0)),
        ("o", "mug", 0.9, (900.0, 900.0, 20.0, 20.0)),
        ("n", "mug", 0.9, (float("nan"), 10.0, 5.0, 5.0)),
        ("ok", "mug", 0.5, (80.0, 60.0, 30.0, 30.0)),
    ]
    out = client.send_until_output(*good_frame(boxes=bad_boxes))
    assert out is not None and [o.detection_id for o in out.objects] == ["ok"]

    # detections whose image never comes: unmatched once newer images have arrived
    orphan = detections(rgb_image(H, W, (5, 0)).header, [MUG])
    client.det_pub.publish(orphan)
    for _ in range(3):
        assert client.send_until_output(*good_frame()) is not None, "node stopped answering after bad input"

    stats = client.latest_stats(time.time())
    assert stats.images_bad_encoding > base.images_bad_encoding
    assert stats.images_corrupt >= base.images_corrupt + 2  # truncated + empty
    assert stats.boxes_degenerate >= base.boxes_degenerate + 3
    assert stats.detections_unmatched > base.detections_unmatched
    assert node.poll() is None, "node process died"


def test_idle_node_reports_rate_0_and_logs_its_unchanged_stats_once(node, client):
    """After the input stops: rate 0 on hotspots/stats and /diagnostics (not the last active rate), and the
    stats line logged once, not every period. (Stats period 0.3 s here; the shipped 5 s in test_ros_defaults.)"""
    from diagnostic_msgs.msg import DiagnosticArray

    from hotspot_ros.messages import stats_line

    diags: list[DiagnosticArray] = []
    sub = client.node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 50)
    try:
        for _ in range(3):
            assert client.send_until_output(*good_frame()) is not None
        t_stop = time.time()
        assert client.spin_until(
            lambda: (st := client.latest_stats(t_stop, timeout=0.0)) is not None and st.rate_hz == 0.0, 60.0
        ), f"no idle stats: {[s.rate_hz for s in client.stats[-5:]]}"
        idle = client.latest_stats(t_stop, timeout=0.0)
        seen = len(client.stats)
        assert client.spin_until(lambda: len(client.stats) >= seen + 4, 60.0)  # four more periods, no input
        later = client.stats[seen:]
        assert all(s.rate_hz == 0.0 and s.frames_processed == idle.frames_processed for s in later)
        t_idle = idle.header.stamp.sec + idle.header.stamp.nanosec / 1e9

        def idle_diag() -> dict[str, str] | None:
            for arr in diags:
                if arr.header.stamp.sec + arr.header.stamp.nanosec / 1e9 > t_idle:
                    for status in arr.status:
                        if status.hardware_id == client.target:
                            return {"message": status.message, **{kv.key: kv.value for kv in status.values}}
            return None

        assert client.spin_until(lambda: idle_diag() is not None, 30.0), "no /diagnostics after the input stopped"
        d = idle_diag()
        assert d["rate_hz"] == "0.00" and "no input in the last period" in d["message"], d
        line = stats_line(idle)
        assert client.spin_until(lambda: line in node.log_path.read_text(), 30.0), "idle stats line never logged"
        assert node.log_path.read_text().count(line) == 1, "unchanged stats line logged again"
    finally:
        client.node.destroy_subscription(sub)


@pytest.fixture()
def ns_client(ros_env, request):
    """A client in a namespace of its own, so this test's node is the only one it talks to."""
    c = Client(name="ns_client", namespace="/" + request.node.name[5:25])
    yield c
    c.close()


def test_lifecycle_transitions_and_model_errors(model_path, tmp_path, ns_client):
    client = ns_client
    log = tmp_path / "node.log"
    proc = start_node(
        {"model_path": str(tmp_path / "absent.safetensors"), "stats_period_sec": 0.3},
        extra_args=["--no-autostart"],
        log_path=log,
        namespace=client.node.get_namespace(),
    )
    try:
        assert client.spin_until(lambda: _has_service(client), 90.0), "lifecycle services never appeared"
        assert client.get_state() == "unconfigured"
        assert not client.change_state(Transition.TRANSITION_CONFIGURE)  # model file missing
        assert client.get_state() == "unconfigured"
        assert "cannot load model" in log.read_text() and "absent.safetensors" in log.read_text()

        assert client.set_parameters({"model_path": str(model_path), "input_qos": "reliable"})[0].successful
        assert client.change_state(Transition.TRANSITION_CONFIGURE)
        assert client.get_state() == "inactive"
        img, dets = good_frame()
        assert client.send_until_output(img, dets, timeout=3.0) is None  # inactive: not subscribed, no output

        assert client.change_state(Transition.TRANSITION_ACTIVATE) and client.get_state() == "active"
        assert client.send_until_output(*good_frame()) is not None
        # a best-effort camera against the reliable subscription: nothing can arrive, and the node says why
        best_effort = client.node.create_publisher(Image, "image", rclpy.qos.qos_profile_sensor_data)
        assert client.spin_until(lambda: "incompatible" in log.read_text(), 30.0), "no QoS incompatibility warning"
        client.node.destroy_publisher(best_effort)

        assert client.change_state(Transition.TRANSITION_DEACTIVATE) and client.get_state() == "inactive"
        assert client.send_until_output(*good_frame(), timeout=3.0) is None
        assert client.change_state(Transition.TRANSITION_ACTIVATE)  # reloads the freed model
        assert client.send_until_output(*good_frame()) is not None

        assert client.change_state(Transition.TRANSITION_DEACTIVATE)
        assert client.change_state(Transition.TRANSITION_CLEANUP) and client.get_state() == "unconfigured"
        assert client.change_state(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN) and client.get_state() == "finalized"
        assert proc.poll() is None
    finally:
        stop_node(proc)


def _has_service(client) -> bool:
    return any(name == client.target + "/change_state" for name, _ in client.node.get_service_names_and_types())


def test_depth_gives_3d_peaks_and_nan_depth_is_survived(model_path, tmp_path, ns_client):
    client = ns_client
    proc = start_node(
        {"model_path": str(model_path), "use_depth": True, "stats_period_sec": 0.3},
        log_path=tmp_path / "node.log",
        namespace=client.node.get_namespace(),
    )
    try:
        assert client.wait_for_node()
        info = CameraInfo(width=W, height=H)
        info.k = [100.0, 0.0, 80.0, 0.0, 100.0, 60.0, 0.0, 0.0, 1.0]

        def depth_msg(header, values: np.ndarray) -> Image:
            d = Image(header=header, height=H, width=W, encoding="32FC1", step=W * 4)
            d.data = values.astype(np.float32).tobytes()
            return d

        img, dets = good_frame(boxes=(MUG,))
        depth = depth_msg(img.header, np.full((H, W), 0.8, np.float32))

        def send():
            client.info_pub.publish(info)
            client.depth_pub.publish(depth)
            client.image_pub.publish(img)
            client.det_pub.publish(dets)

        assert client.spin_until(
            lambda: any(
                m.header.stamp == img.header.stamp and m.objects[0].peaks[0].has_position for m in client.hotspots
            ),
            60.0,
            step=send,
            period=0.3,
        )
        out = next(
            m for m in client.hotspots if m.header.stamp == img.header.stamp and m.objects[0].peaks[0].has_position
        )
        for p in out.objects[0].peaks:
            assert p.has_position and math.isclose(p.position.z, 0.8, rel_tol=1e-5)
            assert math.isclose(p.position.x, (p.u - 0.5 - 80.0) * 0.8 / 100.0, rel_tol=1e-4, abs_tol=1e-6)

        img, dets = good_frame(boxes=(MUG,))
        depth = depth_msg(img.header, np.full((H, W), np.nan, np.float32))
        assert client.spin_until(
            lambda: any(m.header.stamp == img.header.stamp for m in client.hotspots), 60.0, step=send, period=0.3
        )
        out = next(m for m in client.hotspots if m.header.stamp == img.header.stamp)
        assert not any(p.has_position for p in out.objects[0].peaks)
        assert proc.poll() is None
    finally:
        stop_node(proc)


def test_onnxruntime_backend_serves_the_same_maps(model_path, tmp_path, ns_client):
    pytest.importorskip("onnxruntime")
    client = ns_client
    log = tmp_path / "node.log"
    proc = start_node(
        {
            "model_path": str(model_path),
            "backend": "onnxruntime",
            "cache_dir": str(tmp_path / "cache"),
            "box_padding": 0.1,
        },
        log_path=log,
        namespace=client.node.get_namespace(),
    )
    try:
        assert client.wait_for_node(), log.read_text()
        img, dets = good_frame(boxes=(MUG,), seed=3)
        out = client.send_until_output(img, dets)
        assert out is not None and "inference: onnxruntime" in log.read_text() and "(fp32)" in log.read_text()
        # the same crop through the torch predictor in this process
        from hotspot_core.hotspots.checkpoint import load_model
        from hotspot_core.predictor import HotspotPredictor
        from hotspot_ros.image_codec import image_to_rgb

        roi = pad_and_clamp(center_size_to_xyxy(*MUG[3]), 0.1, W, H)
        ref = HotspotPredictor(load_model(model_path), device="cpu").predict(image_to_rgb(img), [roi])[0]
        got = np.asarray(out.objects[0].maps, np.float32).reshape(ref.maps.shape)
        assert np.abs(got - ref.maps).max() < 1e-3 and np.allclose(out.objects[0].action_scores, ref.scores, atol=1e-4)
    finally:
        stop_node(proc)


def test_unchanged_objects_reuse_their_hotspots_and_say_so(node, client):
    base = client.latest_stats(time.time())
    first = client.send_until_output(*good_frame(boxes=(MUG, BOTTLE), seed=5))
    second = client.send_until_output(*good_frame(boxes=(MUG, BOTTLE), seed=5))  # same pixels, same boxes
    assert [o.reused for o in second.objects] == [True, True]
    for fresh, reused in zip(first.objects, second.objects):
        assert (reused.computed_stamp.sec, reused.computed_stamp.nanosec) == (
            first.header.stamp.sec,
            first.header.stamp.nanosec,
        )
        assert list(reused.maps) == list(fresh.maps) and list(reused.action_scores) == list(fresh.action_scores)
    # the detector's boxes jitter by a few pixels on the same picture: still reused, and published on the crop
    # box the result was computed on, with this frame's detection
    jittered = tuple(
        (i, c, s, (cx + d, cy - d, w + d, h - d)) for (i, c, s, (cx, cy, w, h)), d in zip((MUG, BOTTLE), (3.0, -2.0))
    )
    third = client.send_until_output(*good_frame(boxes=jittered, seed=5))
    assert [o.reused for o in third.objects] == [True, True]
    assert [o.roi for o in third.objects] == [o.roi for o in first.objects]
    changed = client.send_until_output(*good_frame(boxes=(MUG, BOTTLE), seed=6))  # other pixels: recomputed
    assert [o.reused for o in changed.objects] == [False, False]
    assert all(
        (o.computed_stamp.sec, o.computed_stamp.nanosec) == (changed.header.stamp.sec, changed.header.stamp.nanosec)
        for o in changed.objects
    )
    stats = client.latest_stats(time.time())
    assert stats.objects_reused >= base.objects_reused + 4
    assert stats.objects_processed >= base.objects_processed + 4

    assert client.set_parameters({"reuse_results": False})[0].successful
    try:
        out = client.send_until_output(*good_frame(boxes=(MUG, BOTTLE), seed=6))
        assert [o.reused for o in out.objects] == [False, False], "reuse_results false: always computed"
    finally:
        assert client.set_parameters({"reuse_results": True})[0].successful
