"""The interaction-hotspots lifecycle node: thin glue between ROS topics and hotspot_core.

Subscribes  image (sensor_msgs/Image), detections (vision_msgs/Detection2DArray),
            optional depth (sensor_msgs/Image 16UC1/32FC1, aligned) + camera_info, hand_detections.
Publishes   hotspots (interaction_hotspots/HotspotArray), hotspots/actions (latched, action names),
            hotspots/overlay (bgr8, rendered only while subscribed), hotspots/markers (MarkerArray),
            hotspots/stats (HotspotStats).
Lifecycle   configure: read parameters and load the model; activate: warm up and subscribe;
            deactivate: unsubscribe and free the model. ``autostart`` runs configure+activate at start.

Callbacks only file messages away (cheap). Frames go through ``hotspot_core.frame.FramePipeline`` in two
worker threads: "prepare" decodes the newest matched frame, selects its objects and looks up reusable
results; a frame whose objects are all reused is finished and published right there, without waiting for
the model; otherwise "inference" runs the model on the new or changed objects and publishes. Each stage
holds at most one waiting frame: a newer one replaces it and the older is counted as dropped, so work never
queues; frames are published in stamp order.
"""
from __future__ import annotations

import posixpath
import threading
import time
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from interaction_hotspots.msg import HotspotArray, HotspotStats
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2DArray

from hotspot_core.errors import HotspotError
from hotspot_core.frame import FramePipeline, FrameResult

from .detections import detections_from_msg
from .diagnostics import diagnostic_array, frame_accounting, level_and_message
from .image_codec import CorruptImage, UnsupportedEncoding, depth_to_metres, image_to_rgb
from .latency import Counters, LatencyStats
from .messages import create_publishers, hotspot_array, overlay_image, peak_markers, stats_line, stats_message
from .params import PARAMS, NodeSettings, apply_changes, descriptor
from .qos import InputSubscription
from .stamp_sync import FrameMatcher
from .worker import LatestWorker

NODE_NAME = "hotspot_node"
INPUT_QUEUE_DEPTH = 5  # messages per input subscription waiting for the executor (not frames waiting for work)


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


class HotspotNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for name, p in PARAMS.items():
            self.declare_parameter(name, p.default, descriptor(name))
        self.settings = self._read_settings()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.counters = Counters()
        self.latency = LatencyStats()
        self.pipeline: FramePipeline | None = None  # the model and the per-frame rules (hotspot_core.frame)
        self._lock = threading.Lock()
        # two stages, each running the newest job only: prepare (decode, selection, reuse look-up; publishes a
        # frame whose objects are all reused at once) and inference (the model on new or changed objects)
        self._worker = LatestWorker(lambda job: self._process(*job), self._on_frame_error, "hotspot_prepare")
        self._inference = LatestWorker(self._infer, self._on_frame_error, "hotspot_inference")
        self._publish_lock = threading.Lock()
        self._last_published = -1  # stamp (ns) of the newest frame published: never publish an older one
        self._inputs = FrameMatcher(self.settings.image_cache_size)  # images, depth, hands, detections by stamp
        self._camera_info: CameraInfo | None = None
        self._warned: set[str] = set()
        self._subs: list = []
        self._inputs_by_topic: dict[str, InputSubscription] = {}
        self._pubs: dict[str, Any] = {}
        self._stats_timer = None
        self._last_seq: dict[bytes, int] = {}  # image publisher gid -> last publication sequence number
        # /diagnostics in every state until shutdown (ERROR while not active), at the stats period
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_before: dict[str, int] = {}
        self._diag_timer = self.create_timer(self.settings.stats_period_sec, self.publish_diagnostics)

    # -------------------------------------------------------------------------------- parameters
    def _read_settings(self) -> NodeSettings:
        return NodeSettings.from_values({name: self.get_parameter(name).value for name in PARAMS})

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Runtime-changeable values take effect on the next frame; read-only ones at the next configure.
        current = {n: self.get_parameter(n).value for n in PARAMS}
        new, why, later = apply_changes(current, {p.name: p.value for p in params})
        if new is None:
            return SetParametersResult(successful=False, reason=why)
        if self.pipeline is not None:
            self.pipeline.configure(new.frame_config())
        self.settings = new
        if later:
            self.get_logger().info(f"parameters {later} take effect at the next configure")
        return SetParametersResult(successful=True)

    # --------------------------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.settings = self._read_settings()
        try:
            self._load_model()
        except (HotspotError, RuntimeError, OSError) as exc:
            self.get_logger().error(f"configure failed: cannot load model: {exc}")
            return TransitionCallbackReturn.FAILURE
        self._inputs.resize(self.settings.image_cache_size)
        self._pubs = create_publishers(self, self.settings.demonstration_mode)
        self.get_logger().info(f"configured: model {self._model_path} ({self.pipeline.describe()})")
        return TransitionCallbackReturn.SUCCESS

    def _load_model(self) -> None:
        s = self.settings
        demonstration = s.demonstration_settings() if s.demonstration_mode else None
        self.pipeline, self._model_path = FramePipeline.load(s.inference_config(), s.frame_config(),
                                                             demonstration, s.demonstration_model_path)
        self.get_logger().info(f"inference: {self.pipeline.predictor.backend.describe()}")  # precision truly used

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.pipeline is None:  # freed by deactivate
            try:
                self._load_model()
            except (HotspotError, RuntimeError, OSError) as exc:
                self.get_logger().error(f"activate failed: cannot load model: {exc}")
                return TransitionCallbackReturn.FAILURE
        seconds = self.pipeline.warm_up(self.settings.warmup_runs)
        self.get_logger().info(f"warm-up {1000 * seconds:.0f} ms")
        result = super().on_activate(state)
        self._publish_actions()
        self._subscribe()
        self._worker.start()
        self._inference.start()
        self._stats_timer = self.create_timer(self.settings.stats_period_sec, self._publish_stats)
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown_io()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        self._free_model()
        self._inputs.clear()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown_io()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        return TransitionCallbackReturn.SUCCESS

    def shutdown_io(self) -> None:
        """Nothing runs or arrives afterwards: worker joined, subscriptions and timers gone, model freed."""
        self.stop_worker()
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        for inp in self._inputs_by_topic.values():
            inp.destroy()
        self._inputs_by_topic = {}
        if self._stats_timer is not None:
            self.destroy_timer(self._stats_timer)
            self._stats_timer = None
        self._free_model()

    def _free_model(self) -> None:
        if self.pipeline is None:
            return
        pipeline, self.pipeline = self.pipeline, None
        pipeline.close()

    def stop_worker(self) -> None:
        self._worker.stop()  # a frame being processed finishes first
        self._inference.stop()

    # --------------------------------------------------------------------------------- inputs
    def _subscribe(self) -> None:
        s = self.settings
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible_qos)

        def add(topic: str, msg_type: type, callback, depth: int) -> None:
            # The middleware queue only holds messages until the executor files them into the stamp caches
            # (the worker still takes the newest frame only). Depth 1 lost images whenever inference held the
            # GIL for longer than a frame period (measured: 5 of 20 at 5 Hz on 2 busy cores): keep a few.
            self._inputs_by_topic[topic] = InputSubscription(self, msg_type, topic, callback, s.input_qos, depth,
                                                             events)

        add("image", Image, self._on_image, INPUT_QUEUE_DEPTH)
        add("detections", Detection2DArray, self._on_detections, INPUT_QUEUE_DEPTH)
        if s.use_depth:
            add("depth", Image, self._on_depth, INPUT_QUEUE_DEPTH)
        if s.use_hand_topic:
            add("hand_detections", Detection2DArray, self._on_hands, INPUT_QUEUE_DEPTH)
        # CameraInfo follows the image topic (image_transport's camera subscriber convention), so remapping
        # the image brings its camera_info along; an explicit camera_info remap wins.
        add(self._camera_info_topic(), CameraInfo, self._on_camera_info, 1)

    def _camera_info_topic(self) -> str:
        own = self.resolve_topic_name("camera_info")
        if own != posixpath.join(self.get_namespace(), "camera_info"):
            return own  # remapped explicitly
        return posixpath.join(posixpath.dirname(self.resolve_topic_name("image")), "camera_info")

    def _on_incompatible_qos(self, event) -> None:
        self.get_logger().warning(
            f"a publisher's QoS is incompatible with this subscription (policy {event.last_policy_kind}): "
            "no messages will arrive; set input_qos to match the publisher"
        )

    def _on_image(self, msg: Image, info: dict) -> None:  # two arguments: rclpy passes MessageInfo
        with self._lock:
            self.counters.frames_received += 1
            self._count_lost_locked(info)
            jump = self._inputs.add_image(stamp_ns(msg.header), msg)
            self._match_locked()
        if jump is not None:
            self._log_time_jump(jump)

    def _log_time_jump(self, jump_ns: int) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.cache.clear()  # reusable results stamped on the old time line
        self.get_logger().warning(f"input stamps jumped back {jump_ns / 1e9:.3f} s (a bag replayed in a loop?): "
                                  "stamp caches cleared")

    def _count_lost_locked(self, info: dict | None) -> None:
        """Images the middleware dropped before this callback (transport loss, depth-1 queue overwritten):
        gaps in each publisher's publication sequence numbers."""
        if not info or not info.get("publication_sequence_number") or not info.get("publisher_gid"):
            return
        gid = bytes(info["publisher_gid"].get("data", b"")) if isinstance(info["publisher_gid"], dict) \
            else bytes(info["publisher_gid"])
        seq = int(info["publication_sequence_number"])
        last = self._last_seq.get(gid)
        if last is not None and seq > last + 1:
            self.counters.images_lost += seq - last - 1
        self._last_seq[gid] = seq

    def _on_depth(self, msg: Image) -> None:
        with self._lock:
            self._inputs.depths.add(stamp_ns(msg.header), msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _on_hands(self, msg: Detection2DArray) -> None:
        with self._lock:
            self._inputs.hands.add(stamp_ns(msg.header), msg)

    def _on_detections(self, msg: Detection2DArray) -> None:
        with self._lock:
            self.counters.detections_received += 1
            self._inputs.add_detections(stamp_ns(msg.header), msg)
            self._match_locked()

    def _match_locked(self) -> None:
        s = self.settings
        frames, unmatched = self._inputs.match(int(s.stamp_tolerance_sec * 1e9), s.use_depth, s.use_hand_topic)
        image_input = self._inputs_by_topic.get("image")
        for t in unmatched:
            self.counters.detections_unmatched += 1
            if image_input is not None and image_input.publisher_count() > 0:
                # A publisher is matched, yet its image for these detections never came: lost on the way
                self.counters.images_missing += 1
                self._warn_throttled("missing", f"detections stamped {t / 1e9:.3f} s: no image with that stamp "
                                     f"arrived although {image_input.resolved_topic} has a matched publisher "
                                     "(images lost: QoS, bandwidth or a publisher stamping differently); dropped")
            else:
                self._warn_throttled("unmatched", f"detections stamped {t / 1e9:.3f} s match no cached image "
                                     f"(tolerance {s.stamp_tolerance_sec} s); dropped")
        for frame in frames:  # the newest frame wins: one waiting for the worker is replaced
            if self._worker.submit(frame) is not None:
                self.counters.frames_dropped_busy += 1

    def _on_frame_error(self, exc: Exception) -> None:  # a bug must not kill the worker: log and go on
        self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}")

    def _warn_throttled(self, key: str, text: str) -> None:
        # The first occurrence of each kind is always logged; repeats at most every 5 s.
        if key in self._warned:
            self.get_logger().warning(text, throttle_duration_sec=5.0)
        else:
            self._warned.add(key)
            self.get_logger().warning(text)

    def _process(self, image: Image, det: Detection2DArray, depth: Image | None,
                 hands: Detection2DArray | None) -> None:
        s, pipeline = self.settings, self.pipeline
        if pipeline is None:
            return
        if s.max_frame_age_sec > 0:
            age = (self.get_clock().now().nanoseconds - stamp_ns(image.header)) / 1e9
            if age > s.max_frame_age_sec:
                self.counters.frames_dropped_stale += 1
                self._warn_throttled("stale", f"dropping frame {age:.2f} s old "
                                     f"(max_frame_age_sec {s.max_frame_age_sec})")
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
        info = self._camera_info
        k = np.asarray(info.k, np.float64).reshape(3, 3) if info is not None else None
        depth_m = self._decode_depth(depth) if depth is not None and info is not None else None
        t_decode = time.perf_counter() - t0
        prepared = pipeline.prepare(rgb, detections_from_msg(det), detections_from_msg(hands), depth_m, k,
                                    stamp_ns(image.header))
        if prepared.demonstration is not None:  # published now: the frame itself may yet be dropped
            self._publish_demonstration(image.header, prepared.demonstration)
        job = (image.header, prepared, pipeline, t0, t_decode, False)
        if not prepared.needs_inference:
            self._complete(job, refresh=False)  # all reused: no wait for an inference in flight
            job = job[:-1] + (True,)  # old results due for a refresh are recomputed in the background
        if prepared.needs_inference or prepared.refresh:
            replaced = self._inference.submit(job)
            if replaced is not None and not replaced[-1]:
                with self._lock:
                    self.counters.frames_dropped_busy += 1  # the newest frame replaced one waiting for the model

    def _infer(self, job) -> None:
        header, prepared, pipeline, t0, t_decode, refresh_only = job
        if not refresh_only:
            self._complete(job)
            return
        computed = pipeline.refresh(prepared)
        with self._lock:
            self.counters.objects_processed += computed

    def _complete(self, job, refresh: bool = True) -> None:
        header, prepared, pipeline, t0, t_decode, _ = job
        result = pipeline.complete(prepared, refresh)
        t1 = time.perf_counter()
        with self._publish_lock:  # both stages publish: in stamp order, an older frame is dropped
            # in stamp order; a stamp older by more than a time jump is a new time line (bag replayed in a loop)
            published = (prepared.stamp_ns >= self._last_published
                         or self._last_published - prepared.stamp_ns > self._inputs.jump_ns)
            if published:
                self._last_published = prepared.stamp_ns
                self._publish(header, prepared.rgb, result, pipeline.actions)
        t2 = time.perf_counter()
        with self._lock:
            self.counters.add(result.counts.as_dict())
            self.counters.frames_processed += published
            self.counters.frames_dropped_busy += not published  # a newer frame was published meanwhile
        for kind, text in result.warnings:
            self._warn_throttled(kind, text)
        if published:
            times = result.times
            self.latency.add_frame({"preprocess": t_decode + times.preprocess, "inference": times.inference,
                                    "postprocess": times.postprocess, "publish": t2 - t1, "total": t2 - t0})

    def _decode_depth(self, depth: Image) -> np.ndarray | None:
        try:
            return depth_to_metres(depth)
        except (UnsupportedEncoding, CorruptImage) as exc:
            self.counters.depth_unusable += 1
            self._warn_throttled("depth", f"depth ignored: {exc}")
            return None

    def _publish(self, header, rgb: np.ndarray, result: FrameResult, actions: tuple[str, ...]) -> None:
        msg = hotspot_array(header, actions, result.objects)
        self._pubs["hotspots"].publish(msg)
        self._pubs["markers"].publish(peak_markers(msg, self.settings.marker_lifetime_sec,
                                                   [o.markers for o in result.objects]))
        if self._pubs["overlay"].get_subscription_count() > 0:
            labels = [(o.label, o.hotspots) for o in result.objects]
            self._pubs["overlay"].publish(overlay_image(header, rgb, actions, labels, self.settings.overlay_threshold,
                                                        self.settings.overlay_top_k))
            self.counters.overlays_rendered += 1

    def _publish_demonstration(self, header, demonstration) -> None:
        from .demonstration_msg import interaction_recognition

        rec = interaction_recognition(header, demonstration)
        self._pubs["demonstrations"].publish(rec)
        self.get_logger().info(f"demonstration recognised: {rec.action} {rec.object}")

    # -------------------------------------------------------------------------------- outputs
    def _publish_actions(self) -> None:
        msg = HotspotArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.action_names = list(self.pipeline.actions)
        self._pubs["actions"].publish(msg)

    def stats_message(self) -> HotspotStats:
        with self._lock:
            counters = Counters(**self.counters.as_dict())
        return stats_message(self.get_clock().now().to_msg(), counters, self.latency)

    def counts(self) -> dict[str, int]:
        """Every counter, with the stamp matcher's and the accounting of images still waiting."""
        with self._lock:
            c = self.counters.as_dict()
            c.update(vars(self._inputs.counts))
            c["detections_unmatched"] += c.pop("detections_cleared")
            c["images_waiting"] = self._inputs.images.unmatched()
            c["images_matched_again"] = self._inputs.images.matched_again
            c["detections_waiting"] = self._inputs.waiting_detections()
            c["frames_in_worker"] = self._worker.pending() + self._inference.pending()
        return c

    def _publish_stats(self) -> None:
        msg = self.stats_message()
        self._pubs["stats"].publish(msg)
        self.get_logger().info(stats_line(msg))

    def publish_diagnostics(self) -> None:
        counts = self.counts()
        counts.update({f"accounting_{k}": v for k, v in frame_accounting(counts).items()})
        pipeline = self.pipeline
        level, message = level_and_message(pipeline is not None and bool(self._inputs_by_topic), counts,
                                           self._diag_before)
        self._diag_before = counts
        info = {"model": getattr(self, "_model_path", ""), "backend": pipeline.describe() if pipeline else "",
                "input_qos": self.settings.input_qos}
        self._diag_pub.publish(diagnostic_array(
            self.get_clock().now().to_msg(), f"{self.get_name()}: hotspots", self.get_fully_qualified_name(),
            level, message, counts, self.latency.percentiles(), self.latency.rate_hz(), info))
