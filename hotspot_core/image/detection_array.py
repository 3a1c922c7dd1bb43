"""The one vision_msgs/Detection2DArray reader: every detection as a core ``Detection``.

It reads the message by its fields only (no ROS import), so the node (``hotspot_ros``) and the offline
recording reader (``training.demonstrations``, messages decoded by ``mcap_ros2``) parse detections alike.
"""

from __future__ import annotations

from typing import Any

from hotspot_core.image.boxes import center_size_to_xyxy
from hotspot_core.image.selection import Detection

__all__ = ["detections_from_msg"]


def detections_from_msg(msg: Any) -> list[Detection]:
    """All detections of a Detection2DArray (None: none), in message order.

    Class and score come from the best-scoring hypothesis ("" and 0.0 without any): ``class_id`` is the
    hypothesis' string as sent (a name such as "cup", or an index such as "41" for detectors that send
    indices; compared as text with object_classes / hand_classes). The box is converted from centre + size
    to corners as is (degenerate or non-finite boxes are the pipeline's to count); the received bbox and the
    position in the message are kept (``source_box``, ``index``) for the outputs.
    """
    if msg is None:
        return []
    out = []
    for i, d in enumerate(msg.detections):
        best = max(d.results, key=lambda r: r.hypothesis.score, default=None)
        b = d.bbox
        box = center_size_to_xyxy(b.center.position.x, b.center.position.y, b.size_x, b.size_y)
        out.append(
            Detection(
                box=box,
                class_id=best.hypothesis.class_id if best else "",
                score=float(best.hypothesis.score) if best else 0.0,
                detection_id=d.id,
                index=i,
                source_box=(b.center.position.x, b.center.position.y, b.size_x, b.size_y, b.center.theta),
            )
        )
    return out
