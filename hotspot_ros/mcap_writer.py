"""Write live rclpy messages into a rosbag2-compatible MCAP file (profile ros2, ros2msg schemas, CDR).

rosbag2 is not on PyPI; the ``mcap`` package writes the container and rclpy serialises the messages, so
the bytes are exactly what went over the wire. Schemas are the installed .msg definitions with their
dependencies appended, as rosbag2 stores them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from mcap.writer import CompressionType, Writer
from rclpy.serialization import serialize_message

PRIMITIVES = {
    "bool",
    "byte",
    "char",
    "float32",
    "float64",
    "int8",
    "uint8",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "string",
    "wstring",
}
SEPARATOR = "=" * 80


def _find_msg_file(package: str, name: str) -> Path:
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        path = Path(prefix) / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no definition of {package}/msg/{name} under AMENT_PREFIX_PATH")


def _dependencies(text: str, package: str) -> list[tuple[str, str]]:
    deps = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or "=" in line.split()[0]:
            continue
        field_type = re.sub(r"\[.*\]$", "", line.split()[0])
        field_type = re.sub(r"<=\d+$", "", field_type)
        if field_type in PRIMITIVES or re.match(r"^(w?string)<=", field_type):
            continue
        if "/" in field_type:
            pkg, name = field_type.split("/")[0], field_type.split("/")[-1]
        elif field_type == "Header":
            pkg, name = "std_msgs", "Header"
        else:
            pkg, name = package, field_type
        deps.append((pkg, name))
    return deps


def message_definition(type_name: str) -> str:
    """The full ros2msg text of ``pkg/msg/Name``: its .msg file then every dependency once."""
    package, _, name = type_name.split("/")
    text = _find_msg_file(package, name).read_text()
    parts, seen = [text.rstrip("\n")], set()
    queue = _dependencies(text, package)
    while queue:
        pkg, dep = queue.pop(0)
        if (pkg, dep) in seen:
            continue
        seen.add((pkg, dep))
        dep_text = _find_msg_file(pkg, dep).read_text()
        parts.append(f"{SEPARATOR}\nMSG: {pkg}/{dep}\n{dep_text.rstrip(chr(10))}")
        queue.extend(_dependencies(dep_text, pkg))
    return "\n".join(parts) + "\n"


def type_name_of(msg) -> str:
    module = type(msg).__module__.split(".")  # e.g. interaction_hotspots.msg._hotspot_array
    return f"{module[0]}/msg/{type(msg).__name__}"


class McapRecorder:
    """Append rclpy messages per topic; ``close`` finishes the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self._file = open(path, "wb")
        self._writer = Writer(self._file, compression=CompressionType.ZSTD)
        self._writer.start(profile="ros2", library="interaction_hotspots")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self.counts: dict[str, int] = {}

    def write(self, topic: str, msg, log_time_ns: int) -> None:
        type_name = type_name_of(msg)
        if type_name not in self._schemas:
            self._schemas[type_name] = self._writer.register_schema(
                name=type_name, encoding="ros2msg", data=message_definition(type_name).encode()
            )
        if topic not in self._channels:
            self._channels[topic] = self._writer.register_channel(
                topic=topic, message_encoding="cdr", schema_id=self._schemas[type_name]
            )
        stamp = getattr(getattr(msg, "header", None), "stamp", None)
        publish_ns = stamp.sec * 1_000_000_000 + stamp.nanosec if stamp is not None else log_time_ns
        self._writer.add_message(
            self._channels[topic],
            log_time=log_time_ns,
            data=serialize_message(msg),
            publish_time=publish_ns,
            sequence=self.counts.get(topic, 0),
        )
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def close(self) -> None:
        self._writer.finish()
        self._file.close()
