"""One error root for the core: every failure the core raises on purpose is a ``HotspotError``.

Front ends (the ROS node, the CLIs) catch ``HotspotError`` once instead of a tuple of unrelated types.
Each specific error also keeps the built-in base it always had (ValueError / RuntimeError), so callers
that caught those still work.
"""

from __future__ import annotations

__all__ = ["HotspotError", "ConfigError", "CheckpointError", "BackboneWeightsError", "BackendError"]


class HotspotError(Exception):
    """Root of the errors raised by hotspot_core."""


class ConfigError(HotspotError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


class CheckpointError(HotspotError, RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its config."""


class BackboneWeightsError(HotspotError, RuntimeError):
    """Backbone weights are missing, unreadable or do not fit the backbone."""


class BackendError(HotspotError, RuntimeError):
    """A backend is unknown, not installed, or cannot run with the requested options."""
