"""Image + boxes -> per-object, per-action hotspots. The one entry point any front end calls.

The ROS node, the CLI and bag replay all use ``HotspotPredictor``; nothing here knows about ROS.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from hotspot_core.backends import BackendOptions, InferenceBackend, create_backend
from hotspot_core.hotspots.model import HotspotModel
from hotspot_core.image.boxes import Roi
from hotspot_core.image.postprocess import normalise_maps, peaks_in_image
from hotspot_core.image.preprocess import crop_resize, to_input_batch

__all__ = ["HotspotPredictor", "ObjectHotspots", "StageTimes", "resolve_device"]


@dataclass
class ObjectHotspots:
    """Hotspots of one object crop."""

    roi: Roi
    scores: np.ndarray  # (A,) softmax probabilities in model action order
    action_indices: np.ndarray  # (K,) which actions have maps
    maps: np.ndarray  # (K,h,w) max-normalised to [0,1]
    map_max: np.ndarray  # (K,) raw Eq. 4 maximum before normalisation
    peaks: np.ndarray  # (K,3) u, v (source-image pixels), normalised value


@dataclass
class StageTimes:
    """Seconds spent in each stage of the last ``predict`` call."""

    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without a GPU is an error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA GPU is available (use 'auto' or 'cpu')")
    return device


class HotspotPredictor:
    """Runs a ``HotspotModel`` on all object crops of a frame in one batched call.

    backend: 'torch' (default), 'onnxruntime' or 'tensorrt' (see ``hotspot_core.backends``), with
    ``backend_options`` (a ``BackendOptions`` or a mapping of its fields: precision, onnx_path, ...).
    ``device`` is where the backend runs; ``self.device`` is where it wants its input batch.
    """

    def __init__(
        self,
        model: HotspotModel,
        device: str = "auto",
        top_k: int | None = None,
        backend: str = "torch",
        backend_options: BackendOptions | Mapping[str, Any] | None = None,
    ) -> None:
        requested = resolve_device(device)
        self.model = model.to(requested).eval()
        self.backend: InferenceBackend = create_backend(backend, self.model, requested, top_k, backend_options)
        if backend != "torch" and requested.type == "cuda":
            self.model.cpu()  # only its config is used from here on; the engine holds its own weights
        self.device = self.backend.device
        self.times = StageTimes()

    @property
    def actions(self) -> tuple[str, ...]:
        return self.model.actions

    @property
    def input_size(self) -> int:
        return self.model.config.input_size

    @property
    def map_size(self) -> int:
        return self.model.config.feature_size

    def predict(self, image_rgb: np.ndarray, rois: Sequence[Roi]) -> list[ObjectHotspots]:
        """Hotspots for each ROI (already padded and clamped) of an HxWx3 uint8 RGB image."""
        if not rois:
            self.times = StageTimes()
            return []
        t0 = time.perf_counter()
        cfg = self.model.config
        crops = [crop_resize(image_rgb, roi, cfg.input_size) for roi in rois]
        batch = to_input_batch(crops, cfg.mean, cfg.std, self.device)
        t1 = time.perf_counter()
        with torch.inference_mode():
            logits, idx_np, maps_np = self.backend.run(batch).numpy()
        scores = _softmax(logits)
        t2 = time.perf_counter()
        results = []
        for i, roi in enumerate(rois):
            normed, maxima = normalise_maps(maps_np[i])
            results.append(
                ObjectHotspots(roi, scores[i], idx_np[i].astype(np.int64), normed, maxima, peaks_in_image(normed, roi))
            )
        t3 = time.perf_counter()
        self.times = StageTimes(t1 - t0, t2 - t1, t3 - t2)
        return results


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
