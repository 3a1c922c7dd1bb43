"""Outputs a planner uses and inputs as a robot sends them, without middleware: normals at the peaks,
hotspot regions as a PointCloud2, marker ids that survive detector reordering, depth that comes after its
colour frame (stamp_sync), camera models with zero focal length."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hotspot_core.frame import FrameConfig, FramePipeline, InferenceConfig, load_predictor
from hotspot_core.image.geometry import region_points
from hotspot_core.image.selection import Detection
from hotspot_ros.stamp_sync import FrameMatcher

H, W = 120, 160
K = np.array([[100.0, 0.0, 80.0], [0.0, 100.0, 60.0], [0.0, 0.0, 1.0]])
BOXES = [
    Detection((40.0, 35.0, 80.0, 85.0), "mug", 0.9, "", index=0, source_box=(60.0, 60.0, 40.0, 50.0, 0.0)),
    Detection((105.0, 40.0, 135.0, 100.0), "mug", 0.7, "", index=1, source_box=(120.0, 70.0, 30.0, 60.0, 0.0)),
]


@pytest.fixture(scope="module")
def pipeline():
    predictor, _ = load_predictor(InferenceConfig(device="cpu"))
    return FramePipeline(predictor, FrameConfig(reuse=FrameConfig().reuse.__class__(enabled=False)))


def frame_rgb(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (H, W, 3), dtype=np.uint8)


def test_peaks_get_normals_and_the_frame_keeps_its_3d_inputs(pipeline):
    # a plane tilted about the vertical axis: n . p = -1 with n = (0.3, 0, -1)
    n = np.array([0.3, 0.0, -1.0])
    rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
    rays = np.stack([(cols - K[0, 2]) / K[0, 0], (rows - K[1, 2]) / K[1, 1], np.ones_like(cols)], -1)
    depth = (-1.0 / (rays @ n)).astype(np.float32)
    result = pipeline.process(frame_rgb(), BOXES, depth_m=depth, intrinsics=K)
    assert result.depth_m is depth and np.array_equal(result.intrinsics, K)
    assert result.counts.peaks_without_depth == 0
    for obj in result.objects:
        assert len(obj.normals) == len(obj.hotspots.peaks)
        for normal, pos in zip(obj.normals, obj.positions):
            assert normal.valid and np.asarray(normal.normal) == pytest.approx(n / np.linalg.norm(n), abs=1e-3)
            assert np.dot(normal.normal, pos) < 0

    depth_nan = depth.copy()
    depth_nan[:] = np.nan
    result = pipeline.process(frame_rgb(), BOXES, depth_m=depth_nan, intrinsics=K)
    peaks = sum(len(o.hotspots.peaks) for o in result.objects)
    assert result.counts.peaks_without_depth == peaks > 0
    assert all(not nrm.valid for o in result.objects for nrm in o.normals)
    assert all(p is None for o in result.objects for p in o.positions)

    no_depth = pipeline.process(frame_rgb(), BOXES, intrinsics=K)
    assert all(o.normals is None for o in no_depth.objects) and no_depth.depth_m is None
    assert no_depth.counts.peaks_without_depth == 0  # nothing to read: counted as depth_missing by the node


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf])
def test_camera_models_without_focal_length_are_counted(pipeline, bad):
    k = K.copy()
    k[1, 1] = bad
    result = pipeline.process(frame_rgb(), BOXES, depth_m=np.full((H, W), 1.0, np.float32), intrinsics=k)
    assert result.counts.camera_info_invalid == 1 and "camera_info" in dict(result.warnings)
    assert all(o.positions is None and o.markers is None and o.normals is None for o in result.objects)
    assert result.intrinsics is None and result.depth_m is None
    assert len(result.objects) == 2, "the hotspots themselves are still computed"


def test_depth_that_comes_after_its_frame_is_paired():
    m = FrameMatcher[str](size=4)
    m.images.add(1000, "img")
    m.add_detections(1000, "det")
    ms = 1_000_000
    kw = dict(depth_tolerance_ns=20 * ms, depth_wait_ns=100 * ms)
    assert m.match(0, True, False, now_ns=0, **kw) == ([], [])  # held: its depth is not here yet
    assert m.waiting_for_depth() == 1
    assert m.match(0, True, False, now_ns=50 * ms, **kw) == ([], [])  # still within the wait
    m.depths.add(1000 + 7 * ms, "depth")  # the depth sensor's stamp, 7 ms off the colour one
    assert m.match(0, True, False, now_ns=60 * ms, **kw) == ([("img", "det", "depth", None)], [])
    assert m.waiting_for_depth() == 0 and m.counts.depth_missing == 0


def test_a_frame_whose_depth_never_comes_goes_on_without_it():
    ms = 1_000_000
    kw = dict(depth_tolerance_ns=20 * ms, depth_wait_ns=100 * ms)
    m = FrameMatcher[str](size=4)
    m.images.add(0, "img0")
    m.add_detections(0, "det0")
    assert m.match(0, True, False, now_ns=0, **kw) == ([], [])
    assert m.match(0, True, False, now_ns=100 * ms, **kw) == ([("img0", "det0", None, None)], [])  # waited
    assert m.counts.depth_missing == 1

    m.images.add(1000 * ms, "img1")
    m.add_detections(1000 * ms, "det1")
    assert m.match(0, True, False, now_ns=200 * ms, **kw) == ([], [])
    m.depths.add(1100 * ms, "later")  # a later depth came first: the frame's own was lost, no more waiting
    assert m.match(0, True, False, now_ns=201 * ms, **kw) == ([("img1", "det1", None, None)], [])
    assert m.counts.depth_missing == 2

    m.images.add(2000 * ms, "img2")
    m.add_detections(2000 * ms, "det2")
    assert m.match(0, True, False, now_ns=300 * ms, **kw) == ([], [])
    assert m.clear() == 1 and m.waiting_for_depth() == 0  # a time jump drops it: counted, not lost
    assert m.counts.images_unmatched == 1


def test_without_a_wait_depth_is_taken_only_if_already_there():
    m = FrameMatcher[str](size=4)
    m.images.add(0, "img")
    m.add_detections(0, "det")
    assert m.match(0, True, False) == ([("img", "det", None, None)], [])
    assert m.counts.depth_missing == 1


def test_region_points_cloud_layout(pipeline):
    pytest.importorskip("interaction_hotspots.msg")
    from sensor_msgs.msg import PointField

    from hotspot_ros.messages import POINT_DTYPE, hotspot_points

    depth = np.full((H, W), 0.6, np.float32)
    result = pipeline.process(frame_rgb(), BOXES, depth_m=depth, intrinsics=K)

    class Header:  # the cloud copies it
        pass

    cloud = hotspot_points(Header(), result, 0.5, 40)
    assert cloud.height == 1 and cloud.point_step == POINT_DTYPE.itemsize == 24
    assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == [
        ("x", 0, PointField.FLOAT32),
        ("y", 4, PointField.FLOAT32),
        ("z", 8, PointField.FLOAT32),
        ("action", 12, PointField.UINT32),
        ("object", 16, PointField.UINT32),
        ("value", 20, PointField.FLOAT32),
    ]
    pts = np.frombuffer(bytes(cloud.data), POINT_DTYPE)
    assert len(pts) == cloud.width and cloud.row_step == len(pts) * 24
    for i, obj in enumerate(result.objects):
        h = obj.hotspots
        for k, a in enumerate(h.action_indices):
            mine = pts[(pts["object"] == i) & (pts["action"] == a)]
            expected = region_points(h.maps[k], h.roi, depth, K, 0.5, 40)
            assert 0 < len(mine) <= 40 and len(mine) == len(expected)
            assert np.array_equal(mine["x"], expected[:, 0]) and np.all(mine["z"] == np.float32(0.6))
            assert np.all(mine["value"] >= 0.5) and np.all(mine["value"] <= 1.0)
    empty = hotspot_points(Header(), pipeline.process(frame_rgb(), BOXES, intrinsics=K), 0.5, 40)
    assert empty.width == 0 and len(empty.data) == 0


def test_marker_ids_follow_the_object_not_the_detector_order(pipeline):
    pytest.importorskip("interaction_hotspots.msg")
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from hotspot_ros.messages import hotspot_array, object_keys, peak_markers

    def ids(boxes, depth=None):
        result = pipeline.process(frame_rgb(), boxes, depth_m=depth, intrinsics=K)
        msg = hotspot_array(Header(frame_id="cam"), pipeline.actions, result.objects)
        markers = peak_markers(msg, 0.5, [o.markers for o in result.objects])
        by_box = {}
        for obj, key in zip(msg.objects, object_keys(msg.objects)):
            by_box[(obj.detection_center_x, obj.detection_center_y)] = key
        return by_box, markers, msg

    first, markers, msg = ids(BOXES)
    swapped = [Detection(d.box, d.class_id, d.score, d.detection_id, 1 - d.index, d.source_box) for d in BOXES[::-1]]
    second, _, msg2 = ids(swapped)
    assert first == second and sorted(first.values()) == ["mug#0", "mug#1"]
    # the received box and position in the detector's message are carried through
    assert {(o.detection_index, o.detection_size_x, o.detection_size_y) for o in msg2.objects} == {
        (1, 40.0, 50.0),
        (0, 30.0, 60.0),
    }
    # without depth: rays (LINE_STRIP, "<action>/ray"), never spheres at a guessed depth
    adds = [m for m in markers.markers if m.action == Marker.ADD]
    assert adds and all(m.type == Marker.LINE_STRIP and m.ns.endswith("/ray") for m in adds)
    assert all(math.isclose(m.points[-1].z, 1.0) and m.points[0].z < m.points[-1].z for m in adds)
    # with depth: spheres at the peaks and approach arrows, under the same per-object ids
    _, markers, msg = ids(BOXES, np.full((H, W), 0.6, np.float32))
    adds_3d = [m for m in markers.markers if m.action == Marker.ADD]
    spheres = [m for m in adds_3d if m.type == Marker.SPHERE]
    arrows = [m for m in adds_3d if m.type == Marker.ARROW]
    assert len(spheres) == len(arrows) == sum(len(o.peaks) for o in msg.objects)
    assert all(math.isclose(m.pose.position.z, 0.6, rel_tol=1e-5) for m in spheres)
    assert all(m.points[0].z < m.points[1].z for m in arrows), "arrows point away from the camera, at the surface"
    assert {m.id for m in spheres} == {m.id for m in adds}
    assert len({(m.ns, m.id) for m in markers.markers[1:]}) == len(markers.markers) - 1
