"""The interaction-hotspots lifecycle node: thin glue between ROS topics and hotspot_core.

Subscribes  image (sensor_msgs/Image), detections (vision_msgs/Detection2DArray),
            optional depth (sensor_msgs/Image 16UC1/32FC1, aligned) + camera_info, hand_detections.
Publishes   hotspots (interaction_hotspots/HotspotArray), hotspots/actions (latched, action names),
            hotspots/overlay (bgr8, rendered only while subscribed), hotspots/markers (MarkerArray),
            hotspots/stats (HotspotStats).
Lifecycle   configure: read parameters and load the model; activate: warm up and subscribe;
            deactivate: unsubscribe and free the model. ``autostart`` runs configure+activate at start.

Callbacks only file messages away (cheap); one worker thread runs the newest matched frame. A frame
that arrives while another waits replaces it and is counted as dropped, so work never queues.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.event_handler import SubscriptionEventCallbacks
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray
from vision_msgs.msg import Detection2DArray

from interaction_hotspots.msg import HotspotArray, HotspotStats, InteractionRecognition

from hotspot_core.boxes import Roi, center_size_to_xyxy, pad_and_clamp
from hotspot_core.backends import BackendError
from hotspot_core.checkpoint import CheckpointError
from hotspot_core.config import ConfigError
from hotspot_core.geometry import deproject, depth_at
from hotspot_core.model import load_model
from hotspot_core.predictor import HotspotPredictor
from hotspot_core.selection import StabilityFilter, in_contact

from .image_codec import CorruptImage, UnsupportedEncoding, depth_to_metres, image_to_rgb
from .latency import STAGES, Counters, LatencyStats
from .messages import hotspot_array, overlay_image, peak_markers
from .params import PARAMS, NodeSettings, validate
from .stamp_sync import StampCache

NODE_NAME = "hotspot_node"


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def default_model_path() -> str:
    """The shipped demo checkpoint (see README): env HOTSPOT_DEMO_MODEL, else the repo/share copy."""
    from hotspot_core.demo_model import demo_model_path

    return str(demo_model_path())


class HotspotNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for name, p in PARAMS.items():
            self.declare_parameter(name, p.default, self._descriptor(name))
        self.settings = self._read_settings()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.counters = Counters()
        self.latency = LatencyStats()
        self.predictor: HotspotPredictor | None = None
        self.demonstrations = None  # DemonstrationRecognizer in demonstration mode
        self.stability = StabilityFilter(self.settings.stability_frames, self.settings.stability_iou)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: tuple | None = None  # newest matched frame waiting for the worker
        self._pending_detections: list[Detection2DArray] = []
        self._worker: threading.Thread | None = None
        self._running = False
        self._images = StampCache[Image](self.settings.image_cache_size)
        self._depths = StampCache[Image](self.settings.image_cache_size)
        self._hands = StampCache[Detection2DArray](self.settings.image_cache_size)
        self._camera_info: CameraInfo | None = None
        self._warned: set[str] = set()
        self._subs: list = []
        self._pubs: dict[str, Any] = {}
        self._stats_timer = None

    # -------------------------------------------------------------------------------- parameters
    @staticmethod
    def _descriptor(name: str) -> ParameterDescriptor:
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

    def _read_settings(self) -> NodeSettings:
        return NodeSettings.from_values({name: self.get_parameter(name).value for name in PARAMS})

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for p in params:
            why = validate(p.name, p.value)
            if why:
                return SetParametersResult(successful=False, reason=why)
        # Runtime-changeable values take effect on the next frame; read-only ones at the next configure.
        values = {name: self.get_parameter(name).value for name in PARAMS}
        values.update({p.name: p.value for p in params if p.name in PARAMS})
        new = NodeSettings.from_values(values)
        self.stability.configure(new.stability_frames, new.stability_iou)
        self.settings = new
        later = [p.name for p in params if p.name in PARAMS and PARAMS[p.name].read_only]
        if later:
            self.get_logger().info(f"parameters {later} take effect at the next configure")
        return SetParametersResult(successful=True)

    # --------------------------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.settings = self._read_settings()
        try:
            self._load_model()
        except (BackendError, CheckpointError, ConfigError, RuntimeError, OSError) as exc:
            self.get_logger().error(f"configure failed: cannot load model: {exc}")
            return TransitionCallbackReturn.FAILURE
        for cache in (self._images, self._depths, self._hands):
            cache.resize(self.settings.image_cache_size)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        out = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        self._pubs = {
            "hotspots": self.create_lifecycle_publisher(HotspotArray, "hotspots", out),
            "actions": self.create_lifecycle_publisher(HotspotArray, "hotspots/actions", latched),
            "overlay": self.create_lifecycle_publisher(Image, "hotspots/overlay", out),
            "markers": self.create_lifecycle_publisher(MarkerArray, "hotspots/markers", out),
            "stats": self.create_lifecycle_publisher(HotspotStats, "hotspots/stats", out),
        }
        if self.settings.demonstration_mode:
            self._pubs["demonstrations"] = self.create_lifecycle_publisher(
                InteractionRecognition, "demonstrations", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.get_logger().info(
            f"configured: model {self._model_path} ({self.predictor.model.config.backbone}, "
            f"{len(self.predictor.actions)} actions {list(self.predictor.actions)}) on {self.predictor.device}"
        )
        return TransitionCallbackReturn.SUCCESS

    def _load_model(self) -> None:
        s = self.settings
        self._model_path = s.model_path or default_model_path()
        model = load_model(self._model_path)
        options = {
            "precision": s.precision, "onnx_path": s.onnx_path, "cache_dir": s.cache_dir,
            "calibration": s.calibration_path, "cuda_graphs": s.cuda_graphs, "compile": s.torch_compile,
            "threads": s.inference_threads, "max_batch": s.max_objects,
            # CUDA graphs are captured per batch size: the usual crop counts up to max_objects
            "batch_sizes": (tuple(b for b in (1, 2, 4, 8) if b < s.max_objects) + (s.max_objects,))
            if s.cuda_graphs else (1,),
        }
        self.predictor = HotspotPredictor(model, device=s.device, top_k=s.top_k or None, backend=s.backend,
                                          backend_options=options)
        self.demonstrations = None
        if s.demonstration_mode:
            if not s.demonstration_model_path:
                raise ConfigError("demonstration_mode needs demonstration_model_path (a DAN checkpoint)")
            from .demonstration import DemonstrationRecognizer, DemonstrationSettings

            settings = DemonstrationSettings(clip_frames=s.demonstration_clip_frames,
                                             contact_frames=s.demonstration_contact_frames,
                                             trigger=s.demonstration_trigger, contact_margin_px=s.contact_margin_px)
            self.demonstrations = DemonstrationRecognizer.from_checkpoint(
                s.demonstration_model_path, device=str(self.predictor.device), settings=settings)
        self.get_logger().info(f"inference: {self.predictor.backend.describe()}")  # precision truly used

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.predictor is None:  # freed by deactivate
            try:
                self._load_model()
            except (BackendError, CheckpointError, ConfigError, RuntimeError, OSError) as exc:
                self.get_logger().error(f"activate failed: cannot load model: {exc}")
                return TransitionCallbackReturn.FAILURE
        t0 = time.perf_counter()
        blank = np.zeros((self.predictor.input_size, self.predictor.input_size, 3), np.uint8)
        for _ in range(self.settings.warmup_runs):
            self.predictor.predict(blank, [Roi(0, 0, blank.shape[1], blank.shape[0])])
        self.get_logger().info(f"warm-up {1000 * (time.perf_counter() - t0):.0f} ms")
        result = super().on_activate(state)
        self._publish_actions()
        self._subscribe()
        self._running = True
        self._worker = threading.Thread(target=self._work, name="hotspot_worker", daemon=True)
        self._worker.start()
        self._stats_timer = self.create_timer(self.settings.stats_period_sec, self._publish_stats)
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        if self._stats_timer is not None:
            self.destroy_timer(self._stats_timer)
            self._stats_timer = None
        self._free_model()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self._free_model()
        for cache in (self._images, self._depths, self._hands):
            cache.clear()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._free_model()
        return TransitionCallbackReturn.SUCCESS

    def _free_model(self) -> None:
        if self.predictor is None:
            return
        cuda = self.predictor.device.type == "cuda"
        self.predictor = None
        self.demonstrations = None
        if cuda:
            import torch

            torch.cuda.empty_cache()  # give the GPU memory back, not just to torch's cache

    def _stop_worker(self) -> None:
        with self._wake:
            self._running = False
            self._pending = None
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join()
            self._worker = None

    # --------------------------------------------------------------------------------- inputs
    def _subscribe(self) -> None:
        s = self.settings
        qos = qos_profile_sensor_data if s.input_qos == "sensor_data" else QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
        qos = QoSProfile(depth=1, reliability=qos.reliability, durability=qos.durability)  # newest only
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)
        self._subs = [
            self.create_subscription(Image, "image", self._on_image, qos, event_callbacks=events),
            # detections are small and come once per frame: keep a few so none is lost before matching
            self.create_subscription(Detection2DArray, "detections", self._on_detections,
                                     QoSProfile(depth=5, reliability=qos.reliability), event_callbacks=events),
        ]
        if s.use_depth:
            self._subs.append(self.create_subscription(Image, "depth", self._on_depth, qos, event_callbacks=events))
            self._subs.append(self.create_subscription(CameraInfo, "camera_info", self._on_camera_info, qos))
        if s.use_hand_topic:
            self._subs.append(self.create_subscription(Detection2DArray, "hand_detections", self._on_hands,
                                                       QoSProfile(depth=5, reliability=qos.reliability)))

    def _on_incompatible_qos(self, event) -> None:
        self.get_logger().warning(
            f"a publisher's QoS is incompatible with this subscription (policy {event.last_policy_kind}): "
            "no messages will arrive; set input_qos to match the publisher"
        )

    def _on_image(self, msg: Image) -> None:
        with self._lock:
            self.counters.frames_received += 1
            self._images.add(stamp_ns(msg.header), msg)
            self._match_pending_locked()

    def _on_depth(self, msg: Image) -> None:
        with self._lock:
            self._depths.add(stamp_ns(msg.header), msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_hands(self, msg: Detection2DArray) -> None:
        with self._lock:
            self._hands.add(stamp_ns(msg.header), msg)

    def _on_detections(self, msg: Detection2DArray) -> None:
        with self._lock:
            self._pending_detections.append(msg)
            self._match_pending_locked()

    def _tolerance_ns(self) -> int:
        return int(self.settings.stamp_tolerance_sec * 1e9)

    def _match_pending_locked(self) -> None:
        newest = self._images.newest_stamp()
        keep = []
        for det in self._pending_detections:
            t = stamp_ns(det.header)
            image = self._images.match(t, self._tolerance_ns())
            if image is not None:
                self._submit_locked(image, det)
            elif newest is not None and newest - t > 1_000_000_000:
                # an image newer by a second came and none matched: this detection never will
                self.counters.detections_unmatched += 1
                self._warn_throttled("unmatched", f"detections stamped {t / 1e9:.3f} s match no cached image "
                                     f"(tolerance {self.settings.stamp_tolerance_sec} s); dropped")
            else:
                keep.append(det)
        if len(keep) > self.settings.image_cache_size:  # detections with no images at all
            self.counters.detections_unmatched += len(keep) - self.settings.image_cache_size
            keep = keep[-self.settings.image_cache_size:]
        self._pending_detections = keep

    def _submit_locked(self, image: Image, det: Detection2DArray) -> None:
        if self._pending is not None:
            self.counters.frames_dropped_busy += 1
        t = stamp_ns(det.header)
        depth = self._depths.match(t, self._tolerance_ns()) if self.settings.use_depth else None
        hands = self._hands.match(t, self._tolerance_ns()) if self.settings.use_hand_topic else None
        self._pending = (image, det, depth, hands)
        self._wake.notify()

    # --------------------------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            with self._wake:
                while self._running and self._pending is None:
                    self._wake.wait()
                if not self._running:
                    return
                job, self._pending = self._pending, None
            try:
                self._process(*job)
            except Exception as exc:  # a bug must not kill the worker: log it and keep serving frames
                self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}")

    def _warn_throttled(self, key: str, text: str) -> None:
        # The first occurrence of each kind is always logged; repeats at most every 5 s.
        if key in self._warned:
            self.get_logger().warning(text, throttle_duration_sec=5.0)
        else:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _select(self, det: Detection2DArray, hands_msg: Detection2DArray | None, width: int, height: int):
        s = self.settings
        hands, candidates = [], []
        extra = list(hands_msg.detections) if hands_msg else []
        for source, dets in ((0, det.detections), (1, extra)):
            for d in dets:
                best = max(d.results, key=lambda r: r.hypothesis.score, default=None)
                class_id = best.hypothesis.class_id if best else ""
                score = float(best.hypothesis.score) if best else 0.0
                box = center_size_to_xyxy(d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y)
                if class_id in s.hand_classes or source == 1:
                    hands.append(box)
                else:
                    candidates.append((d.id, class_id, score, box))
        kept = []
        for det_id, class_id, score, box in candidates:
            if score < s.min_detection_score or (s.object_classes and class_id not in s.object_classes):
                self.counters.objects_filtered += 1
            elif in_contact(box, hands, s.contact_margin_px):
                self.counters.objects_in_contact_skipped += 1
            else:
                kept.append((det_id, class_id, score, box))
        at_rest = self.stability.update([(i, c, b) for i, c, _, b in kept])
        chosen = []
        for (det_id, class_id, score, box), rest in zip(kept, at_rest):
            if not rest:
                self.counters.objects_moving_skipped += 1
                continue
            roi = pad_and_clamp(box, s.box_padding, width, height, s.min_box_size_px)
            if roi is None:
                self.counters.boxes_degenerate += 1
                self._warn_throttled("degenerate", f"skipping degenerate box {tuple(round(v, 1) for v in box)} "
                                     f"(empty, non-finite or outside the {width}x{height} image)")
                continue
            chosen.append((det_id, class_id, score, roi))
        chosen.sort(key=lambda c: -c[2])
        if len(chosen) > s.max_objects:
            self.counters.objects_filtered += len(chosen) - s.max_objects
            chosen = chosen[: s.max_objects]
        return chosen

    def _process(self, image: Image, det: Detection2DArray, depth: Image | None, hands: Detection2DArray | None) -> None:
        s = self.settings
        predictor = self.predictor
        if predictor is None:
            return
        if s.max_frame_age_sec > 0:
            age = (self.get_clock().now().nanoseconds - stamp_ns(image.header)) / 1e9
            if age > s.max_frame_age_sec:
                self.counters.frames_dropped_stale += 1
                self._warn_throttled("stale", f"dropping frame {age:.2f} s old (max_frame_age_sec {s.max_frame_age_sec})")
                return
        t0 = time.perf_counter()
        try:
            rgb = image_to_rgb(image)
        except UnsupportedEncoding as exc:
            self.counters.images_bad_encoding += 1
            self._warn_throttled("encoding:" + image.encoding, f"image dropped: {exc}")
            return
        except CorruptImage as exc:
            self.counters.images_corrupt += 1
            self._warn_throttled("corrupt", f"image dropped, corrupt: {exc}")
            return
        chosen = self._select(det, hands, rgb.shape[1], rgb.shape[0])
        if self.demonstrations is not None:
            self._watch_demonstration(image, rgb, det, hands)
        results = predictor.predict(rgb, [c[3] for c in chosen])
        self.counters.objects_processed += len(results)
        t1 = time.perf_counter()
        positions, marker_points = self._positions(results, depth, rgb.shape)
        msg = hotspot_array(image.header, predictor.actions,
                            [(c[0], c[1], c[2], r, p) for c, r, p in zip(chosen, results, positions)])
        self._pubs["hotspots"].publish(msg)
        self._pubs["markers"].publish(peak_markers(msg, s.marker_lifetime_sec, marker_points))
        if self._pubs["overlay"].get_subscription_count() > 0:
            labels = [(c[1] or c[0] or "object", r) for c, r in zip(chosen, results)]
            self._pubs["overlay"].publish(overlay_image(image.header, rgb, predictor.actions, labels, s.overlay_threshold))
            self.counters.overlays_rendered += 1
        t2 = time.perf_counter()
        times = predictor.times
        self.latency.add("preprocess", (t1 - t0) - times.inference - times.postprocess)
        self.latency.add("inference", times.inference)
        self.latency.add("postprocess", times.postprocess)
        self.latency.add("publish", t2 - t1)
        self.latency.add("total", t2 - t0)
        self.latency.output()
        self.counters.frames_processed += 1

    def _watch_demonstration(self, image: Image, rgb: np.ndarray, det: Detection2DArray,
                             hands: Detection2DArray | None) -> None:
        """Feed the clip buffer; publish a recognition when a hand-object interaction completes."""
        from .demonstration_msg import hands_and_objects, interaction_recognition

        hand_boxes, objects = hands_and_objects([(det, False), (hands, True)], self.settings.hand_classes)
        result = self.demonstrations.add_frame(stamp_ns(image.header), rgb, hand_boxes, objects)
        if result is not None:
            msg = interaction_recognition(image.header, result)
            self._pubs["demonstrations"].publish(msg)
            self.get_logger().info(f"demonstration recognised: {msg.action} {msg.object}")

    def _positions(self, results, depth_msg: Image | None, shape) -> tuple[list, list]:
        """Per object and map: the 3-D peak (needs depth) and the point its marker is drawn at.

        Without a valid depth reading the marker sits on the peak's ray at marker_default_depth_m;
        without a camera model there is neither.
        """
        info = self._camera_info
        if info is None:
            return [None] * len(results), [None] * len(results)
        k = np.asarray(info.k, np.float64).reshape(3, 3)
        if k[0, 0] <= 0 or k[1, 1] <= 0:
            self._warn_throttled("camera_info", "camera_info has no valid intrinsics (fx, fy <= 0): no 3-D peaks")
            return [None] * len(results), [None] * len(results)
        depth = None
        if depth_msg is not None:
            try:
                depth = depth_to_metres(depth_msg)
                if depth.shape != shape[:2]:
                    raise CorruptImage(f"depth {depth.shape[1]}x{depth.shape[0]} is not aligned with the "
                                       f"{shape[1]}x{shape[0]} colour image")
            except (UnsupportedEncoding, CorruptImage) as exc:
                self.counters.depth_unusable += 1
                self._warn_throttled("depth", f"depth ignored: {exc}")
                depth = None
        positions, markers = [], []
        for r in results:
            pos, mk = [], []
            for u, v, _ in r.peaks:
                z = depth_at(depth, u, v) if depth is not None else float("nan")
                p = deproject(u, v, z, k) if np.isfinite(z) else None
                pos.append(p)
                mk.append(p if p is not None else deproject(u, v, self.settings.marker_default_depth_m, k))
            positions.append(pos)
            markers.append(mk)
        return positions, markers

    # -------------------------------------------------------------------------------- outputs
    def _publish_actions(self) -> None:
        msg = HotspotArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.action_names = list(self.predictor.actions)
        self._pubs["actions"].publish(msg)

    def stats_message(self) -> HotspotStats:
        msg = HotspotStats()
        msg.header.stamp = self.get_clock().now().to_msg()
        with self._lock:
            counts = self.counters.as_dict()
        for name, value in counts.items():
            setattr(msg, name, value)
        pct = self.latency.percentiles()
        msg.stage_names = list(STAGES)
        msg.latency_p50_ms = [pct[s][0] for s in STAGES]
        msg.latency_p95_ms = [pct[s][1] for s in STAGES]
        msg.rate_hz = self.latency.rate_hz()
        return msg

    def _publish_stats(self) -> None:
        msg = self.stats_message()
        self._pubs["stats"].publish(msg)
        c = self.counters
        p50, p95 = msg.latency_p50_ms[-1], msg.latency_p95_ms[-1]
        self.get_logger().info(
            f"{c.frames_processed}/{c.frames_received} frames, {c.objects_processed} objects, {msg.rate_hz:.1f} Hz, "
            f"total p50 {p50:.0f} ms p95 {p95:.0f} ms; dropped busy {c.frames_dropped_busy} stale "
            f"{c.frames_dropped_stale}, bad encoding {c.images_bad_encoding}, corrupt {c.images_corrupt}, "
            f"unmatched detections {c.detections_unmatched}, degenerate boxes {c.boxes_degenerate}, "
            f"in contact {c.objects_in_contact_skipped}, moving {c.objects_moving_skipped}"
        )


def default_params_file() -> Path | None:
    """config/hotspot.yaml from the installed share folder or this checkout."""
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory("interaction_hotspots")) / "config" / "hotspot.yaml"
        if share.is_file():
            return share
    except Exception:  # not installed as a ROS package (PyPI set-up): use the checkout
        pass
    local = Path(__file__).resolve().parents[1] / "config" / "hotspot.yaml"
    return local if local.is_file() else None


def main(argv: list[str] | None = None) -> int:
    """Console entry point: the same node and YAML file as the launch file, for set-ups without launch."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_args = []
    if "--ros-args" in argv:
        i = argv.index("--ros-args")
        argv, ros_args = argv[:i], argv[i:]
    parser = argparse.ArgumentParser(description="interaction hotspots node")
    parser.add_argument("--params-file", type=Path, default=default_params_file())
    parser.add_argument("--no-autostart", action="store_true", help="wait for external lifecycle transitions")
    args = parser.parse_args(argv)
    if args.params_file is not None and not args.params_file.is_file():
        parser.error(f"parameters file not found: {args.params_file}")
    init_args = ["--ros-args", "--params-file", str(args.params_file)] if args.params_file else []
    if ros_args:
        init_args += ros_args if not init_args else ros_args[1:]
    rclpy.init(args=[sys.argv[0]] + init_args)
    node = HotspotNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        if not args.no_autostart:
            if node.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().error("autostart: configure failed; node stays unconfigured")
            elif node.trigger_activate() != TransitionCallbackReturn.SUCCESS:
                node.get_logger().error("autostart: activate failed")
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node._stop_worker()
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
