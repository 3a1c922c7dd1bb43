"""Moved to ``hotspot_core.dan.demonstration`` (it is ROS-free); this name keeps old imports working."""

from hotspot_core.dan.demonstration import (  # noqa: F401
    TRIGGERS,
    Box,
    DemonstrationRecognizer,
    DemonstrationResult,
    DemonstrationSettings,
    demonstration_inputs,
    touching,
)
