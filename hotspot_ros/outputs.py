"""The node's output topics: hotspots, markers, the overlay (rendered only while subscribed), the action
names (latched), stats and recognised demonstrations. Encoding lives in ``messages``; this publishes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from interaction_hotspots.msg import HotspotArray

from hotspot_core.frame import FrameResult

from .frame_book import FrameBook
from .messages import (
    create_publishers,
    hotspot_array,
    hotspot_points,
    overlay_image,
    peak_markers,
    stats_line,
    stats_message,
)
from .params import NodeSettings


class Outputs:
    def __init__(
        self,
        node: Any,
        book: FrameBook,
        settings: Callable[[], NodeSettings],
        counts: Callable[[], dict[str, int]],
    ) -> None:
        # counts: every counter read at one instant (the book's and the stamp matcher's), so a stats-only
        # subscriber can account for every received image
        self._node, self._book, self._settings, self._counts = node, book, settings, counts
        self._pubs: dict[str, Any] = {}
        self._last_stats_line = ""

    def create(self, demonstrations: bool) -> None:
        self._pubs = create_publishers(self._node, demonstrations)

    def destroy(self) -> None:
        for pub in self._pubs.values():
            self._node.destroy_lifecycle_publisher(pub)
        self._pubs = {}

    def frame(self, header, rgb: np.ndarray, result: FrameResult, actions: tuple[str, ...]) -> None:
        s = self._settings()
        msg = hotspot_array(header, actions, result.objects)
        self._pubs["hotspots"].publish(msg)
        self._pubs["markers"].publish(peak_markers(msg, s.marker_lifetime_sec, [o.markers for o in result.objects]))
        if self._pubs["points"].get_subscription_count() > 0:  # back-projecting regions costs: only when used
            self._pubs["points"].publish(hotspot_points(header, result, s.points_threshold, s.points_max_per_map))
        if self._pubs["overlay"].get_subscription_count() > 0:
            labels = [(o.label, o.hotspots) for o in result.objects]
            self._pubs["overlay"].publish(
                overlay_image(header, rgb, actions, labels, s.overlay_threshold, s.overlay_top_k)
            )
            self._book.count("overlays_rendered")

    def demonstration(self, header, demonstration) -> None:
        from .demonstration_msg import interaction_recognition

        rec = interaction_recognition(header, demonstration)
        self._pubs["demonstrations"].publish(rec)
        self._node.get_logger().info(f"demonstration recognised: {rec.action} {rec.object}")

    def actions(self, names: tuple[str, ...]) -> None:
        msg = HotspotArray()
        msg.header.stamp = self._node.get_clock().now().to_msg()
        msg.action_names = list(names)
        self._pubs["actions"].publish(msg)

    def stats(self) -> None:
        msg = stats_message(self._node.get_clock().now().to_msg(), self._counts(), self._book.latency)
        self._pubs["stats"].publish(msg)
        line = stats_line(msg)
        if line != self._last_stats_line:  # an idle node logs its (rate 0) line once, then stays quiet
            self._node.get_logger().info(line)
            self._last_stats_line = line
