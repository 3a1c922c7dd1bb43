"""rosbag2's ``ros2msg`` schema text of a message type, from the installed ``.msg`` files (text only, no ROS).

An MCAP file with profile ``ros2`` stores, per message type, its ``.msg`` definition followed by every
dependency once (``====`` separator, ``MSG: pkg/Name`` line), as rosbag2 writes them. The live recorder
(``hotspot_ros.mcap_writer``) and the synthetic demonstration scene (``training.demonstrations``) both
build their schemas here, so their bags read the same way.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

__all__ = ["PRIMITIVES", "SEPARATOR", "find_msg_file", "message_definition"]

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


def _prefixes() -> list[Path]:
    # AMENT_PREFIX_PATH first (a sourced ROS install); then this interpreter's prefix, where the ROS PyPI
    # wheels put share/<pkg>/msg, so a venv works without the variable set.
    found = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    return found + [Path(sys.prefix)]


def find_msg_file(package: str, name: str) -> Path:
    """The installed ``share/<package>/msg/<name>.msg``."""
    for prefix in _prefixes():
        path = prefix / "share" / package / "msg" / f"{name}.msg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no definition of {package}/msg/{name} under AMENT_PREFIX_PATH or {sys.prefix}")


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
    text = find_msg_file(package, name).read_text()
    parts, seen = [text.rstrip("\n")], set()
    queue = _dependencies(text, package)
    while queue:
        pkg, dep = queue.pop(0)
        if (pkg, dep) in seen:
            continue
        seen.add((pkg, dep))
        dep_text = find_msg_file(pkg, dep).read_text()
        parts.append(f"{SEPARATOR}\nMSG: {pkg}/{dep}\n{dep_text.rstrip(chr(10))}")
        queue.extend(_dependencies(dep_text, pkg))
    return "\n".join(parts) + "\n"
