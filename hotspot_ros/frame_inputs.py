"""The node's input topics: subscriptions (QoS matched to the publishers), stamp matching into frames,
and the accounting of every image and detections message that does not become a frame.

Callbacks only file messages into the stamp caches (cheap); each matched frame goes to ``submit``.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2DArray

from .frame_book import FrameBook
from .params import NodeSettings
from .qos import InputSubscription
from .stamp_sync import FrameMatcher

INPUT_QUEUE_DEPTH = 5  # messages per input subscription waiting for the executor (not frames waiting for work)
DEPTH_WAIT_CHECK_S = 0.02  # use_depth: how often frames held for their depth are checked for depth_wait_sec


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class FrameInputs:
    """``submit(frame)`` gets each matched (image, detections, depth, hands); it returns True when the frame
    replaced one still waiting (counted as dropped busy). ``on_time_jump`` runs when stamps jump back."""

    def __init__(
        self,
        node: Any,
        book: FrameBook,
        settings: Callable[[], NodeSettings],
        submit: Callable[[tuple], bool],
        on_time_jump: Callable[[], None],
        cache_size: int,
    ) -> None:
        self._node, self._book, self._settings = node, book, settings
        self._submit, self._on_time_jump = submit, on_time_jump
        self.matcher = FrameMatcher(cache_size)  # images, depth, hands, detections by stamp
        self.camera_info: CameraInfo | None = None
        self._subs: dict[str, InputSubscription] = {}
        self._depth_timer = None  # releases frames held for a depth that does not come (depth_wait_sec)
        self._last_seq: dict[bytes, int] = {}  # image publisher gid -> last publication sequence number

    @property
    def subscribed(self) -> bool:
        return bool(self._subs)

    @property
    def jump_ns(self) -> int:
        return self.matcher.jump_ns

    def subscribe(self) -> None:
        settings = self._settings()
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)

        def add(topic: str, msg_type: type, callback, depth: int) -> None:
            # The middleware queue only holds messages until the executor files them into the stamp caches
            # (the worker still takes the newest frame only). Depth 1 lost images whenever inference held the
            # GIL for longer than a frame period (measured: 5 of 20 at 5 Hz on 2 busy cores): keep a few.
            self._subs[topic] = InputSubscription(
                self._node, msg_type, topic, callback, settings.input_qos, depth, events
            )

        add("image", Image, self._on_image, INPUT_QUEUE_DEPTH)
        add("detections", Detection2DArray, self._on_detections, INPUT_QUEUE_DEPTH)
        if settings.use_depth:
            add("depth", Image, self._on_depth, INPUT_QUEUE_DEPTH)
            self._depth_timer = self._node.create_timer(DEPTH_WAIT_CHECK_S, self._on_depth_timer)
        if settings.use_hand_topic:
            add("hand_detections", Detection2DArray, self._on_hands, INPUT_QUEUE_DEPTH)
        # CameraInfo follows the image topic (image_transport's camera subscriber convention), so remapping
        # the image brings its camera_info along; an explicit camera_info remap wins.
        add(self._camera_info_topic(), CameraInfo, self._on_camera_info, 1)

    def destroy(self) -> None:
        for sub in self._subs.values():
            sub.destroy()
        self._subs = {}
        if self._depth_timer is not None:
            self._node.destroy_timer(self._depth_timer)
            self._depth_timer = None

    def clear(self) -> None:
        self.matcher.clear()

    @property
    def camera_info_topic(self) -> str:
        """The camera_info topic subscribed (resolved), for log lines."""
        return self._node.resolve_topic_name(self._camera_info_topic())

    def _camera_info_topic(self) -> str:
        node = self._node
        own = node.resolve_topic_name("camera_info")
        if own != posixpath.join(node.get_namespace(), "camera_info"):
            return own  # remapped explicitly
        return posixpath.join(posixpath.dirname(node.resolve_topic_name("image")), "camera_info")

    def _on_incompatible_qos(self, event) -> None:
        self._node.get_logger().warning(
            f"a publisher's QoS is incompatible with this subscription (policy {event.last_policy_kind}): "
            "no messages will arrive; set input_qos to match the publisher"
        )

    # ------------------------------------------------------------------------------ callbacks
    def _on_image(self, msg: Image, info: dict) -> None:  # two arguments: rclpy passes MessageInfo
        with self._book.lock:
            self._book.counters.frames_received += 1
            self._count_lost_locked(info)
            jump = self.matcher.add_image(stamp_ns(msg.header), msg)
            self._match_locked()
        if jump is not None:
            self._on_time_jump()
            self._node.get_logger().warning(
                f"input stamps jumped back {jump / 1e9:.3f} s (a bag replayed in a loop?): stamp caches cleared"
            )

    def _count_lost_locked(self, info: dict | None) -> None:
        """Images the middleware dropped before this callback (transport loss, queue overwritten): gaps in
        each publisher's publication sequence numbers."""
        if not info or not info.get("publication_sequence_number") or not info.get("publisher_gid"):
            return
        gid = info["publisher_gid"]
        gid = bytes(gid.get("data", b"")) if isinstance(gid, dict) else bytes(gid)
        seq = int(info["publication_sequence_number"])
        last = self._last_seq.get(gid)
        if last is not None and seq > last + 1:
            self._book.counters.images_lost += seq - last - 1
        self._last_seq[gid] = seq

    def _on_depth(self, msg: Image) -> None:
        with self._book.lock:
            self.matcher.depths.add(stamp_ns(msg.header), msg)
            self._match_locked()  # a frame may be waiting for this depth

    def _on_depth_timer(self) -> None:
        with self._book.lock:
            if self.matcher.waiting_for_depth():
                self._match_locked()

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def _on_hands(self, msg: Detection2DArray) -> None:
        with self._book.lock:
            self.matcher.hands.add(stamp_ns(msg.header), msg)

    def _on_detections(self, msg: Detection2DArray) -> None:
        with self._book.lock:
            self._book.counters.detections_received += 1
            self.matcher.add_detections(stamp_ns(msg.header), msg)
            self._match_locked()

    def _match_locked(self) -> None:
        s, counters = self._settings(), self._book.counters
        frames, unmatched = self.matcher.match(
            int(s.stamp_tolerance_sec * 1e9),
            s.use_depth,
            s.use_hand_topic,
            depth_tolerance_ns=int(s.depth_stamp_tolerance_sec * 1e9),
            depth_wait_ns=int(s.depth_wait_sec * 1e9),
            now_ns=time.monotonic_ns(),
        )
        image = self._subs.get("image")
        for t in unmatched:
            counters.detections_unmatched += 1
            if image is not None and image.publisher_count() > 0:
                # A publisher is matched, yet its image for these detections never came: lost on the way
                counters.images_missing += 1
                self._book.warn(
                    "missing",
                    f"detections stamped {t / 1e9:.3f} s: no image with that stamp arrived "
                    f"although {image.resolved_topic} has a matched publisher (images lost: QoS, "
                    "bandwidth or a publisher stamping differently); dropped",
                )
            else:
                self._book.warn(
                    "unmatched",
                    f"detections stamped {t / 1e9:.3f} s match no cached image "
                    f"(tolerance {s.stamp_tolerance_sec} s); dropped",
                )
        for frame in frames:  # the newest frame wins: one waiting for the worker is replaced
            if self._submit(frame):
                counters.frames_dropped_busy += 1

    # ------------------------------------------------------------------------------ accounting
    def counts_locked(self) -> dict[str, int]:
        """The matcher's counters and what is still waiting (call with the book's lock held)."""
        c = dict(vars(self.matcher.counts))
        c["images_waiting"] = self.matcher.images.unmatched()
        c["images_matched_again"] = self.matcher.images.matched_again
        c["detections_waiting"] = self.matcher.waiting_detections()
        c["frames_waiting_depth"] = self.matcher.waiting_for_depth()
        return c
