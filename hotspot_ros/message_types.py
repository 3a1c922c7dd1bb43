"""Message classes by their ROS type names (``sensor_msgs/msg/Image``), as bags and the ROS graph name them."""

from __future__ import annotations

import importlib


def message_class(type_name: str) -> type:
    """The installed rclpy message class of ``pkg/msg/Name``. ValueError for a name of another form,
    ImportError / AttributeError when the package or the message is not installed."""
    parts = type_name.split("/")
    if len(parts) != 3 or parts[1] != "msg" or not all(parts):
        raise ValueError(f"{type_name!r} is not a message type name (package/msg/Name)")
    return getattr(importlib.import_module(f"{parts[0]}.msg"), parts[2])
