"""Frame results -> ROS messages (HotspotArray, MarkerArray, overlay Image, HotspotStats)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, Vector3
from interaction_hotspots.msg import HotspotArray, HotspotPeak, HotspotStats, InteractionRecognition, ObjectHotspots
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2, PointField, RegionOfInterest
from visualization_msgs.msg import Marker, MarkerArray

from hotspot_core.frame import FrameObject, FrameResult
from hotspot_core.image.geometry import region_points
from hotspot_core.image.overlay import OverlayConfig, action_colour, render_overlay
from hotspot_core.predictor import ObjectHotspots as CoreObject

from .image_codec import rgb_to_image_fields
from .latency import STAGES, LatencyStats

OUTPUT_DEPTH = 5  # history of each output topic's reliable writer (frames, not seconds)


def create_publishers(node, demonstrations: bool) -> dict:
    """The node's lifecycle publishers by name: reliable outputs, latched action names."""
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    # depth OUTPUT_DEPTH, not 1: a frame whose objects are all reused is published right after the frame
    # before it; with one slot the second replaced the first before a reliable subscriber had acknowledged
    # it (seen: 17 of 18 demo frames recorded, the lost one published back to back with the next)
    out = QoSProfile(depth=OUTPUT_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {
        "hotspots": node.create_lifecycle_publisher(HotspotArray, "hotspots", out),
        "actions": node.create_lifecycle_publisher(HotspotArray, "hotspots/actions", latched),
        "overlay": node.create_lifecycle_publisher(Image, "hotspots/overlay", out),
        "markers": node.create_lifecycle_publisher(MarkerArray, "hotspots/markers", out),
        "points": node.create_lifecycle_publisher(PointCloud2, "hotspots/points", out),
        "stats": node.create_lifecycle_publisher(HotspotStats, "hotspots/stats", out),
    }
    if demonstrations:
        pubs["demonstrations"] = node.create_lifecycle_publisher(
            InteractionRecognition, "demonstrations", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        )
    return pubs


def hotspot_array(header, action_names: Sequence[str], objects: Sequence[FrameObject]) -> HotspotArray:
    """One message for a frame's processed objects (3-D peak positions where the object has them)."""
    out = HotspotArray()
    out.header = header
    out.action_names = list(action_names)
    for obj in objects:
        res, positions = obj.hotspots, obj.positions
        o = ObjectHotspots()
        o.detection_id = obj.detection.detection_id
        o.detection_index = max(0, int(obj.detection.index))
        if len(obj.detection.source_box) == 5:
            (
                o.detection_center_x,
                o.detection_center_y,
                o.detection_size_x,
                o.detection_size_y,
                o.detection_theta,
            ) = (float(v) for v in obj.detection.source_box)
        o.class_id = obj.detection.class_id
        o.detection_score = float(obj.detection.score)
        o.reused = bool(obj.reused)
        o.computed_stamp = (
            header.stamp
            if not obj.reused
            else Time(
                sec=int(obj.computed_stamp_ns // 1_000_000_000), nanosec=int(obj.computed_stamp_ns % 1_000_000_000)
            )
        )
        o.roi = RegionOfInterest(
            x_offset=res.roi.x0, y_offset=res.roi.y0, width=res.roi.width, height=res.roi.height, do_rectify=False
        )
        o.action_scores = res.scores.astype(np.float32).tolist()
        o.map_action_indices = [int(i) for i in res.action_indices]
        o.map_height, o.map_width = int(res.maps.shape[1]), int(res.maps.shape[2])
        o.maps = np.ascontiguousarray(res.maps, dtype=np.float32).ravel().tolist()
        o.map_max = res.map_max.astype(np.float32).tolist()
        for k, a in enumerate(res.action_indices):
            p = HotspotPeak(
                action_index=int(a), u=float(res.peaks[k, 0]), v=float(res.peaks[k, 1]), value=float(res.peaks[k, 2])
            )
            if positions is not None and positions[k] is not None:
                p.has_position = True
                p.position = Point(x=positions[k][0], y=positions[k][1], z=positions[k][2])
            normal = obj.normals[k] if obj.normals is not None else None
            if normal is not None:
                p.has_normal = bool(normal.valid)
                p.normal = Vector3(x=normal.normal[0], y=normal.normal[1], z=normal.normal[2])
                p.normal_residual_m = float(normal.residual_m)
            else:
                p.normal_residual_m = float("nan")
            o.peaks.append(p)
        out.objects.append(o)
    return out


def object_keys(objects: Sequence[ObjectHotspots]) -> list[str]:
    """A key per object that does not depend on the detector's order: ``id:<detection_id>`` when the detector
    gives ids; else ``<class_id>#<n>``, n = the object's rank among this frame's id-less objects of its class
    ordered by box (left edge, then top edge), so two cups keep their keys when the detector lists them the
    other way round (they swap only when their boxes do)."""
    keys = [f"id:{o.detection_id}" if o.detection_id else "" for o in objects]
    anonymous: dict[str, list[int]] = {}
    for i, o in enumerate(objects):
        if not o.detection_id:
            anonymous.setdefault(o.class_id, []).append(i)
    for cls, members in anonymous.items():
        order = sorted(members, key=lambda i: (objects[i].roi.x_offset, objects[i].roi.y_offset, i))
        for rank, i in enumerate(order):
            keys[i] = f"{cls}#{rank}"
    return keys


def marker_id(key: str) -> int:
    """A stable, non-negative int32 marker id for an object key (CRC-32, the same in every process)."""
    return zlib.crc32(key.encode()) & 0x7FFFFFFF


RAY_NEAR_M = 0.1  # a peak without depth is drawn as its ray from this distance to the default depth
NORMAL_ARROW_M = 0.05  # length of the approach arrow drawn along a valid normal


def _marker(header, ns: str, oid: int, kind: int, rgb: tuple[float, ...], alpha: float, life: Duration) -> Marker:
    m = Marker()
    m.header = header
    m.ns, m.id, m.type, m.action = ns, oid, kind, Marker.ADD
    m.pose.orientation.w = 1.0
    m.color.r, m.color.g, m.color.b, m.color.a = *rgb, alpha
    m.lifetime = life
    return m


def peak_markers(
    msg: HotspotArray, lifetime_s: float, rays: list[list[tuple[float, float, float] | None]]
) -> MarkerArray:
    """Markers of every object and action with a camera model; namespace = the action's name (+ suffix):

    ``<action>``         SPHERE at the measured 3-D peak (HotspotPeak.has_position);
    ``<action>/normal``  ARROW ending at that peak, along -normal (the approach direction), where has_normal;
    ``<action>/ray``     LINE_STRIP along the peak's viewing ray (RAY_NEAR_M to marker_default_depth_m) where
                         no depth was measured: a direction, never a point at a guessed depth.

    Marker ids are per object, ``marker_id(object_keys(...))``: the same object keeps its id whatever order
    the detector lists it in. rays[i][k]: the point to draw for object i, map k (the peak, else its ray at
    the default depth), or None (no camera model: nothing to draw). A DELETEALL first clears markers of
    objects that disappeared.
    """
    out = MarkerArray()
    clear = Marker(action=Marker.DELETEALL)
    clear.header = msg.header
    out.markers.append(clear)
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    for i, (obj, key) in enumerate(zip(msg.objects, object_keys(msg.objects))):
        for k, peak in enumerate(obj.peaks):
            point = rays[i][k] if i < len(rays) and rays[i] is not None else None
            if point is None:
                continue
            action = msg.action_names[peak.action_index]
            rgb = tuple(c / 255.0 for c in action_colour(int(peak.action_index)))
            oid = marker_id(key)

            if peak.has_position:
                m = _marker(msg.header, action, oid, Marker.SPHERE, rgb, float(max(0.3, peak.value)), life)
                m.pose.position = Point(x=point[0], y=point[1], z=point[2])
                m.scale.x = m.scale.y = m.scale.z = 0.03
                out.markers.append(m)
                if peak.has_normal:
                    n, p = peak.normal, peak.position
                    m = _marker(msg.header, f"{action}/normal", oid, Marker.ARROW, rgb, 0.9, life)
                    tail = Point(
                        x=p.x + NORMAL_ARROW_M * n.x, y=p.y + NORMAL_ARROW_M * n.y, z=p.z + NORMAL_ARROW_M * n.z
                    )
                    m.points = [tail, Point(x=p.x, y=p.y, z=p.z)]
                    m.scale.x, m.scale.y, m.scale.z = 0.005, 0.01, 0.015  # shaft, head diameter, head length
                    out.markers.append(m)
            else:
                m = _marker(msg.header, f"{action}/ray", oid, Marker.LINE_STRIP, rgb, 0.5, life)
                length = float(np.linalg.norm(point))
                near = min(RAY_NEAR_M / length, 1.0) if length > 0 else 1.0
                m.points = [Point(x=near * point[0], y=near * point[1], z=near * point[2])]
                m.points.append(Point(x=point[0], y=point[1], z=point[2]))
                m.scale.x = 0.004  # line width
                out.markers.append(m)
    return out


POINT_FIELDS = (("x", PointField.FLOAT32), ("y", PointField.FLOAT32), ("z", PointField.FLOAT32))
POINT_DTYPE = np.dtype(
    [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("action", "<u4"), ("object", "<u4"), ("value", "<f4")]
)


def hotspot_points(header, result: FrameResult, threshold: float, max_per_map: int) -> PointCloud2:
    """hotspots/points: every object's hotspot regions in 3-D, one unorganised PointCloud2 (height 1).

    Per object and map (``geometry.region_points``): the crop's pixels whose map value is at or above
    ``threshold`` (of the map's maximum) and that have a depth reading, back-projected, at most
    ``max_per_map`` of them. Fields: x, y, z (float32, metres, camera optical frame = header.frame_id),
    action (uint32, index into HotspotArray.action_names), object (uint32, index into HotspotArray.objects
    of the same stamp), value (float32, the max-normalised map value there, in [threshold, 1]).
    Empty (width 0) without depth or camera model.
    """
    chunks = []
    if result.depth_m is not None and result.intrinsics is not None:
        for i, obj in enumerate(result.objects):
            h = obj.hotspots
            for k, action in enumerate(h.action_indices):
                pts = region_points(h.maps[k], h.roi, result.depth_m, result.intrinsics, threshold, max_per_map)
                chunk = np.empty(len(pts), POINT_DTYPE)
                chunk["x"], chunk["y"], chunk["z"], chunk["value"] = pts[:, 0], pts[:, 1], pts[:, 2], pts[:, 3]
                chunk["action"], chunk["object"] = int(action), i
                chunks.append(chunk)
    data = np.concatenate(chunks) if chunks else np.empty(0, POINT_DTYPE)
    cloud = PointCloud2()
    cloud.header = header
    cloud.height, cloud.width = 1, len(data)
    cloud.fields = [
        PointField(name=name, offset=POINT_DTYPE.fields[name][1], datatype=kind, count=1)
        for name, kind in (
            *POINT_FIELDS,
            ("action", PointField.UINT32),
            ("object", PointField.UINT32),
            ("value", PointField.FLOAT32),
        )
    ]
    cloud.is_bigendian = False
    cloud.point_step = POINT_DTYPE.itemsize
    cloud.row_step = POINT_DTYPE.itemsize * len(data)
    cloud.is_dense = True  # only points with a depth reading are included
    cloud.data = data.tobytes()
    return cloud


def overlay_image(
    header,
    rgb: np.ndarray,
    action_names: Sequence[str],
    objects: Sequence[tuple[str, CoreObject]],
    threshold: float,
    top_k: int = 1,
) -> Image:
    """bgr8 picture for people (``hotspot_core.image.overlay``): each object's ``top_k`` actions as blobs on
    the part to touch (the map's region above ``threshold`` of its peak), peaks labelled, a legend."""
    canvas = render_overlay(rgb, objects, action_names, OverlayConfig(top_k=top_k, level=threshold)).image
    img = Image()
    img.header = header
    img.height, img.width, img.step, data = rgb_to_image_fields(canvas, "bgr8")
    img.encoding = "bgr8"
    img.data = data
    return img


def stats_message(stamp, counts: Mapping[str, int], latency: LatencyStats) -> HotspotStats:
    """The stats topic's message: the counters it has fields for (every frame-accounting term among them),
    per-stage p50/p95 and the output rate."""
    msg = HotspotStats()
    msg.header.stamp = stamp
    for name, value in counts.items():
        if hasattr(msg, name):  # the full set goes to /diagnostics
            setattr(msg, name, value)
    pct = latency.percentiles()
    msg.stage_names = list(STAGES)
    msg.latency_p50_ms = [pct[s][0] for s in STAGES]
    msg.latency_p95_ms = [pct[s][1] for s in STAGES]
    msg.rate_hz = latency.rate_hz()
    return msg


def stats_line(msg: HotspotStats) -> str:
    """The periodic log line summarising a stats message."""
    p50, p95 = msg.latency_p50_ms[-1], msg.latency_p95_ms[-1]
    latency = "no frame yet" if np.isnan(p50) else f"total p50 {p50:.0f} ms p95 {p95:.0f} ms"
    return (
        f"{msg.frames_processed}/{msg.frames_received} frames, {msg.objects_processed} objects computed, "
        f"{msg.objects_reused} reused, {msg.rate_hz:.1f} Hz, {latency}; dropped busy {msg.frames_dropped_busy} stale "
        f"{msg.frames_dropped_stale}, bad encoding {msg.images_bad_encoding}, corrupt {msg.images_corrupt}, "
        f"unmatched detections {msg.detections_unmatched}, degenerate boxes {msg.boxes_degenerate}, "
        f"in contact {msg.objects_in_contact_skipped}, moving {msg.objects_moving_skipped}"
    )
