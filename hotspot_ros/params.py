"""Every node parameter in one table: default, description, range, and whether it can change at run time.

``config/hotspot.yaml`` holds the same names; the node declares each with a ParameterDescriptor built
from this table, and the runtime-changeable ones are applied by its parameter callback.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from hotspot_core.dan.demonstration import DemonstrationSettings
from hotspot_core.frame import FrameConfig, InferenceConfig
from hotspot_core.reuse import ReuseConfig


@dataclass(frozen=True)
class Param:
    default: Any
    description: str
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    step: float | None = None
    read_only: bool = True  # True: read at configure; change it by reconfiguring the node
    choices: tuple[str, ...] = ()


_REUSE = ReuseConfig()  # the reuse parameters' defaults are the core's, so the two cannot drift apart

PARAMS: dict[str, Param] = {
    # model and backend (read at configure)
    "model_path": Param(
        "",
        "Hotspot checkpoint (.safetensors); empty: the shipped demo model. Changeable at run time: the file's "
        "header is checked (a bad file is refused with the reason), the model loads in the background while the "
        "old one serves, and is swapped in between frames (a load that fails sets this back)",
        read_only=False,
    ),
    # device and backend stay read at configure: a change may mean an engine build or export (minutes)
    "device": Param("auto", "Inference device (only model_path reloads at run time)", choices=("auto", "cpu", "cuda")),
    "backend": Param(
        "torch",
        "Inference backend (only model_path reloads at run time)",
        choices=("torch", "onnxruntime", "tensorrt"),
    ),
    "precision": Param(
        "auto",
        "Inference precision (auto: fp16 on CUDA, fp32 on CPU; int8: tensorrt/onnxruntime with calibration_path)",
        choices=("auto", "fp32", "fp16", "bf16", "int8"),
    ),
    "top_k": Param(0, "Compute maps only for the k most likely actions (0: all actions)", 0, 64, 1),
    "onnx_path": Param("", "ONNX export for onnxruntime/tensorrt (empty: export the model into cache_dir)"),
    "cache_dir": Param(
        "", "Where exported ONNX files and TensorRT engines are cached (empty: ~/.cache/interaction_hotspots)"
    ),
    "calibration_path": Param("", "int8 only: .npy of normalised crops (N,3,S,S) to calibrate with"),
    "cuda_graphs": Param(
        False, "torch backend on CUDA: replay CUDA graphs captured for batch sizes 1, 2, 4, 8, max_objects"
    ),
    "torch_compile": Param(False, "torch backend: torch.compile the graph at configure (slow start)"),
    "inference_threads": Param(0, "CPU threads for inference (0: the library default)", 0, 256, 1),
    "warmup_runs": Param(1, "Model runs on a blank crop at activation, so the first frame is not slow", 0, 10, 1),
    # inputs
    "input_qos": Param(
        "auto",
        "QoS of the input subscriptions: auto matches the publishers' reliability and durability "
        "(as rosbag2 does, logged), sensor_data is best effort, reliable is reliable",
        choices=("auto", "sensor_data", "reliable"),
    ),
    "use_depth": Param(
        False,
        "Subscribe to the aligned depth image and publish 3-D peaks (camera_info is always "
        "subscribed: without depth, markers sit on the peak ray at marker_default_depth_m)",
    ),
    "depth_stamp_tolerance_sec": Param(
        0.02,
        "Max stamp difference to pair a depth image with the colour frame (the closest wins; aligned depth "
        "carries the depth sensor's stamp, a few ms off the colour one unless the camera syncs them)",
        0.0,
        1.0,
        read_only=False,
    ),
    "depth_wait_sec": Param(
        0.1,
        "use_depth: how long a frame whose depth has not arrived yet waits for it (depth is published after "
        "its colour frame); it goes on without depth (counted: depth_missing) at once when a later depth has "
        "arrived, else after this long (0: never wait)",
        0.0,
        2.0,
        read_only=False,
    ),
    "use_hand_topic": Param(False, "Subscribe to a separate hand-detections topic for the contact test"),
    "image_cache_size": Param(30, "Recent images kept for stamp matching", 1, 300, 1),
    "stamp_tolerance_sec": Param(
        0.005, "Max stamp difference to pair detections with an image", 0.0, 1.0, read_only=False
    ),
    "max_frame_age_sec": Param(
        0.0, "Drop frames whose stamp is older than this vs the node clock (0: off)", 0.0, 10.0, read_only=False
    ),
    # object selection (changeable at run time)
    "min_detection_score": Param(0.0, "Ignore detections scoring below this", 0.0, 1.0, read_only=False),
    "object_classes": Param([""], "Only these detection classes are processed (empty string: all)", read_only=False),
    "hand_classes": Param(
        ["hand"], "Detection classes that are hands (never processed, used for contact)", read_only=False
    ),
    "contact_margin_px": Param(
        4.0, "A hand box within this many pixels of an object means contact", 0.0, 200.0, read_only=False
    ),
    "stability_frames": Param(
        0, "Frames an object's box must stay put to count as at rest (0: off)", 0, 60, 1, read_only=False
    ),
    "stability_iou": Param(0.8, "Minimum box IoU across those frames", 0.0, 1.0, read_only=False),
    "box_padding": Param(0.1, "Crop padding on each side, fraction of the box size", 0.0, 1.0, read_only=False),
    "min_box_size_px": Param(
        8, "Boxes smaller than this on a side after clamping are skipped", 1, 4096, 1, read_only=False
    ),
    "max_objects": Param(16, "At most this many objects per frame (highest scores first)", 1, 256, 1, read_only=False),
    # result reuse (hotspot_core/reuse.py; changeable at run time)
    "reuse_results": Param(
        _REUSE.enabled,
        "Reuse an object's hotspots while the pixels it was computed on stay the same (false: run the "
        "model on every object of every frame)",
        read_only=False,
    ),
    "reuse_min_box_iou": Param(
        _REUSE.min_box_iou,
        "A detection is a remembered object when its box overlaps the remembered box by this IoU "
        "(tolerance for detector jitter; whether the object changed is decided by its pixels)",
        0.01,
        1.0,
        read_only=False,
    ),
    "reuse_max_difference": Param(
        _REUSE.max_difference,
        "Reuse only while no cell of the downsampled crop, taken where the result was computed, differs by more "
        "than this many grey levels (0-255)",
        0.0,
        255.0,
        read_only=False,
    ),
    "reuse_fingerprint_size": Param(
        _REUSE.fingerprint_size, "Cells per side of the downsampled crop compared for reuse", 1, 64, 1, read_only=False
    ),
    "reuse_expire_sec": Param(
        _REUSE.expire_sec,
        "Forget an object's result when it has not been seen for this long",
        0.0,
        60.0,
        read_only=False,
    ),
    "reuse_max_age_sec": Param(
        _REUSE.max_age_sec,
        "Recompute a reused result this old even if its crop looks unchanged (0: never)",
        0.0,
        3600.0,
        read_only=False,
    ),
    "reuse_max_entries": Param(
        _REUSE.max_entries, "Objects whose results are remembered at most", 1, 4096, 1, read_only=False
    ),
    # outputs
    "overlay_top_k": Param(
        1,
        "Overlay: actions drawn per object, most likely first, each as a blob on the part to "
        "touch (0: every action that has a map)",
        0,
        64,
        1,
        read_only=False,
    ),
    "overlay_threshold": Param(
        0.5,
        "Overlay: a blob is the region of the action's map at or above this fraction of its peak",
        0.0,
        1.0,
        read_only=False,
    ),
    "marker_lifetime_sec": Param(0.5, "Lifetime of peak markers", 0.0, 60.0, read_only=False),
    "marker_default_depth_m": Param(
        1.0, "Without valid depth, markers sit on the peak's ray at this distance", 0.05, 100.0, read_only=False
    ),
    "normal_radius_px": Param(
        5,
        "Surface normal at a peak: plane fitted to the depth pixels within this many pixels of it",
        1,
        50,
        1,
        read_only=False,
    ),
    "normal_max_residual_m": Param(
        0.01,
        "A peak's normal is valid only while the depth points' RMS distance from the fitted plane is at most this",
        0.0,
        1.0,
        read_only=False,
    ),
    "points_threshold": Param(
        0.5,
        "hotspots/points: a map's region in 3-D is its pixels at or above this fraction of the map's maximum",
        0.01,
        1.0,
        read_only=False,
    ),
    "points_max_per_map": Param(
        500,
        "hotspots/points: at most this many points per object and action (evenly spaced over the region)",
        1,
        100000,
        1,
        read_only=False,
    ),
    "stats_period_sec": Param(5.0, "Period of the stats topic and log line", 0.1, 3600.0),
    # watching a person demonstrate an interaction (Dual Attention Network; off by default)
    "demonstration_mode": Param(
        False, "Recognise demonstrated interactions (action, object, attention, box) on 'demonstrations'"
    ),
    "demonstration_model_path": Param("", "DAN checkpoint from training.dan.train (required with demonstration_mode)"),
    "demonstration_clip_frames": Param(16, "Recent frames kept as the clip", 2, 64, 1),
    "demonstration_contact_frames": Param(
        3, "Consecutive hand-object contact frames that start an interaction", 1, 30, 1
    ),
    "demonstration_trigger": Param(
        "release", "Recognise when the hand lets go, or as soon as contact starts", choices=("release", "contact")
    ),
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
    depth_stamp_tolerance_sec: float
    depth_wait_sec: float
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
    overlay_top_k: int
    reuse_results: bool
    reuse_min_box_iou: float
    reuse_max_difference: float
    reuse_fingerprint_size: int
    reuse_expire_sec: float
    reuse_max_age_sec: float
    reuse_max_entries: int
    overlay_threshold: float
    marker_lifetime_sec: float
    marker_default_depth_m: float
    normal_radius_px: int
    normal_max_residual_m: float
    points_threshold: float
    points_max_per_map: int
    stats_period_sec: float
    demonstration_mode: bool
    demonstration_model_path: str
    demonstration_clip_frames: int
    demonstration_contact_frames: int
    demonstration_trigger: str

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> NodeSettings:
        kwargs = {}
        for f in fields(cls):
            v = values[f.name]
            if f.name in ("object_classes", "hand_classes"):
                v = [c for c in v if c]
            kwargs[f.name] = v
        return cls(**kwargs)

    def frame_config(self) -> FrameConfig:
        """The per-frame rules of the core pipeline (changeable at run time)."""
        return FrameConfig(
            min_detection_score=self.min_detection_score,
            object_classes=tuple(self.object_classes),
            hand_classes=tuple(self.hand_classes),
            contact_margin_px=self.contact_margin_px,
            stability_frames=self.stability_frames,
            stability_iou=self.stability_iou,
            box_padding=self.box_padding,
            min_box_size_px=self.min_box_size_px,
            max_objects=self.max_objects,
            marker_default_depth_m=self.marker_default_depth_m,
            normal_radius_px=self.normal_radius_px,
            normal_max_residual_m=self.normal_max_residual_m,
            reuse=ReuseConfig(
                enabled=self.reuse_results,
                min_box_iou=self.reuse_min_box_iou,
                max_difference=self.reuse_max_difference,
                fingerprint_size=self.reuse_fingerprint_size,
                expire_sec=self.reuse_expire_sec,
                max_age_sec=self.reuse_max_age_sec,
                max_entries=self.reuse_max_entries,
            ),
        )

    def inference_config(self) -> InferenceConfig:
        return InferenceConfig(
            model_path=self.model_path,
            device=self.device,
            backend=self.backend,
            precision=self.precision,
            top_k=self.top_k,
            onnx_path=self.onnx_path,
            cache_dir=self.cache_dir,
            calibration_path=self.calibration_path,
            cuda_graphs=self.cuda_graphs,
            torch_compile=self.torch_compile,
            threads=self.inference_threads,
            max_objects=self.max_objects,
        )

    def demonstration_settings(self) -> DemonstrationSettings:
        return DemonstrationSettings(
            clip_frames=self.demonstration_clip_frames,
            contact_frames=self.demonstration_contact_frames,
            trigger=self.demonstration_trigger,
            contact_margin_px=self.contact_margin_px,
        )


def apply_changes(values: dict[str, Any], changes: dict[str, Any]) -> tuple[NodeSettings | None, str, list[str]]:
    """Settings after parameter ``changes`` to the current ``values``: (settings, "", names that take
    effect only at the next configure), or (None, why, []) when a change is not acceptable."""
    for name, value in changes.items():
        why = validate(name, value)
        if why:
            return None, why, []
    known = {n: v for n, v in changes.items() if n in PARAMS}
    later = [n for n in known if PARAMS[n].read_only]
    return NodeSettings.from_values({**values, **known}), "", later


def descriptor(name: str):
    """The rcl_interfaces ParameterDescriptor of parameter ``name`` (description, range, choices)."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

    p = PARAMS[name]
    d = ParameterDescriptor(description=p.description, read_only=False)
    if p.choices:
        d.additional_constraints = "one of: " + ", ".join(p.choices)
    if p.read_only:
        d.additional_constraints = (d.additional_constraints + "; " if d.additional_constraints else "") + (
            "read at configure: reconfigure the node to apply a change"
        )
    if p.low is not None:
        if isinstance(p.default, int) and not isinstance(p.default, bool):
            d.integer_range = [IntegerRange(from_value=int(p.low), to_value=int(p.high), step=int(p.step or 1))]
        else:
            d.floating_point_range = [FloatingPointRange(from_value=float(p.low), to_value=float(p.high), step=0.0)]
    return d


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
