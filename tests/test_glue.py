"""Front-end glue that needs no middleware: stamp matching, object selection, image codec, geometry, overlay."""

from __future__ import annotations

import types

import numpy as np
import pytest

from hotspot_core.image.boxes import Roi, iou
from hotspot_core.image.geometry import deproject, depth_at
from hotspot_core.image.overlay import ObjectMaps, OverlayConfig, action_colour, render_overlay
from hotspot_core.image.selection import StabilityFilter, in_contact
from hotspot_ros.image_codec import (
    CorruptImage,
    UnsupportedEncoding,
    depth_to_metres,
    image_to_rgb,
    rgb_to_image_fields,
)
from hotspot_ros.params import PARAMS, NodeSettings, validate
from hotspot_ros.stamp_sync import FrameMatcher, StampCache
from hotspot_ros.worker import LatestWorker


def fake_image(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    """A duck-typed sensor_msgs/Image (the codec reads fields only)."""
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1).view(np.uint8) if arr.dtype != np.uint8 else arr.reshape(h, -1)
    rows = np.concatenate([rows, np.zeros((h, pad), np.uint8)], axis=1)
    return types.SimpleNamespace(
        height=h, width=w, step=rows.shape[1], encoding=encoding, is_bigendian=bigendian, data=rows.tobytes()
    )


def test_stamp_cache_matches_closest_within_tolerance():
    cache = StampCache[str](3)
    for t, v in ((100, "a"), (200, "b"), (300, "c"), (400, "d")):
        cache.add(t, v)
    assert len(cache) == 3 and cache.match(100, 10) is None  # evicted
    assert cache.match(205, 10) == "b" and cache.match(250, 10) is None and cache.match(251, 60) == "c"
    assert cache.newest_stamp() == 400
    cache.resize(1)
    assert cache.match(300, 0) is None and cache.match(400, 0) == "d"


def test_frame_matcher_pairs_detections_with_images_and_gives_up():
    m = FrameMatcher[str](size=2, give_up_ns=1000)
    m.add_detections(100, "det100")
    assert m.match(5, use_depth=True, use_hands=True) == ([], [])  # no image yet: keep waiting
    m.images.add(102, "img102")
    m.depths.add(99, "depth99")
    m.hands.add(300, "hands300")
    frames, unmatched = m.match(5, use_depth=True, use_hands=True)
    assert frames == [("img102", "det100", "depth99", None)] and unmatched == []
    m.add_detections(500, "det500")
    m.images.add(2000, "img2000")  # an image newer by more than give_up_ns: det500 never matches
    assert m.match(5, use_depth=False, use_hands=False) == ([], [500])
    for t in (3001, 3002, 3003):  # more waiting detections than the cache holds
        m.add_detections(t, f"det{t}")
    assert m.match(5, use_depth=False, use_hands=False) == ([], [3001])


def test_latest_worker_runs_the_newest_job_and_survives_errors():
    import threading
    import time

    seen, errors, gate, done = [], [], threading.Event(), threading.Event()

    def handle(job):
        if job == "block":
            gate.wait(10)
        if job == "boom":
            raise ValueError("boom")
        seen.append(job)
        if job == "last":
            done.set()

    w = LatestWorker(handle, errors.append, "test_worker")
    w.start()
    try:
        assert w.submit("block") is None
        while w._pending is not None:  # until the worker has taken "block" (it then waits on the gate)
            time.sleep(0.01)
        assert w.submit("a") is None and w.submit("b") == "a"  # "a" was still waiting: replaced, not queued
        gate.set()
        while w._pending is not None:
            time.sleep(0.01)
        w.submit("boom")
        while w._pending is not None:
            time.sleep(0.01)
        w.submit("last")
        assert done.wait(10)
    finally:
        w.stop()
    assert seen == ["block", "b", "last"]
    assert len(errors) == 1 and isinstance(errors[0], ValueError), "the error is reported, the worker goes on"


def test_latest_worker_stops_cleanly_after_a_start_interrupted_by_ctrl_c(monkeypatch):
    import threading

    started = threading.Thread.start

    def interrupted(self):  # a Ctrl-C landing while the thread is being started (seen in a robot CI run)
        raise KeyboardInterrupt

    w = LatestWorker(lambda job: None, lambda exc: None, "test_worker")
    monkeypatch.setattr(threading.Thread, "start", interrupted)
    with pytest.raises(KeyboardInterrupt):
        w.start()
    monkeypatch.setattr(threading.Thread, "start", started)
    w.stop()  # nothing to join: returns, does not raise "cannot join thread before it is started"
    assert w.pending() == 0
    w.start()  # and the worker can still be started and stopped again
    w.stop()


def test_stability_filter_needs_still_boxes():
    f = StabilityFilter(frames=2, min_iou=0.8)
    still, moving = ("a", "mug", (10, 10, 50, 50)), ("b", "cup", (100, 10, 140, 50))
    assert f.update([still, moving]) == [False, False]  # no history yet
    assert f.update([still, ("b", "cup", (120, 10, 160, 50))]) == [False, False]
    assert f.update([still, ("b", "cup", (140, 10, 180, 50))]) == [True, False]
    # without ids, matched by class and IoU
    g = StabilityFilter(frames=1, min_iou=0.5)
    g.update([("", "mug", (0, 0, 10, 10))])
    assert g.update([("", "mug", (1, 0, 11, 10)), ("", "cup", (1, 0, 11, 10))]) == [True, False]
    assert StabilityFilter(frames=0).update([still]) == [True]


def test_contact_and_iou():
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert in_contact((0, 0, 10, 10), [(12, 0, 20, 10)], margin=3) and not in_contact(
        (0, 0, 10, 10), [(12, 0, 20, 10)], 1
    )


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
def test_colour_encodings_decode_to_rgb(encoding):
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    if encoding == "mono8":
        src, expected = rgb[..., 0].copy(), np.repeat(rgb[..., :1], 3, axis=2)
    else:
        src = rgb[..., ::-1] if encoding.startswith("bgr") else rgb
        if encoding.endswith("a8"):
            src = np.concatenate([src, np.full((5, 7, 1), 9, np.uint8)], axis=2)
        expected = rgb
    out = image_to_rgb(fake_image(np.ascontiguousarray(src), encoding, pad=3))
    assert out.shape == (5, 7, 3) and np.array_equal(out, expected)


def test_bad_images_raise_specific_errors():
    good = fake_image(np.zeros((4, 4, 3), np.uint8), "rgb8")
    with pytest.raises(UnsupportedEncoding, match="yuv422"):
        image_to_rgb(types.SimpleNamespace(**{**vars(good), "encoding": "yuv422"}))
    with pytest.raises(CorruptImage, match="expected step\\*height"):
        image_to_rgb(types.SimpleNamespace(**{**vars(good), "data": good.data[:-1]}))
    with pytest.raises(CorruptImage, match="empty"):
        image_to_rgb(types.SimpleNamespace(**{**vars(good), "height": 0, "data": b""}))
    with pytest.raises(CorruptImage, match="step"):
        image_to_rgb(types.SimpleNamespace(**{**vars(good), "step": 5}))
    with pytest.raises(UnsupportedEncoding):
        depth_to_metres(good)


def test_depth_units_and_invalid_values():
    mm = np.array([[0, 1000], [2500, 65535]], np.uint16)
    d = depth_to_metres(fake_image(mm, "16UC1"))
    assert np.isnan(d[0, 0]) and d[0, 1] == 1.0 and d[1, 0] == 2.5
    big = fake_image(mm.byteswap(), "16UC1", bigendian=True)
    assert depth_to_metres(big)[1, 0] == 2.5
    m = np.array([[np.nan, -1.0], [0.75, np.inf]], np.float32)
    d = depth_to_metres(fake_image(m, "32FC1"))
    assert np.isnan(d[0, 0]) and np.isnan(d[0, 1]) and d[1, 0] == 0.75 and np.isnan(d[1, 1])


def test_encode_roundtrip():
    rgb = np.random.default_rng(1).integers(0, 255, (3, 4, 3), dtype=np.uint8)
    h, w, step, data = rgb_to_image_fields(rgb, "bgr8")
    msg = types.SimpleNamespace(height=h, width=w, step=step, encoding="bgr8", is_bigendian=False, data=data)
    assert np.array_equal(image_to_rgb(msg), rgb)


def test_depth_lookup_and_deprojection():
    depth = np.full((10, 10), np.nan, np.float32)
    depth[4:7, 4:7] = 2.0
    assert depth_at(depth, 5.5, 5.5) == 2.0 and np.isnan(depth_at(depth, 0.5, 0.5, radius=1))
    assert np.isnan(depth_at(depth, 50, 5))
    k = np.array([[100.0, 0, 4.5], [0, 100.0, 4.5], [0, 0, 1]])
    assert deproject(5.0, 5.0, 2.0, k) == (0.0, 0.0, 2.0)  # pixel centre (4, 4) + 0.5 is the principal point
    x, y, z = deproject(15.0, 5.0, 2.0, k)
    assert (x, y, z) == pytest.approx((0.2, 0.0, 2.0))


def test_overlay_colours_only_the_roi():
    img = np.zeros((40, 40, 3), np.uint8)
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1, :, :] = 1.0
    obj = ObjectMaps(Roi(15, 15, 35, 35), np.array([0.2, 0.0, 0.0, 0.8]), np.array([0, 3]), maps)
    config = OverlayConfig(fill_alpha=1.0, show_boxes=False, show_legend=False, show_scores=False)
    pic = render_overlay(img, [("", obj)], ["a", "b", "c", "d"], config)
    (x, y), label = pic.hotspots[0].peak, pic.hotspots[0].label
    outside = np.ones((40, 40), bool)
    outside[15:35, 15:35] = False
    outside[label.y0 : label.y1, label.x0 : label.x1] = False  # the label and peak marker may sit outside
    outside[y - 8 : y + 9, x - 8 : x + 9] = False
    assert pic.image[outside].sum() == 0
    assert tuple(pic.image[30, 30]) == action_colour(3)


def test_overlay_parameters_ship_the_renderers_defaults():
    from pathlib import Path

    import yaml

    shipped = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "hotspot.yaml").read_text())
    shipped = shipped["/**"]["ros__parameters"]
    assert shipped["overlay_top_k"] == PARAMS["overlay_top_k"].default == OverlayConfig.top_k
    assert shipped["overlay_threshold"] == PARAMS["overlay_threshold"].default == OverlayConfig.level
    assert validate("overlay_top_k", -1) and validate("overlay_threshold", 1.5) and validate("overlay_top_k", 3) is None


def test_params_table_matches_settings_and_validates():
    values = {name: p.default for name, p in PARAMS.items()}
    s = NodeSettings.from_values(values)
    assert s.object_classes == [] and s.hand_classes == ["hand"]
    assert validate("device", "tpu") and validate("box_padding", 2.0) and validate("box_padding", 0.2) is None
    assert all(p.description for p in PARAMS.values())


def test_old_demonstration_import_path_still_works():
    import hotspot_core.dan.demonstration as core
    import hotspot_ros.demonstration as old

    assert old.DemonstrationRecognizer is core.DemonstrationRecognizer and old.touching is core.touching
