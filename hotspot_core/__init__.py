"""Interaction hotspots core: the models, hotspot maps, inference backends, image geometry and metrics.

No ROS imports anywhere below this package. The entrance for a front end (ROS node, CLI, bag replay) is
``FramePipeline`` (one frame's image + detections -> objects at rest -> hotspots -> 3-D peaks), built on
``HotspotPredictor`` (image + ROIs -> per-object hotspots); the layout:

    hotspots/  the paper's model: config, model, Eq. 4 maps, losses, FLOPs, checkpoints, importer
    dan/       the Dual Attention Network and its demonstration mode
    backends/  torch / onnxruntime / tensorrt inference, ONNX export and graph passes
    image/     boxes, preprocessing, postprocessing, 3-D geometry, overlays, object selection
    eval/      ground-truth heatmaps and metrics (offline only)
    frame.py (FramePipeline), predictor.py, weights.py, config.py, backbones.py, errors.py

Names are imported on first use, so ``import hotspot_core.image.boxes`` stays light (no torch).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS = {
    "HotspotError": "hotspot_core.errors",
    "ConfigError": "hotspot_core.errors",
    "CheckpointError": "hotspot_core.errors",
    "BackboneWeightsError": "hotspot_core.errors",
    "BackendError": "hotspot_core.errors",
    "ModelConfig": "hotspot_core.hotspots.config",
    "HotspotModel": "hotspot_core.hotspots.model",
    "build_model": "hotspot_core.hotspots.model",
    "load_model": "hotspot_core.hotspots.checkpoint",
    "save_checkpoint": "hotspot_core.hotspots.checkpoint",
    "HotspotPredictor": "hotspot_core.predictor",
    "FramePipeline": "hotspot_core.frame",
    "FrameConfig": "hotspot_core.frame",
    "InferenceConfig": "hotspot_core.frame",
    "ReuseConfig": "hotspot_core.reuse",
    "Detection": "hotspot_core.image.selection",
    "ObjectHotspots": "hotspot_core.predictor",
    "DANConfig": "hotspot_core.dan.config",
    "create_backend": "hotspot_core.backends",
    "demo_model_path": "hotspot_core.demo_model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hotspot_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # cache: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
