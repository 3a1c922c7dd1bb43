"""Write live rclpy messages into a rosbag2-compatible MCAP file (profile ros2, ros2msg schemas, CDR).

rosbag2 is not on PyPI; the ``mcap`` package writes the container and rclpy serialises the messages, so
the bytes are exactly what went over the wire. Schemas are the installed .msg definitions with their
dependencies appended, as rosbag2 stores them (``hotspot_core.ros2msg``, shared with the synthetic scene).
"""

from __future__ import annotations

import os
from pathlib import Path

from mcap.writer import CompressionType, Writer
from rclpy.serialization import serialize_message

from hotspot_core.ros2msg import message_definition


def type_name_of(msg) -> str:
    module = type(msg).__module__.split(".")  # e.g. interaction_hotspots.msg._hotspot_array
    return f"{module[0]}/msg/{type(msg).__name__}"


class McapRecorder:
    """Append rclpy messages per topic; ``close`` finishes the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._file = open(path, "wb")
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="interaction_hotspots")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def write(self, topic: str, msg, log_time_ns: int) -> None:
        stamp = getattr(getattr(msg, "header", None), "stamp", None)
        publish_ns = stamp.sec * 1_000_000_000 + stamp.nanosec if stamp is not None else log_time_ns
        self.write_serialized(topic, type_name_of(msg), serialize_message(msg), log_time_ns, publish_ns)

    def write_serialized(
        self, topic: str, type_name: str, data: bytes, log_time_ns: int, publish_time_ns: int | None = None
    ) -> None:
        """Append a message already in CDR (as a raw subscription receives it) of type ``type_name``
        (``pkg/msg/Name``, installed here: its schema is read from its .msg file)."""
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                name=type_name, encoding="ros2msg", data=message_definition(type_name).encode()
            )
        if topic not in self._channels:
            self._channels[topic] = self._writer.register_channel(
                topic=topic, message_encoding="cdr", schema_id=self._schemas[type_name]
            )
        self._writer.add_message(
            self._channels[topic],
            log_time=log_time_ns,
            data=bytes(data),
            publish_time=log_time_ns if publish_time_ns is None else publish_time_ns,
            sequence=self.counts.get(topic, 0),
        )
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self) -> None:
        self._writer.finish()
        self._file.close()
