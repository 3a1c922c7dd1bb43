"""The ROS-free frame pipeline: one frame's image + detections -> objects at rest -> hotspots -> 3-D peaks.

Any front end (the ROS node, a CLI, a bag replay) decodes its inputs into numpy arrays and ``Detection``
lists, makes one ``FramePipeline.process`` call per frame, and encodes the returned ``FrameResult``:

1. selection: hands are split off (by class, or all of a separate hand detector's output); objects below
   the score threshold or of other classes are filtered; objects a hand touches are skipped; objects not
   at rest (``StabilityFilter``) are skipped; boxes are padded and clamped, degenerate ones counted;
   the highest-scoring ``max_objects`` remain;
2. the predictor runs on all remaining crops in one batch;
   (objects whose pixels have not changed since their last computation reuse that result instead, on the
   crop box it was computed on: see ``hotspot_core.reuse``);
3. with intrinsics (and an aligned depth image in metres), each map's peak becomes a 3-D point.

``process`` does it all; a front end that must not wait for the model splits it: ``prepare`` (selection and
reuse look-up, cheap) and ``complete`` (the model on the objects that need it, then 3-D), so a frame whose
objects are all reused is finished without touching the model while another frame's inference runs.

Optionally a ``DemonstrationRecognizer`` is fed every frame (the node's demonstration mode).
Nothing here knows about ROS; counts and warnings come back in the result for the front end to report.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from hotspot_core.dan.demonstration import (
    DemonstrationRecognizer,
    DemonstrationResult,
    DemonstrationSettings,
    demonstration_inputs,
)
from hotspot_core.demo_model import demo_dan_path
from hotspot_core.errors import ConfigError
from hotspot_core.image.boxes import Roi, pad_and_clamp
from hotspot_core.image.geometry import SurfaceNormal, deproject, depth_at, surface_normal, valid_intrinsics
from hotspot_core.image.selection import Detection, StabilityFilter, in_contact, split_hands
from hotspot_core.predictor import HotspotPredictor, ObjectHotspots
from hotspot_core.reuse import ResultCache, ReuseConfig, Reused

__all__ = [
    "Detection",
    "FrameConfig",
    "InferenceConfig",
    "FrameCounts",
    "FrameTimes",
    "FrameObject",
    "FrameResult",
    "FramePipeline",
    "PreparedFrame",
    "ReuseConfig",
    "cuda_graph_batch_sizes",
    "load_predictor",
]

Point3 = tuple[float, float, float]
CUDA_GRAPH_BATCHES = (1, 2, 4, 8)  # captured besides max_objects: the usual crop counts of a frame


@dataclass(frozen=True)
class FrameConfig:
    """Per-frame rules; every field can change between frames (``FramePipeline.configure``)."""

    min_detection_score: float = 0.0  # ignore detections scoring below this
    object_classes: tuple[str, ...] = ()  # only these classes are processed (empty: all)
    hand_classes: tuple[str, ...] = ("hand",)  # classes that are hands (used for contact, never processed)
    contact_margin_px: float = 4.0  # a hand box within this many pixels of an object means contact
    stability_frames: int = 0  # frames an object's box must stay put to count as at rest (0: off)
    stability_iou: float = 0.8  # minimum box IoU across those frames
    box_padding: float = 0.1  # crop padding on each side, fraction of the box size
    min_box_size_px: int = 8  # boxes smaller than this on a side after clamping are skipped
    max_objects: int = 16  # at most this many objects per frame (highest scores first)
    marker_default_depth_m: float = 1.0  # without valid depth, markers sit on the peak's ray at this distance
    normal_radius_px: int = 5  # surface normal at a peak: plane fitted to the (2r+1)^2 depth pixels around it
    normal_max_residual_m: float = 0.01  # ... trusted only while the points' RMS distance from it is at most this
    reuse: ReuseConfig = field(default_factory=ReuseConfig)  # result reuse for unchanged objects

    def __post_init__(self) -> None:
        object.__setattr__(self, "object_classes", tuple(c for c in self.object_classes if c))
        object.__setattr__(self, "hand_classes", tuple(c for c in self.hand_classes if c))
        checks = [
            ("min_detection_score", 0.0 <= self.min_detection_score <= 1.0, "in [0, 1]"),
            ("contact_margin_px", self.contact_margin_px >= 0, ">= 0"),
            ("stability_frames", self.stability_frames >= 0, ">= 0"),
            ("stability_iou", 0.0 <= self.stability_iou <= 1.0, "in [0, 1]"),
            ("box_padding", self.box_padding >= 0, ">= 0"),
            ("min_box_size_px", self.min_box_size_px >= 1, ">= 1"),
            ("max_objects", self.max_objects >= 1, ">= 1"),
            ("marker_default_depth_m", self.marker_default_depth_m > 0, "> 0"),
            ("normal_radius_px", self.normal_radius_px >= 1, ">= 1"),
            ("normal_max_residual_m", self.normal_max_residual_m >= 0, ">= 0"),
        ]
        for name, ok, want in checks:
            if not ok:
                raise ConfigError(f"FrameConfig.{name} must be {want}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class InferenceConfig:
    """How the predictor is built (read once, at load time)."""

    model_path: str = ""  # hotspot checkpoint; empty: the shipped demo model
    device: str = "auto"
    backend: str = "torch"
    precision: str = "auto"
    top_k: int = 0  # maps only for the k most likely actions (0: all)
    onnx_path: str = ""
    cache_dir: str = ""
    calibration_path: str = ""
    cuda_graphs: bool = False
    torch_compile: bool = False
    threads: int = 0
    max_objects: int = 16  # the largest batch the backend must take


def cuda_graph_batch_sizes(max_objects: int, cuda_graphs: bool) -> tuple[int, ...]:
    """Batch sizes to capture CUDA graphs for: the usual crop counts up to ``max_objects`` (graphs are per size)."""
    if not cuda_graphs:
        return (1,)
    return tuple(b for b in CUDA_GRAPH_BATCHES if b < max_objects) + (max_objects,)


def load_predictor(cfg: InferenceConfig) -> tuple[HotspotPredictor, str]:
    """The predictor ``cfg`` describes and the checkpoint path it loaded (raises HotspotError subclasses)."""
    from hotspot_core.demo_model import demo_model_path
    from hotspot_core.hotspots.checkpoint import load_model

    path = cfg.model_path or str(demo_model_path())
    options = {
        "precision": cfg.precision,
        "onnx_path": cfg.onnx_path,
        "cache_dir": cfg.cache_dir,
        "calibration": cfg.calibration_path,
        "cuda_graphs": cfg.cuda_graphs,
        "compile": cfg.torch_compile,
        "threads": cfg.threads,
        "max_batch": cfg.max_objects,
        "batch_sizes": cuda_graph_batch_sizes(cfg.max_objects, cfg.cuda_graphs),
    }
    predictor = HotspotPredictor(
        load_model(path), device=cfg.device, top_k=cfg.top_k or None, backend=cfg.backend, backend_options=options
    )
    return predictor, path


@dataclass
class FrameCounts:
    """What one frame skipped or processed (names match the node's stats counters)."""

    objects_filtered: int = 0
    objects_in_contact_skipped: int = 0
    objects_moving_skipped: int = 0
    boxes_degenerate: int = 0
    objects_processed: int = 0  # fed to the model (fresh results)
    objects_reused: int = 0  # results reused from an earlier frame
    depth_unusable: int = 0
    camera_info_invalid: int = 0  # frames whose camera model was unusable (fx/fy <= 0, non-finite): no 3-D
    peaks_without_depth: int = 0  # peaks with a depth image but no valid reading there (NaN/0): no position

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class FrameTimes:
    """Seconds per stage: selection + crops, model, maps + peaks + 3-D."""

    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0


@dataclass
class FrameObject:
    """One processed object: its detection, hotspots, and per map the 3-D peak and marker point.

    positions[k]: the camera-frame peak of map k (None without valid depth there); markers[k]: where to draw
    it (the peak, else its ray at the default depth). Both None without intrinsics. normals[k]: the depth
    surface's normal at the peak (``geometry.surface_normal``; None without depth). reused: the hotspots come
    from an earlier frame (stamp computed_stamp_ns) and this frame's pixels at their crop box
    (``hotspots.roi``) are unchanged; else computed on this frame. ``detection`` is always this frame's.
    """

    detection: Detection
    hotspots: ObjectHotspots
    positions: list[Point3 | None] | None = None
    markers: list[Point3 | None] | None = None
    normals: list[SurfaceNormal | None] | None = None
    reused: bool = False
    computed_stamp_ns: int = 0

    @property
    def label(self) -> str:
        return self.detection.class_id or self.detection.detection_id or "object"


@dataclass
class FrameResult:
    objects: list[FrameObject]
    counts: FrameCounts
    times: FrameTimes
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (kind, text): the front end throttles by kind
    demonstration: DemonstrationResult | None = None
    # the 3-D inputs the positions came from (None where unusable), for a front end's further geometry
    # (e.g. ``geometry.region_points`` only while someone listens)
    depth_m: np.ndarray | None = None
    intrinsics: np.ndarray | None = None


@dataclass
class PreparedFrame:
    """A frame after selection and the reuse look-up, before the model (``FramePipeline.complete``)."""

    rgb: np.ndarray
    stamp_ns: int
    depth_m: np.ndarray | None
    intrinsics: np.ndarray | None
    chosen: list[tuple[Detection, Roi]]
    prints: list[np.ndarray | None]  # fingerprints of the crops (None with reuse off): stored with fresh results
    reused: list[Reused | None]  # per chosen object; None: the model must run on it
    counts: FrameCounts
    warnings: list[tuple[str, str]]
    demonstration: DemonstrationResult | None
    seconds: float  # spent preparing
    refresh: list[int] = field(default_factory=list)  # reused, but the oldest result due for recomputing

    @property
    def needs_inference(self) -> bool:
        """Some object has no reusable result: the frame cannot be finished without the model."""
        return any(r is None for r in self.reused)


class FramePipeline:
    """Selection -> batched hotspots -> 3-D peaks for one frame at a time (keeps the stability history
    and the reusable results). ``prepare`` runs on one thread at a time; ``complete`` may run on another."""

    def __init__(
        self,
        predictor: HotspotPredictor,
        config: FrameConfig | None = None,
        demonstrations: DemonstrationRecognizer | None = None,
    ) -> None:
        self.predictor = predictor
        self.config = config or FrameConfig()
        self.demonstrations = demonstrations
        self.stability = StabilityFilter(self.config.stability_frames, self.config.stability_iou)
        self.cache = ResultCache(self.config.reuse)
        self._crop_rule = (self.config.box_padding, self.config.min_box_size_px)  # the crops cached results used

    @classmethod
    def load(
        cls,
        inference: InferenceConfig,
        config: FrameConfig | None = None,
        demonstration: DemonstrationSettings | None = None,
        demonstration_model_path: str = "",
    ) -> tuple[FramePipeline, str]:
        """Build the predictor (and, with ``demonstration`` settings, the DAN recogniser from
        ``demonstration_model_path``; empty: the shipped demo DAN, ``training.make_demo_dan``); returns the
        pipeline and the hotspot checkpoint path it loaded."""
        predictor, path = load_predictor(inference)
        recognizer = None
        if demonstration is not None:
            dan = demonstration_model_path or str(demo_dan_path())
            if not Path(dan).is_file():
                raise ConfigError(
                    f"demonstration_mode: no DAN checkpoint at {dan} (set demonstration_model_path to one from "
                    "training.dan.train, or regenerate the shipped one: python -m training.make_demo_dan)"
                )
            recognizer = DemonstrationRecognizer.from_checkpoint(
                dan, device=str(predictor.device), settings=demonstration
            )
        return cls(predictor, config, recognizer), path

    @property
    def actions(self) -> tuple[str, ...]:
        return self.predictor.actions

    def describe(self) -> str:
        p = self.predictor
        return f"{p.model.config.backbone}, {len(p.actions)} actions {list(p.actions)} on {p.device}"

    def close(self) -> None:
        """Free the model; on CUDA give the memory back to the GPU, not just to torch's cache."""
        cuda = self.predictor.device.type == "cuda"
        self.predictor = None  # type: ignore[assignment]
        self.demonstrations = None
        if cuda:
            import torch

            torch.cuda.empty_cache()

    def configure(self, config: FrameConfig) -> None:
        """New rules from the next frame on (safe to call from another thread: applied in ``process``)."""
        self.config = config

    def warm_up(self, runs: int) -> float:
        """Run the model ``runs`` times on a blank crop so the first frame is not slow; returns seconds."""
        t0 = time.perf_counter()
        size = self.predictor.input_size
        blank = np.zeros((size, size, 3), np.uint8)
        for _ in range(runs):
            self.predictor.predict(blank, [Roi(0, 0, size, size)])
        return time.perf_counter() - t0

    def select(
        self,
        detections: Sequence[Detection],
        hand_detections: Sequence[Detection],
        width: int,
        height: int,
        counts: FrameCounts,
        warnings: list[tuple[str, str]],
        touched: list[Detection] | None = None,
    ) -> list[tuple[Detection, Roi]]:
        """The objects to run the model on, with their crop boxes, highest score first (objects a hand
        touches are appended to ``touched``)."""
        cfg = self.config
        hands, candidates = split_hands(detections, hand_detections, cfg.hand_classes)
        kept = []
        for d in candidates:
            if d.score < cfg.min_detection_score or (cfg.object_classes and d.class_id not in cfg.object_classes):
                counts.objects_filtered += 1
            elif in_contact(d.box, hands, cfg.contact_margin_px):
                counts.objects_in_contact_skipped += 1
                if touched is not None:
                    touched.append(d)
            else:
                kept.append(d)
        at_rest = self.stability.update([(d.detection_id, d.class_id, d.box) for d in kept])
        chosen = []
        for d, rest in zip(kept, at_rest):
            if not rest:
                counts.objects_moving_skipped += 1
                continue
            roi = pad_and_clamp(d.box, cfg.box_padding, width, height, cfg.min_box_size_px)
            if roi is None:
                counts.boxes_degenerate += 1
                warnings.append(
                    (
                        "degenerate",
                        f"skipping degenerate box {tuple(round(v, 1) for v in d.box)} "
                        f"(empty, non-finite or outside the {width}x{height} image)",
                    )
                )
                continue
            chosen.append((d, roi))
        chosen.sort(key=lambda c: -c[0].score)  # stable: equal scores keep the detector's order
        if len(chosen) > cfg.max_objects:
            counts.objects_filtered += len(chosen) - cfg.max_objects
            chosen = chosen[: cfg.max_objects]
        return chosen

    def process(
        self,
        rgb: np.ndarray,
        detections: Sequence[Detection],
        hand_detections: Sequence[Detection] = (),
        depth_m: np.ndarray | None = None,
        intrinsics: np.ndarray | None = None,
        stamp_ns: int = 0,
    ) -> FrameResult:
        """One frame: ``rgb`` HxWx3 uint8; ``depth_m`` HxW metres aligned with it; ``intrinsics`` the 3x3 K
        (pixel centres at integer coordinates, as in sensor_msgs/CameraInfo); ``stamp_ns`` orders the
        demonstration clip and stamps reusable results."""
        return self.complete(self.prepare(rgb, detections, hand_detections, depth_m, intrinsics, stamp_ns))

    def prepare(
        self,
        rgb: np.ndarray,
        detections: Sequence[Detection],
        hand_detections: Sequence[Detection] = (),
        depth_m: np.ndarray | None = None,
        intrinsics: np.ndarray | None = None,
        stamp_ns: int = 0,
    ) -> PreparedFrame:
        """Selection, the demonstration clip, and which objects can reuse an earlier result (see ``process``)."""
        cfg = self.config
        if (cfg.stability_frames, cfg.stability_iou) != (self.stability.frames, self.stability.min_iou):
            self.stability.configure(cfg.stability_frames, cfg.stability_iou)
        if cfg.reuse != self.cache.config:
            self.cache.configure(cfg.reuse)
        if (cfg.box_padding, cfg.min_box_size_px) != self._crop_rule:
            # reused results keep the crop they were computed on: another crop rule must recompute them
            self.cache.clear()
            self._crop_rule = (cfg.box_padding, cfg.min_box_size_px)
        t0 = time.perf_counter()
        counts, warnings, touched = FrameCounts(), [], []
        chosen = self.select(detections, hand_detections, rgb.shape[1], rgb.shape[0], counts, warnings, touched)
        for d in touched:  # a hand may change an object without moving its box: never reuse across a touch
            self.cache.forget(d)
        demonstration = None
        if self.demonstrations is not None:
            hands, objects = demonstration_inputs(detections, hand_detections, cfg.hand_classes)
            demonstration = self.demonstrations.add_frame(stamp_ns, rgb, hands, objects)
        prints = self.cache.fingerprints(rgb, [roi for _, roi in chosen])
        reused = self.cache.lookup(chosen, rgb, stamp_ns)
        due = [i for i, r in enumerate(reused) if r is not None and self._due(r, stamp_ns)]
        # one at a time, the oldest first: objects computed together are not all recomputed together again
        refresh = sorted(due, key=lambda i: reused[i].stamp_ns)[:1]
        return PreparedFrame(
            rgb,
            stamp_ns,
            depth_m,
            intrinsics,
            chosen,
            prints,
            reused,
            counts,
            warnings,
            demonstration,
            time.perf_counter() - t0,
            refresh,
        )

    def complete(self, frame: PreparedFrame, refresh: bool = True) -> FrameResult:
        """Run the model, in one batch, on the prepared objects that have no reusable result (and, with
        ``refresh``, on those whose result is older than ``reuse.max_age_sec``), then 3-D."""
        t0 = time.perf_counter()
        counts = frame.counts
        todo = [i for i, r in enumerate(frame.reused) if r is None or (refresh and i in frame.refresh)]
        reused = [None if i in todo else r for i, r in enumerate(frame.reused)]
        fresh, inference, postprocess = self._run(frame, todo, reused)
        t1 = time.perf_counter()
        objects = [
            FrameObject(det, fresh[i], computed_stamp_ns=frame.stamp_ns)
            if i in fresh
            else FrameObject(det, reused[i].hotspots, reused=True, computed_stamp_ns=reused[i].stamp_ns)
            for i, (det, _) in enumerate(frame.chosen)
        ]
        counts.objects_processed += len(fresh)
        counts.objects_reused += len(objects) - len(fresh)
        depth_m, k = self._place_in_3d(
            objects, frame.depth_m, frame.intrinsics, frame.rgb.shape, counts, frame.warnings
        )
        t2 = time.perf_counter()
        model = inference + postprocess
        times = FrameTimes(frame.seconds + max(0.0, (t1 - t0) - model), inference, postprocess + (t2 - t1))
        return FrameResult(objects, counts, times, frame.warnings, frame.demonstration, depth_m, k)

    def refresh(self, frame: PreparedFrame) -> int:
        """Recompute and remember only the objects of ``frame`` due for a refresh (no result: the frame itself
        was finished with the older results). Returns how many objects the model ran on."""
        fresh, _, _ = self._run(frame, list(frame.refresh), [None] * len(frame.chosen))
        return len(fresh)

    def _run(
        self, frame: PreparedFrame, todo: list[int], reused: list[Reused | None]
    ) -> tuple[dict[int, ObjectHotspots], float, float]:
        """The model on objects ``todo`` of ``frame`` unless another frame's inference has meanwhile produced a
        usable result (then filled into ``reused``); fresh results are remembered. Returns them by index."""
        if not todo:
            return {}, 0.0, 0.0
        again = self.cache.lookup([frame.chosen[i] for i in todo], frame.rgb, frame.stamp_ns)
        for i, r in zip(todo, again):
            if r is not None and not self._due(r, frame.stamp_ns):
                reused[i] = r
        todo = [i for i in todo if reused[i] is None]
        if not todo:
            return {}, 0.0, 0.0
        results = self.predictor.predict(frame.rgb, [frame.chosen[i][1] for i in todo])
        p = self.predictor.times
        for i, r in zip(todo, results):
            self.cache.store(frame.chosen[i][0], frame.prints[i], r, frame.stamp_ns)
        return dict(zip(todo, results)), p.inference, p.postprocess

    def _due(self, reused: Reused, stamp_ns: int) -> bool:
        """A reused result old enough to be recomputed (bounds how long a change the fingerprint missed lasts)."""
        max_age = self.config.reuse.max_age_sec
        return max_age > 0 and stamp_ns - reused.stamp_ns > max_age * 1e9

    def _place_in_3d(
        self,
        objects: list[FrameObject],
        depth_m: np.ndarray | None,
        k: np.ndarray | None,
        shape: tuple[int, ...],
        counts: FrameCounts,
        warnings: list[tuple[str, str]],
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per object and map: the 3-D peak and surface normal (need depth) and the point its marker is drawn
        at. Returns the depth and K actually used (None where unusable).

        Without a valid depth reading the marker sits on the peak's ray at marker_default_depth_m;
        without a camera model there is neither.
        """
        if k is None:
            return None, None
        if not valid_intrinsics(k):
            counts.camera_info_invalid += 1
            warnings.append(
                (
                    "camera_info",
                    "camera_info has no valid intrinsics (fx, fy must be finite and > 0, got K = "
                    f"{np.asarray(k, np.float64).ravel().tolist()}): no 3-D peaks, no markers",
                )
            )
            return None, None
        k = np.asarray(k, np.float64).reshape(3, 3)
        if depth_m is not None and depth_m.shape != tuple(shape[:2]):
            counts.depth_unusable += 1
            warnings.append(
                (
                    "depth",
                    f"depth ignored: depth {depth_m.shape[1]}x{depth_m.shape[0]} is not aligned "
                    f"with the {shape[1]}x{shape[0]} colour image",
                )
            )
            depth_m = None
        cfg = self.config
        for obj in objects:
            obj.positions, obj.markers = [], []
            obj.normals = [] if depth_m is not None else None
            for u, v, _ in obj.hotspots.peaks:
                z = depth_at(depth_m, u, v) if depth_m is not None else math.nan
                p = deproject(u, v, z, k) if math.isfinite(z) else None
                obj.positions.append(p)
                obj.markers.append(p if p is not None else deproject(u, v, cfg.marker_default_depth_m, k))
                if depth_m is not None:
                    counts.peaks_without_depth += p is None
                    obj.normals.append(
                        surface_normal(depth_m, u, v, k, cfg.normal_radius_px, max_residual_m=cfg.normal_max_residual_m)
                    )
        return depth_m, k
