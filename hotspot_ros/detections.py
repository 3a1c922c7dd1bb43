"""The one vision_msgs/Detection2DArray parser: every detection as a core ``Detection``."""

from __future__ import annotations

from hotspot_core.image.boxes import center_size_to_xyxy
from hotspot_core.image.selection import Detection


def detections_from_msg(msg) -> list[Detection]:
    """All detections of a Detection2DArray (None: none), in message order.

    Class and score come from the best-scoring hypothesis ("" and 0.0 without any); the box is converted
    from centre + size to corners as is (degenerate or non-finite boxes are the pipeline's to count).
    """
    if msg is None:
        return []
    out = []
    for d in msg.detections:
        best = max(d.results, key=lambda r: r.hypothesis.score, default=None)
        box = center_size_to_xyxy(d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y)
        out.append(
            Detection(
                box=box,
                class_id=best.hypothesis.class_id if best else "",
                score=float(best.hypothesis.score) if best else 0.0,
                detection_id=d.id,
            )
        )
    return out
