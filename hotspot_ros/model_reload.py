"""A new ``model_path`` at run time: checked cheaply in the parameter callback, loaded in the background,
swapped in between frames.

The parameter callback runs on the executor thread that serves every callback, and loading a model takes
seconds, so the callback only reads the file's safetensors header (exists, readable, a hotspot checkpoint
with a valid config; a refusal fails the set with the reason). A thread then builds and warms up the new
pipeline while the old one keeps serving. When it is done it triggers a guard condition: the result is
handled on the executor thread, like the parameter callback and the lifecycle transitions, so the swap
never races them. A load that fails there (weights that do not match their config, a truncated file) is
logged, counted and the parameter is set back to the model still serving.

The frame workers read ``node.pipeline`` once per frame and keep that object until the frame is published,
so replacing the attribute switches between frames: a frame in flight finishes on the old model, which is
freed when the last such frame lets go of it. The new pipeline has its own, empty result cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rclpy.parameter import Parameter

from hotspot_core.frame import FrameConfig, FramePipeline, InferenceConfig, load_predictor

from .install_hints import missing_module_message

PARAM = "model_path"


@dataclass
class _Loaded:
    generation: int
    value: str  # the parameter value that was asked for
    path: str  # the file it names (the demo model for "")
    pipeline: FramePipeline | None
    error: str


def check_checkpoint(value: str) -> str | None:
    """Why ``value`` (a model_path parameter value) cannot be a hotspot model, from its header only; None if
    it may load. Reads no weights, so the parameter callback stays fast."""
    from hotspot_core.errors import HotspotError
    from hotspot_core.hotspots.checkpoint import read_metadata

    path = resolve(value)
    try:
        _config, extra = read_metadata(path)
    except HotspotError as exc:  # missing, not safetensors, another format (a DAN checkpoint), bad config
        return str(exc)
    if extra.get("method", "hotspots") != "hotspots":
        return f"{path} is a {extra['method']!r} baseline checkpoint, not a hotspot model"
    return None


def resolve(value: str) -> str:
    """The file a model_path value names: the shipped demo model for the empty string."""
    from hotspot_core.demo_model import demo_model_path

    return value or str(demo_model_path())


class ModelReloader:
    """Owns the background load; the node calls ``request`` from its parameter callback and gets the loaded
    pipeline back through ``install(pipeline, path)`` on the executor thread."""

    def __init__(self, node: Any, install: Callable[[FramePipeline, str], bool]) -> None:
        self._node, self._install = node, install
        self._lock = threading.Lock()
        self._done: _Loaded | None = None
        self._generation = 0  # bumped by every load the node does itself: a background result is then stale
        self.loading = ""  # the model_path value being loaded in the background ("" when none)
        self.serving = ""  # the model_path value the serving model came from
        self.reloads = 0  # models switched at run time
        self.failed = 0  # changes refused in the callback or failed in the background
        self._guard = node.create_guard_condition(self._on_done)

    def loaded(self, value: str) -> None:
        """The node loaded the model of ``value`` itself (configure, activate): a background load is stale."""
        self._generation += 1
        self.serving, self.loading = value, ""

    def refusal(self, value: str) -> str | None:
        """Why a change of model_path to ``value`` is refused now (logged and counted), or None."""
        if value == self.serving and not self.loading:
            return None  # back to the model serving (the revert after a failed load): nothing to load
        if self.loading:
            why = f"a model is still loading ({resolve(self.loading)}); set {PARAM} again once it serves"
        else:
            why = check_checkpoint(value)
        if why:
            self.failed += 1
            self._node.get_logger().error(f"{PARAM} {value!r} refused: {why}; still serving {resolve(self.serving)}")
        return why

    def request(self, value: str, inference: InferenceConfig, frame: FrameConfig, warmup_runs: int) -> None:
        """Load ``value``'s model on a thread of its own; the result comes back on the executor thread."""
        self.loading = value
        generation = self._generation
        self._node.get_logger().info(
            f"{PARAM}: loading {resolve(value)} in the background; {resolve(self.serving)} serves until it is ready"
        )
        args = (generation, value, inference, frame, warmup_runs)
        threading.Thread(target=self._load, args=args, name="hotspot_model_load", daemon=True).start()

    def _load(
        self, generation: int, value: str, inference: InferenceConfig, frame: FrameConfig, warmup_runs: int
    ) -> None:
        path, pipeline, error = resolve(value), None, ""
        try:
            predictor, path = load_predictor(inference)
            pipeline = FramePipeline(predictor, frame)
            pipeline.warm_up(warmup_runs)  # here, not on the first frame it serves
        except ImportError as exc:  # an optional backend's module
            error = missing_module_message(exc, inference.backend)
        except Exception as exc:  # any failure must come back as a refusal, never kill the thread silently
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self._done = _Loaded(generation, value, path, pipeline, error)
        try:
            self._guard.trigger()
        except Exception:  # the node was destroyed during the load (shutdown): nobody is left to serve it
            pass

    def _on_done(self) -> None:
        with self._lock:
            done, self._done = self._done, None
        if done is None or done.generation != self._generation:
            return  # the node loaded a model itself meanwhile (configure, activate): that one counts
        self.loading = ""
        log = self._node.get_logger()
        if done.error:
            self.failed += 1
            log.error(
                f"{PARAM} {done.value!r} refused: cannot load {done.path}: {done.error}; "
                f"still serving {resolve(self.serving)}, {PARAM} set back to {self.serving!r}"
            )
            self._node.set_parameters([Parameter(PARAM, Parameter.Type.STRING, self.serving)])
            return
        if self._install(done.pipeline, done.path):
            self.serving = done.value
            self.reloads += 1
            log.info(f"{PARAM}: now serving {done.path} ({done.pipeline.describe()})")
        else:  # the model was freed meanwhile (deactivated): activation loads the parameter's model
            log.info(f"{PARAM}: {done.path} loaded while the node was not active; it is loaded at activation")

    def info(self) -> dict[str, Any]:
        """For /diagnostics."""
        return {
            "model_loading": resolve(self.loading) if self.loading else "",
            "model_reloads": self.reloads,
            "model_reloads_failed": self.failed,
        }
