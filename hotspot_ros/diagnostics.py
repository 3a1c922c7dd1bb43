"""The node's health for standard robot monitoring: /diagnostics (diagnostic_msgs/DiagnosticArray).

One DiagnosticStatus per stats period, named "<node>: hotspots", with the rate, per-stage latency,
every counter (frames accounted for by reason), the model and backend, and a level:
ERROR  not running (unconfigured/inactive), or detections arrive while every image is lost;
WARN   frames dropped for any reason, images lost on the way, no input, or warnings, in the last period;
OK     otherwise. The message says why. Plain functions over dicts, so the rules are tested without ROS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

# Counters of images that did not become a hotspot message, by reason (see frame_accounting).
IMAGE_DROP_REASONS = (
    "frames_dropped_busy",
    "frames_dropped_stale",
    "images_bad_encoding",
    "images_corrupt",
    "images_unmatched",
    "images_duplicate_stamp",
)
# Inputs a robot sends badly or not at all (3-D outputs missing): frames with use_depth but no depth or
# camera_info, unusable depth or camera_info, peaks with no depth reading.
INPUT_PROBLEM_COUNTERS = (
    "depth_missing",
    "depth_unusable",
    "camera_info_missing",
    "camera_info_invalid",
    "peaks_without_depth",
)
WARN_COUNTERS = (
    IMAGE_DROP_REASONS
    + ("detections_unmatched", "images_lost", "images_missing", "time_jumps")
    + INPUT_PROBLEM_COUNTERS
)


def frame_accounting(c: Mapping[str, int]) -> dict[str, int]:
    """received = processed + each drop reason + still waiting (images not matched yet, frames held for
    their depth, in the worker) - images that made a second frame (detections sent twice with one stamp).

    Returns the terms and ``unaccounted`` (0 when every image is accounted for).
    """
    terms = {name: int(c.get(name, 0)) for name in IMAGE_DROP_REASONS}
    terms["frames_processed"] = int(c.get("frames_processed", 0))
    terms["images_waiting"] = int(c.get("images_waiting", 0))
    terms["frames_in_worker"] = int(c.get("frames_in_worker", 0))
    terms["frames_waiting_depth"] = int(c.get("frames_waiting_depth", 0))  # matched, held for their depth
    terms["images_matched_again"] = -int(c.get("images_matched_again", 0))  # one image, two frames
    terms["unaccounted"] = int(c.get("frames_received", 0)) - sum(terms.values())
    return terms


def level_and_message(active: bool, now: Mapping[str, int], before: Mapping[str, int]) -> tuple[bytes, str]:
    """Level and one-line summary from the counters now and at the previous report."""
    if not active:
        return DiagnosticStatus.ERROR, "not active: no model loaded, inputs not subscribed"
    delta = {k: int(now.get(k, 0)) - int(before.get(k, 0)) for k in set(now) | set(before)}
    if delta.get("images_missing", 0) > 0 and delta.get("frames_received", 0) == 0:
        return DiagnosticStatus.ERROR, (
            "detections arrive but no image does although an image publisher is matched (QoS or bandwidth: see the log)"
        )
    problems = [f"{k} +{delta[k]}" for k in WARN_COUNTERS if delta.get(k, 0) > 0]
    if delta.get("frames_received", 0) == 0 and delta.get("detections_received", 0) == 0:
        problems.append("no input in the last period")
    if problems:
        return DiagnosticStatus.WARN, ", ".join(problems)
    return DiagnosticStatus.OK, f"{delta.get('frames_processed', 0)} frames processed in the last period"


def _fmt(value) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.2f}"
    return str(value)


def diagnostic_array(
    stamp,
    name: str,
    hardware_id: str,
    level: bytes,
    message: str,
    counts: Mapping[str, int],
    latency_ms: Mapping[str, tuple[float, float]],
    rate_hz: float,
    info: Mapping[str, str],
) -> DiagnosticArray:
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id)
    values = [("rate_hz", rate_hz)]
    values += [(f"latency_{stage}_p50_ms", p50) for stage, (p50, _) in latency_ms.items()]
    values += [(f"latency_{stage}_p95_ms", p95) for stage, (_, p95) in latency_ms.items()]
    values += sorted(counts.items())
    values += list(info.items())
    status.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values]
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    arr.status = [status]
    return arr
