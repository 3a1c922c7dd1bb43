"""Compatibility path: the hotspot model now lives in ``hotspot_core.hotspots`` (kept for users and docs)."""

from hotspot_core.hotspots.checkpoint import load_model
from hotspot_core.hotspots.config import ModelConfig
from hotspot_core.hotspots.model import HOTSPOT_METHODS, HotspotModel, build_model

__all__ = ["HOTSPOT_METHODS", "HotspotModel", "ModelConfig", "build_model", "load_model"]
