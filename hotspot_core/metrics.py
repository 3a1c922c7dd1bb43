"""Compatibility path: the metrics now live in ``hotspot_core.eval.metrics`` (kept for users and docs)."""

from hotspot_core.eval.metrics import *  # noqa: F401,F403
from hotspot_core.eval.metrics import __all__  # noqa: F401
