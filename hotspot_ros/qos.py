"""Input subscriptions whose QoS follows the publishers (``input_qos: auto``), as rosbag2 records.

With ``auto`` a subscription is created once the topic has publishers: reliable only when every
publisher offers reliable, transient-local only when every one offers it (a subscription asking more
than a publisher offers never matches it), so a reliable camera driver gets a reliable subscription
(no large image lost on the way) and a best-effort one a best-effort subscription. The choice is
logged. ``sensor_data`` (best effort) and ``reliable`` are fixed profiles, created at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

INPUT_QOS_CHOICES = ("auto", "sensor_data", "reliable")
POLL_PERIOD_S = 0.2  # how often ``auto`` looks for the first publishers of a topic


def fixed_profile(choice: str, depth: int) -> QoSProfile:
    reliability = ReliabilityPolicy.RELIABLE if choice == "reliable" else ReliabilityPolicy.BEST_EFFORT
    return QoSProfile(depth=depth, reliability=reliability, durability=DurabilityPolicy.VOLATILE)


def profile_for_publishers(offered: Sequence[QoSProfile], depth: int) -> tuple[QoSProfile, str]:
    """The profile matching every offered one (rosbag2's rule), and a short description of the choice."""
    reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
    latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
    profile = QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )
    kinds = sorted({f"{q.reliability.name.lower()}/{q.durability.name.lower()}" for q in offered})
    why = (
        f"{'reliable' if reliable else 'best_effort'}, {'transient_local' if latched else 'volatile'} "
        f"(matching {len(offered)} publisher(s): {', '.join(kinds)})"
    )
    return profile, why


class InputSubscription:
    """One input topic's subscription: now (fixed QoS) or when the first publishers appear (``auto``)."""

    def __init__(
        self,
        node: Any,
        msg_type: type,
        topic: str,
        callback: Callable,
        choice: str,
        depth: int,
        event_callbacks: Any = None,
    ) -> None:
        self._node, self._type, self._topic, self._callback = node, msg_type, topic, callback
        self._depth, self._events = depth, event_callbacks
        self.subscription = None
        self.profile: QoSProfile | None = None
        self._timer = None
        if choice == "auto":
            self._timer = node.create_timer(POLL_PERIOD_S, self._poll)
            self._poll()
        else:
            self._create(fixed_profile(choice, depth))

    @property
    def resolved_topic(self) -> str:
        return self._node.resolve_topic_name(self._topic)

    def publisher_count(self) -> int:
        return self.subscription.get_publisher_count() if self.subscription is not None else 0

    def _poll(self) -> None:
        infos = self._node.get_publishers_info_by_topic(self.resolved_topic)
        if not infos or self.subscription is not None:
            return
        profile, why = profile_for_publishers([i.qos_profile for i in infos], self._depth)
        self._create(profile)
        self._node.get_logger().info(f"input_qos auto: {self.resolved_topic}: {why}")
        self._cancel_timer()

    def _create(self, profile: QoSProfile) -> None:
        self.profile = profile
        self.subscription = self._node.create_subscription(
            self._type, self._topic, self._callback, profile, event_callbacks=self._events
        )

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None

    def destroy(self) -> None:
        self._cancel_timer()
        if self.subscription is not None:
            self._node.destroy_subscription(self.subscription)
            self.subscription = None
