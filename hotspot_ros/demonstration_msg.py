"""ROS glue of demonstration mode: detections -> hand/object boxes, a DemonstrationResult -> message."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Time
from interaction_hotspots.msg import InteractionRecognition
from sensor_msgs.msg import RegionOfInterest

from hotspot_core.dan.demonstration import Box, DemonstrationResult, demonstration_inputs
from hotspot_core.image.detection_array import detections_from_msg


def time_from_ns(ns: int) -> Time:
    return Time(sec=int(ns // 1_000_000_000), nanosec=int(ns % 1_000_000_000))


def hands_and_objects(
    detection_lists: Sequence, hand_classes: Sequence[str]
) -> tuple[list[Box], list[tuple[str, str, Box]]]:
    """Split vision_msgs Detection2DArray messages into hand boxes and (id, class, box) objects.

    ``detection_lists``: (array, all_hands) pairs; every detection of an ``all_hands`` array is a hand
    (the separate hand topic), otherwise a detection is a hand when its best class is in
    ``hand_classes``. Boxes with a non-finite or empty extent are skipped.
    """
    detections, hand_detections = [], []
    for array, all_hands in detection_lists:
        (hand_detections if all_hands else detections).extend(detections_from_msg(array))
    return demonstration_inputs(detections, hand_detections, hand_classes)


def _roi(box: Box, width: int, height: int) -> RegionOfInterest | None:
    x0, y0 = max(0, int(math.floor(box[0]))), max(0, int(math.floor(box[1])))
    x1, y1 = min(width, int(math.ceil(box[2]))), min(height, int(math.ceil(box[3])))
    if x1 <= x0 or y1 <= y0:
        return None
    return RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0, do_rectify=False)


def interaction_recognition(header, result: DemonstrationResult) -> InteractionRecognition:
    """The message of one recognised demonstration; ``header`` is the last clip frame's."""
    rec = result.recognition
    msg = InteractionRecognition()
    msg.header = header
    msg.clip_start = time_from_ns(result.clip_start_ns)
    msg.clip_end = time_from_ns(result.clip_end_ns)
    start, end = result.action_interval_ns
    msg.action_start, msg.action_end = time_from_ns(start), time_from_ns(end)
    msg.action, msg.action_score = rec.action, float(rec.action_score)
    msg.object, msg.object_score = rec.object, float(rec.object_score)
    msg.second_object, msg.second_object_score = rec.second_object, float(rec.second_object_score)
    if result.detection is not None:
        msg.detection_id, msg.detection_class_id = result.detection[0], result.detection[1]
    height, width = result.image_size
    roi = _roi(rec.box, width, height) if rec.box is not None else None
    if roi is not None:
        msg.has_box, msg.box = True, roi
    if rec.object_attention is not None and rec.action_attention is not None:
        n, h, w = rec.object_attention.shape
        msg.num_maps, msg.map_height, msg.map_width = n, h, w
        msg.map_stamps = [time_from_ns(t) for t in result.stamps_ns]
        msg.action_attention = np.ascontiguousarray(rec.action_attention, np.float32).ravel().tolist()
        msg.object_attention = np.ascontiguousarray(rec.object_attention, np.float32).ravel().tolist()
    return msg
