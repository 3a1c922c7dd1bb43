"""The interaction-hotspots lifecycle node: thin glue between ROS topics and hotspot_core.

Subscribes  image (sensor_msgs/Image), detections (vision_msgs/Detection2DArray),
            optional depth (sensor_msgs/Image 16UC1/32FC1, aligned) + camera_info, hand_detections.
Publishes   hotspots (interaction_hotspots/HotspotArray), hotspots/actions (latched, action names),
            hotspots/overlay (bgr8, rendered only while subscribed), hotspots/markers (MarkerArray),
            hotspots/stats (HotspotStats).
Lifecycle   configure: read parameters and load the model; activate: warm up and subscribe;
            deactivate: unsubscribe and free the model. ``autostart`` runs configure+activate at start.

The node only wires its parts together: ``FrameInputs`` (subscriptions, stamp matching, input accounting)
-> ``FrameRunner`` (two worker threads over ``hotspot_core.frame.FramePipeline``) -> ``Outputs`` (publishers);
``FrameBook`` holds the counters and latencies they share. Parameters, lifecycle and diagnostics stay here.
"""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter

from hotspot_core.errors import HotspotError
from hotspot_core.frame import FramePipeline

from .diagnostics import diagnostic_array, frame_accounting, level_and_message
from .frame_book import FrameBook
from .frame_inputs import FrameInputs
from .frame_runner import FrameRunner
from .install_hints import batch_profile_refusal, missing_module_message
from .model_reload import PARAM as MODEL_PARAM
from .model_reload import ModelReloader
from .outputs import Outputs
from .params import PARAMS, NodeSettings, apply_changes, descriptor

NODE_NAME = "hotspot_node"
MODEL_ERRORS = (HotspotError, RuntimeError, OSError)  # what loading a model may raise: a failed transition


class HotspotNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        for name, p in PARAMS.items():
            self.declare_parameter(name, p.default, descriptor(name))
        self.settings = self._read_settings()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.pipeline: FramePipeline | None = None  # the model and the per-frame rules (hotspot_core.frame)
        self._model_path = ""
        self.reloader = ModelReloader(self, self._install_model)  # model_path changed at run time
        self.book = FrameBook(self.get_logger())
        self.outputs = Outputs(self, self.book, lambda: self.settings, self.counts)
        self.runner = FrameRunner(
            self.book,
            lambda: (self.settings, self.pipeline),
            lambda: self.get_clock().now().nanoseconds,
            self.outputs.frame,
            self.outputs.demonstration,
            self._on_frame_error,
        )
        self.inputs = FrameInputs(
            self,
            self.book,
            lambda: self.settings,
            self.runner.submit,
            self._on_time_jump,
            self.settings.image_cache_size,
        )
        self.runner.inputs = self.inputs
        self._stats_timer = None
        # /diagnostics in every state until shutdown (ERROR while not active), at the stats period
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_before: dict[str, int] = {}
        self._diag_timer = self.create_timer(self.settings.stats_period_sec, self.publish_diagnostics)
        self.book.latency.idle_after_s = self.settings.stats_period_sec  # no output for a period: rate 0

    # -------------------------------------------------------------------------------- parameters
    def _read_settings(self) -> NodeSettings:
        return NodeSettings.from_values({name: self.get_parameter(name).value for name in PARAMS})

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Runtime-changeable values take effect on the next frame; read-only ones at the next configure.
        current = {n: self.get_parameter(n).value for n in PARAMS}
        new, why, later = apply_changes(current, {p.name: p.value for p in params})
        pipeline = self.pipeline
        if new is not None and pipeline is not None and new.max_objects != self.settings.max_objects:
            backend = pipeline.predictor.backend
            why = batch_profile_refusal(backend.name, getattr(backend, "max_batch", None), new.max_objects) or ""
            new = None if why else new
        if new is None:
            return SetParametersResult(successful=False, reason=why)
        # a model serving: a new model_path is checked here (header only) and loaded in the background
        reload = pipeline is not None and new.model_path != current[MODEL_PARAM]
        if reload and (why := self.reloader.refusal(new.model_path)):
            return SetParametersResult(successful=False, reason=why)
        if reload and new.model_path != self.reloader.serving:
            self.reloader.request(new.model_path, new.inference_config(), new.frame_config(), new.warmup_runs)
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
        except MODEL_ERRORS as exc:
            self.get_logger().error(f"configure failed: cannot load model: {exc}")
            return TransitionCallbackReturn.FAILURE
        except ImportError as exc:  # an optional backend's module (onnx, tensorrt) missing: say which
            self.get_logger().error(f"configure failed: {missing_module_message(exc, self.settings.backend)}")
            return TransitionCallbackReturn.FAILURE
        self.inputs.matcher.resize(self.settings.image_cache_size)
        self.outputs.create(self.settings.demonstration_mode)
        self.get_logger().info(f"configured: model {self._model_path} ({self.pipeline.describe()})")
        return TransitionCallbackReturn.SUCCESS

    def _load_model(self) -> None:
        s = self.settings
        demonstration = s.demonstration_settings() if s.demonstration_mode else None
        self.pipeline, self._model_path = FramePipeline.load(
            s.inference_config(), s.frame_config(), demonstration, s.demonstration_model_path
        )
        self.reloader.loaded(s.model_path)
        self.get_logger().info(f"inference: {self.pipeline.predictor.backend.describe()}")  # precision truly used

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.pipeline is None:  # freed by deactivate
            try:
                self._load_model()
            except MODEL_ERRORS as exc:
                self.get_logger().error(f"activate failed: cannot load model: {exc}")
                return TransitionCallbackReturn.FAILURE
            except ImportError as exc:
                self.get_logger().error(f"activate failed: {missing_module_message(exc, self.settings.backend)}")
                return TransitionCallbackReturn.FAILURE
        seconds = self.pipeline.warm_up(self.settings.warmup_runs)
        self.get_logger().info(f"warm-up {1000 * seconds:.0f} ms")
        result = super().on_activate(state)
        self.outputs.actions(self.pipeline.actions)
        self.inputs.subscribe()
        self.runner.start()
        self._stats_timer = self.create_timer(self.settings.stats_period_sec, self.outputs.stats)
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown_io()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.outputs.destroy()
        self._free_model()
        self.inputs.clear()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.shutdown_io()
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
            self._diag_timer = None
        return TransitionCallbackReturn.SUCCESS

    def shutdown_io(self) -> None:
        """Nothing runs or arrives afterwards: workers joined, subscriptions and timers gone, model freed."""
        self.runner.stop()  # a frame being processed finishes first
        self.inputs.destroy()
        if self._stats_timer is not None:
            self.destroy_timer(self._stats_timer)
            self._stats_timer = None
        self._free_model()

    def _free_model(self) -> None:
        if self.pipeline is None:
            return
        pipeline, self.pipeline = self.pipeline, None
        pipeline.close()

    def _install_model(self, pipeline: FramePipeline, path: str) -> bool:
        """Serve ``pipeline`` (loaded in the background) from the next frame on; False when no model serves
        (deactivated meanwhile). Frames in flight finish on the old one (the workers hold it per frame)."""
        old = self.pipeline
        if old is None:
            return False
        pipeline.configure(self.settings.frame_config())  # rules changed during the load
        # model-independent state carries over: objects stay at rest, a demonstration in progress goes on
        pipeline.stability, pipeline.demonstrations = old.stability, old.demonstrations
        self.pipeline, self._model_path = pipeline, path  # its result cache is its own: no old-model results
        if self.inputs.subscribed and pipeline.actions != old.actions:
            self.outputs.actions(pipeline.actions)  # latched: late subscribers get the new names
        return True

    def _on_time_jump(self) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.cache.clear()  # reusable results stamped on the old time line

    def _on_frame_error(self, exc: Exception) -> None:  # a bug must not kill a worker: log and go on
        self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}")

    # -------------------------------------------------------------------------------- accounting
    def counts(self) -> dict[str, int]:
        """Every counter, with the stamp matcher's and the accounting of frames still waiting."""
        with self.book.lock:
            c = self.book.counters.as_dict()
            c.update(self.inputs.counts_locked())
            c["detections_unmatched"] += c.pop("detections_cleared")
            c["frames_in_worker"] = self.runner.pending()
        return c

    def publish_diagnostics(self) -> None:
        counts = self.counts()
        counts.update({f"accounting_{k}": v for k, v in frame_accounting(counts).items()})
        pipeline = self.pipeline
        level, message = level_and_message(pipeline is not None and self.inputs.subscribed, counts, self._diag_before)
        self._diag_before = counts
        info = {
            "model": self._model_path,
            "backend": pipeline.describe() if pipeline else "",
            "input_qos": self.settings.input_qos,
            **self.reloader.info(),
        }
        self._diag_pub.publish(
            diagnostic_array(
                self.get_clock().now().to_msg(),
                f"{self.get_name()}: hotspots",
                self.get_fully_qualified_name(),
                level,
                message,
                counts,
                self.book.latency.percentiles(),
                self.book.latency.rate_hz(),
                info,
            )
        )
