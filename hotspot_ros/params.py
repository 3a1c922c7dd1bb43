"""Every node parameter in one table: default, description, range, and whether it can change at run time.

``config/hotspot.yaml`` holds the same names; the node declares each with a ParameterDescriptor built
from this table, and the runtime-changeable ones are applied by its parameter callback.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Param:
    default: Any
    description: str
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    step: float | None = None
    read_only: bool = True  # True: read at configure; change it by reconfiguring the node
    choices: tuple[str, ...] = ()


PARAMS: dict[str, Param] = {
    # model and backend (read at configure)
    "model_path": Param("", "Hotspot checkpoint (.safetensors); empty: the shipped demo model"),
    "device": Param("auto", "Inference device", choices=("auto", "cpu", "cuda")),
    "backend": Param("torch", "Inference backend", choices=("torch", "onnxruntime", "tensorrt")),
    "precision": Param("auto", "Inference precision (auto: fp16 on CUDA, fp32 on CPU; int8: tensorrt/onnxruntime with calibration_path)",
                       choices=("auto", "fp32", "fp16", "bf16", "int8")),
    "top_k": Param(0, "Compute maps only for the k most likely actions (0: all actions)", 0, 64, 1),
    "onnx_path": Param("", "ONNX export for onnxruntime/tensorrt (empty: export the model into cache_dir)"),
    "cache_dir": Param("", "Where exported ONNX files and TensorRT engines are cached (empty: ~/.cache/interaction_hotspots)"),
    "calibration_path": Param("", "int8 only: .npy of normalised crops (N,3,S,S) to calibrate with"),
    "cuda_graphs": Param(False, "torch backend on CUDA: replay CUDA graphs captured for batch sizes 1, 2, 4, 8, max_objects"),
    "torch_compile": Param(False, "torch backend: torch.compile the graph at configure (slow start)"),
    "inference_threads": Param(0, "CPU threads for inference (0: the library default)", 0, 256, 1),
    "warmup_runs": Param(1, "Model runs on a blank crop at activation, so the first frame is not slow", 0, 10, 1),
    # inputs
    "input_qos": Param("sensor_data", "QoS of image/detection subscriptions", choices=("sensor_data", "reliable")),
    "use_depth": Param(False, "Subscribe to aligned depth + CameraInfo and publish 3-D peaks"),
    "use_hand_topic": Param(False, "Subscribe to a separate hand-detections topic for the contact test"),
    "image_cache_size": Param(30, "Recent images kept for stamp matching", 1, 300, 1),
    "stamp_tolerance_sec": Param(0.005, "Max stamp difference to pair detections with an image", 0.0, 1.0, read_only=False),
    "max_frame_age_sec": Param(0.0, "Drop frames whose stamp is older than this vs the node clock (0: off)", 0.0, 10.0, read_only=False),
    # object selection (changeable at run time)
    "min_detection_score": Param(0.0, "Ignore detections scoring below this", 0.0, 1.0, read_only=False),
    "object_classes": Param([""], "Only these detection classes are processed (empty string: all)", read_only=False),
    "hand_classes": Param(["hand"], "Detection classes that are hands (never processed, used for contact)", read_only=False),
    "contact_margin_px": Param(4.0, "A hand box within this many pixels of an object means contact", 0.0, 200.0, read_only=False),
    "stability_frames": Param(0, "Frames an object's box must stay put to count as at rest (0: off)", 0, 60, 1, read_only=False),
    "stability_iou": Param(0.8, "Minimum box IoU across those frames", 0.0, 1.0, read_only=False),
    "box_padding": Param(0.1, "Crop padding on each side, fraction of the box size", 0.0, 1.0, read_only=False),
    "min_box_size_px": Param(8, "Boxes smaller than this on a side after clamping are skipped", 1, 4096, 1, read_only=False),
    "max_objects": Param(16, "At most this many objects per frame (highest scores first)", 1, 256, 1, read_only=False),
    # outputs
    "overlay_threshold": Param(0.3, "Normalised map value below which the overlay is transparent", 0.0, 1.0, read_only=False),
    "marker_lifetime_sec": Param(0.5, "Lifetime of peak markers", 0.0, 60.0, read_only=False),
    "marker_default_depth_m": Param(1.0, "Without valid depth, markers sit on the peak's ray at this distance", 0.05, 100.0, read_only=False),
    "stats_period_sec": Param(5.0, "Period of the stats topic and log line", 0.1, 3600.0),
    # watching a person demonstrate an interaction (Dual Attention Network; off by default)
    "demonstration_mode": Param(False, "Recognise demonstrated interactions (action, object, attention, box) on 'demonstrations'"),
    "demonstration_model_path": Param("", "DAN checkpoint from training.train_dan (required with demonstration_mode)"),
    "demonstration_clip_frames": Param(16, "Recent frames kept as the clip", 2, 64, 1),
    "demonstration_contact_frames": Param(3, "Consecutive hand-object contact frames that start an interaction", 1, 30, 1),
    "demonstration_trigger": Param("release", "Recognise when the hand lets go, or as soon as contact starts",
                                   choices=("release", "contact")),
}


@dataclass
class NodeSettings:
    """Typed view of the parameters, rebuilt whenever they change."""

    model_path: str
    device: str
    backend: str
    precision: str
    top_k: int
    onnx_path: str
    cache_dir: str
    calibration_path: str
    cuda_graphs: bool
    torch_compile: bool
    inference_threads: int
    warmup_runs: int
    input_qos: str
    use_depth: bool
    use_hand_topic: bool
    image_cache_size: int
    stamp_tolerance_sec: float
    max_frame_age_sec: float
    min_detection_score: float
    object_classes: list[str]
    hand_classes: list[str]
    contact_margin_px: float
    stability_frames: int
    stability_iou: float
    box_padding: float
    min_box_size_px: int
    max_objects: int
    overlay_threshold: float
    marker_lifetime_sec: float
    marker_default_depth_m: float
    stats_period_sec: float
    demonstration_mode: bool
    demonstration_model_path: str
    demonstration_clip_frames: int
    demonstration_contact_frames: int
    demonstration_trigger: str

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> "NodeSettings":
        kwargs = {}
        for f in fields(cls):
            v = values[f.name]
            if f.name in ("object_classes", "hand_classes"):
                v = [c for c in v if c]
            kwargs[f.name] = v
        return cls(**kwargs)


def validate(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for parameter ``name``, or None."""
    p = PARAMS.get(name)
    if p is None:
        return None
    if p.choices and value not in p.choices:
        return f"{name} must be one of {list(p.choices)}, got {value!r}"
    if p.low is not None and isinstance(value, (int, float)) and not p.low <= value <= p.high:
        return f"{name} must be in [{p.low}, {p.high}], got {value!r}"
    return None


assert set(PARAMS) == {f.name for f in fields(NodeSettings)}, "PARAMS and NodeSettings must list the same names"
