"""The paper's model: config, model, Eq. 4 maps (analytic / autograd / loop), losses, FLOPs, checkpoints,
and the importer of the authors' checkpoints."""

from hotspot_core.hotspots.checkpoint import load_checkpoint, load_model, read_metadata, save_checkpoint
from hotspot_core.hotspots.config import ModelConfig
from hotspot_core.hotspots.model import HOTSPOT_METHODS, HotspotModel, build_model

__all__ = [
    "HOTSPOT_METHODS",
    "HotspotModel",
    "ModelConfig",
    "build_model",
    "load_checkpoint",
    "load_model",
    "read_metadata",
    "save_checkpoint",
]
