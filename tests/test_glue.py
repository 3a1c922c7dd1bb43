"""Front-end glue that needs no middleware: stamp matching, object selection, image codec, geometry, overlay."""
from __future__ import annotations

import types

import numpy as np
import pytest

from hotspot_core.boxes import Roi
from hotspot_core.geometry import depth_at, deproject
from hotspot_core.overlay import action_colour, draw_hotspots
from hotspot_core.selection import StabilityFilter, in_contact, iou
from hotspot_ros.image_codec import CorruptImage, UnsupportedEncoding, depth_to_metres, image_to_rgb, rgb_to_image_fields
from hotspot_ros.params import PARAMS, NodeSettings, validate
from hotspot_ros.stamp_sync import StampCache


def fake_image(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False):
    """A duck-typed sensor_msgs/Image (the codec reads fields only)."""
    h, w = arr.shape[:2]
    rows = arr.reshape(h, -1).view(np.uint8) if arr.dtype != np.uint8 else arr.reshape(h, -1)
    rows = np.concatenate([rows, np.zeros((h, pad), np.uint8)], axis=1)
    return types.SimpleNamespace(height=h, width=w, step=rows.shape[1], encoding=encoding,
                                 is_bigendian=bigendian, data=rows.tobytes())


def test_stamp_cache_matches_closest_within_tolerance():
    cache = StampCache[str](3)
    for t, v in ((100, "a"), (200, "b"), (300, "c"), (400, "d")):
        cache.add(t, v)
    assert len(cache) == 3 and cache.match(100, 10) is None  # evicted
    assert cache.match(205, 10) == "b" and cache.match(250, 10) is None and cache.match(251, 60) == "c"
    assert cache.newest_stamp() == 400
    cache.resize(1)
    assert cache.match(300, 0) is None and cache.match(400, 0) == "d"


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
    assert in_contact((0, 0, 10, 10), [(12, 0, 20, 10)], margin=3) and not in_contact((0, 0, 10, 10), [(12, 0, 20, 10)], 1)


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
    img = np.zeros((20, 20, 3), np.uint8)
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1, :, :] = 1.0
    draw_hotspots(img, Roi(5, 5, 15, 15), maps, [0, 3], threshold=0.3, alpha=1.0)
    assert img[:5].sum() == 0 and img[:, :5].sum() == 0
    assert tuple(img[10, 10]) == action_colour(3)


def test_params_table_matches_settings_and_validates():
    values = {name: p.default for name, p in PARAMS.items()}
    s = NodeSettings.from_values(values)
    assert s.object_classes == [] and s.hand_classes == ["hand"]
    assert validate("device", "tpu") and validate("box_padding", 2.0) and validate("box_padding", 0.2) is None
    assert all(p.description for p in PARAMS.values())
