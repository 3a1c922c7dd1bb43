"""Frame results -> ROS messages (HotspotArray, MarkerArray, overlay Image, HotspotStats)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point
from interaction_hotspots.msg import HotspotArray, HotspotPeak, HotspotStats, InteractionRecognition, ObjectHotspots
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image, RegionOfInterest
from visualization_msgs.msg import Marker, MarkerArray

from hotspot_core.frame import FrameObject
from hotspot_core.image.overlay import OverlayConfig, action_colour, render_overlay
from hotspot_core.predictor import ObjectHotspots as CoreObject

from .image_codec import rgb_to_image_fields
from .latency import STAGES, LatencyStats


def create_publishers(node, demonstrations: bool) -> dict:
    """The node's lifecycle publishers by name: reliable depth-1 outputs, latched action names."""
    latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
    out = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pubs = {
        "hotspots": node.create_lifecycle_publisher(HotspotArray, "hotspots", out),
        "actions": node.create_lifecycle_publisher(HotspotArray, "hotspots/actions", latched),
        "overlay": node.create_lifecycle_publisher(Image, "hotspots/overlay", out),
        "markers": node.create_lifecycle_publisher(MarkerArray, "hotspots/markers", out),
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
            o.peaks.append(p)
        out.objects.append(o)
    return out


def peak_markers(
    msg: HotspotArray, lifetime_s: float, rays: list[list[tuple[float, float, float] | None]]
) -> MarkerArray:
    """One sphere per object and action at its 3-D peak (on the ray at a default depth without depth).

    rays[i][k]: the point to draw for object i, map k, or None (no camera model: nothing to draw).
    A DELETEALL first clears markers of objects that disappeared.
    """
    out = MarkerArray()
    clear = Marker(action=Marker.DELETEALL)
    clear.header = msg.header
    out.markers.append(clear)
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    for i, obj in enumerate(msg.objects):
        for k, peak in enumerate(obj.peaks):
            point = rays[i][k] if i < len(rays) and rays[i] is not None else None
            if point is None:
                continue
            m = Marker()
            m.header = msg.header
            m.ns = msg.action_names[peak.action_index]
            m.id = i * len(msg.action_names) + int(peak.action_index)
            m.type, m.action = Marker.SPHERE, Marker.ADD
            m.pose.position = Point(x=point[0], y=point[1], z=point[2])
            m.pose.orientation.w = 1.0
            m.scale.x = m.scale.y = m.scale.z = 0.03
            r, g, b = action_colour(int(peak.action_index))
            m.color.r, m.color.g, m.color.b = r / 255.0, g / 255.0, b / 255.0
            m.color.a = float(max(0.3, peak.value)) if peak.has_position else 0.35
            m.lifetime = life
            out.markers.append(m)
    return out


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
