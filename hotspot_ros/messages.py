"""Predictor results -> ROS messages (HotspotArray, MarkerArray, overlay Image)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from interaction_hotspots.msg import HotspotArray, HotspotPeak, ObjectHotspots
from sensor_msgs.msg import Image, RegionOfInterest
from visualization_msgs.msg import Marker, MarkerArray

from hotspot_core.overlay import action_colour, draw_box_and_label, draw_hotspots, draw_legend
from hotspot_core.predictor import ObjectHotspots as CoreObject

from .image_codec import rgb_to_image_fields


def hotspot_array(header, action_names: Sequence[str], objects: Sequence[tuple[str, str, float, CoreObject, list]]) -> HotspotArray:
    """objects: (detection id, class id, detection score, core result, 3-D peak positions or None per map)."""
    out = HotspotArray()
    out.header = header
    out.action_names = list(action_names)
    for det_id, class_id, score, res, positions in objects:
        o = ObjectHotspots()
        o.detection_id = det_id
        o.class_id = class_id
        o.detection_score = float(score)
        o.roi = RegionOfInterest(
            x_offset=res.roi.x0, y_offset=res.roi.y0, width=res.roi.width, height=res.roi.height, do_rectify=False
        )
        o.action_scores = res.scores.astype(np.float32).tolist()
        o.map_action_indices = [int(i) for i in res.action_indices]
        o.map_height, o.map_width = int(res.maps.shape[1]), int(res.maps.shape[2])
        o.maps = np.ascontiguousarray(res.maps, dtype=np.float32).ravel().tolist()
        o.map_max = res.map_max.astype(np.float32).tolist()
        for k, a in enumerate(res.action_indices):
            p = HotspotPeak(action_index=int(a), u=float(res.peaks[k, 0]), v=float(res.peaks[k, 1]), value=float(res.peaks[k, 2]))
            if positions is not None and positions[k] is not None:
                p.has_position = True
                p.position = Point(x=positions[k][0], y=positions[k][1], z=positions[k][2])
            o.peaks.append(p)
        out.objects.append(o)
    return out


def peak_markers(msg: HotspotArray, lifetime_s: float, rays: list[list[tuple[float, float, float] | None]]) -> MarkerArray:
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


def overlay_image(header, rgb: np.ndarray, action_names: Sequence[str], objects: Sequence[tuple[str, CoreObject]], threshold: float) -> Image:
    """bgr8 debug image: per-action colours blended into each object's ROI, boxes, labels and a legend."""
    canvas = rgb.copy()
    shown: set[int] = set()
    for label, res in objects:
        draw_hotspots(canvas, res.roi, res.maps, res.action_indices, threshold=threshold)
        best = int(np.argmax(res.scores))
        draw_box_and_label(canvas, res.roi, f"{label}: {action_names[best]} {res.scores[best]:.2f}")
        shown.update(int(a) for a in res.action_indices)
    draw_legend(canvas, action_names, sorted(shown))
    img = Image()
    img.header = header
    img.height, img.width, img.step, data = rgb_to_image_fields(canvas, "bgr8")
    img.encoding = "bgr8"
    img.data = data
    return img
