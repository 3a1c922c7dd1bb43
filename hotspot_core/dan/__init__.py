"""The Dual Attention Network (action/object dual attention, weak localisation) and its demonstration mode."""

from hotspot_core.dan.checkpoint import load_dan_checkpoint, read_dan_metadata, save_dan
from hotspot_core.dan.config import DANConfig
from hotspot_core.dan.model import DualAttentionNetwork

__all__ = ["DANConfig", "DualAttentionNetwork", "load_dan_checkpoint", "read_dan_metadata", "save_dan"]
