"""Test-side helpers for talking to a hotspot node process over the real middleware.

The node runs in its own process (``python -m hotspot_ros.run``); this module gives the test process an
rclpy node that publishes camera frames/detections, collects outputs and calls lifecycle and parameter
services, always waiting on real events with deadlines (never bare sleeps).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from interaction_hotspots.msg import HotspotArray, HotspotStats
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.msg import ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 90.0  # importing torch and loading the model on a loaded 2-core machine


def start_node(
    params: dict, extra_args: list[str] = (), log_path: Path | None = None, namespace: str = "/"
) -> subprocess.Popen:
    """Start the node as its own process with ``-p name:=value`` overrides of config/hotspot.yaml."""
    cmd = [sys.executable, "-m", "hotspot_ros.run", *extra_args, "--ros-args", "-r", f"__ns:={namespace}"]
    for k, v in params.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, list):
            v = "[" + ",".join(f"'{x}'" for x in v) + "]"
        cmd += ["-p", f"{k}:={v}"]
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())


def stop_node(proc: subprocess.Popen) -> int:
    """SIGINT, then SIGKILL after a grace period: the process is always gone afterwards."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    return proc.returncode


def tiny_model(path: Path, actions: list[str], seed: int = 0) -> Path:
    """A small real hotspot model (random ResNet-18 weights, 64 px) at ``path``: fast to load and run."""
    import torch

    from hotspot_core.hotspots.checkpoint import save_checkpoint
    from hotspot_core.hotspots.model import build_model

    torch.manual_seed(seed)
    save_checkpoint(build_model({"backbone": "resnet18_dilated", "actions": list(actions), "input_size": 64}), path)
    return path


def rgb_image(
    h: int, w: int, stamp: tuple[int, int], frame_id: str = "camera", seed: int = 0, encoding: str = "rgb8"
) -> Image:
    img = Image()
    img.header.stamp.sec, img.header.stamp.nanosec = stamp
    img.header.frame_id = frame_id
    img.height, img.width, img.encoding = h, w, encoding
    img.step = w * 3
    img.data = np.random.default_rng(seed).integers(0, 255, h * w * 3, dtype=np.uint8).tobytes()
    return img


def detections(header, boxes: list[tuple[str, str, float, tuple[float, float, float, float]]]) -> Detection2DArray:
    """boxes: (id, class, score, (cx, cy, w, h))."""
    msg = Detection2DArray()
    msg.header = header
    for det_id, cls, score, (cx, cy, w, h) in boxes:
        d = Detection2D()
        d.header = header
        d.id = det_id
        d.bbox.center.position.x, d.bbox.center.position.y = float(cx), float(cy)
        d.bbox.size_x, d.bbox.size_y = float(w), float(h)
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id, hyp.hypothesis.score = cls, float(score)
        d.results.append(hyp)
        msg.detections.append(d)
    return msg


class Client:
    """The test's own rclpy node: inputs to the hotspot node, its outputs collected per topic."""

    def __init__(self, name: str = "hotspot_test_client", namespace: str = "/") -> None:
        if not rclpy.ok():
            rclpy.init()
        self.node = Node(name, namespace=namespace)
        self.target = namespace.rstrip("/") + "/hotspot_node"
        self.hotspots: list[HotspotArray] = []
        self.stats: list[HotspotStats] = []
        self.actions: list[HotspotArray] = []
        self.overlays: list[Image] = []
        self.image_pub = self.node.create_publisher(Image, "image", 10)
        self.det_pub = self.node.create_publisher(Detection2DArray, "detections", 10)
        self.depth_pub = self.node.create_publisher(Image, "depth", 10)
        self.info_pub = self.node.create_publisher(CameraInfo, "camera_info", 10)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(HotspotArray, "hotspots", self.hotspots.append, reliable)
        self.node.create_subscription(HotspotStats, "hotspots/stats", self.stats.append, reliable)
        latched = QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
        )
        self.node.create_subscription(HotspotArray, "hotspots/actions", self.actions.append, latched)
        self._overlay_sub = None

    def subscribe_overlay(self) -> None:
        self._overlay_sub = self.node.create_subscription(
            Image,
            "hotspots/overlay",
            self.overlays.append,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
        )

    def unsubscribe_overlay(self) -> None:
        if self._overlay_sub is not None:
            self.node.destroy_subscription(self._overlay_sub)
            self._overlay_sub = None

    def spin_until(
        self, condition: Callable[[], bool], timeout: float, step: Callable[[], None] | None = None, period: float = 0.2
    ) -> bool:
        deadline = time.monotonic() + timeout
        next_step = 0.0
        while time.monotonic() < deadline:
            if condition():
                return True
            if step is not None and time.monotonic() >= next_step:
                step()
                next_step = time.monotonic() + period
            rclpy.spin_once(self.node, timeout_sec=0.05)
        return condition()

    def wait_for_node(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Until the hotspot node subscribes to our image and detection topics."""
        return self.spin_until(
            lambda: self.image_pub.get_subscription_count() > 0 and self.det_pub.get_subscription_count() > 0, timeout
        )

    def send_until_output(
        self,
        image: Image,
        dets: Detection2DArray,
        timeout: float = 60.0,
        match: Callable[[HotspotArray], bool] | None = None,
    ) -> HotspotArray | None:
        """Publish the pair repeatedly (discovery may still be completing) until a matching output arrives."""
        start = len(self.hotspots)
        match = match or (lambda m: m.header.stamp == image.header.stamp)

        def found():
            return next((m for m in self.hotspots[start:] if match(m)), None)

        def step():
            self.image_pub.publish(image)
            self.det_pub.publish(dets)

        self.spin_until(lambda: found() is not None, timeout, step, period=0.3)
        return found()

    def latest_stats(self, after: float, timeout: float = 30.0) -> HotspotStats | None:
        """The first stats message stamped after monotonic-ish wall time ``after`` (seconds since epoch)."""

        def fresh():
            return [s for s in self.stats if s.header.stamp.sec + s.header.stamp.nanosec / 1e9 > after]

        self.spin_until(lambda: bool(fresh()), timeout)
        got = fresh()
        return got[-1] if got else None

    def _call(self, srv_type, name: str, request, timeout: float = 30.0):
        cli = self.node.create_client(srv_type, name)
        try:
            if not self.spin_until(cli.service_is_ready, timeout):
                raise TimeoutError(f"service {name} not available")
            future = cli.call_async(request)
            self.spin_until(future.done, timeout)
            if not future.done():
                raise TimeoutError(f"service {name} did not answer")
            return future.result()
        finally:
            self.node.destroy_client(cli)

    def change_state(self, transition_id: int, node: str | None = None) -> bool:
        req = ChangeState.Request()
        req.transition = Transition(id=transition_id)
        return self._call(ChangeState, f"{node or self.target}/change_state", req, timeout=120.0).success

    def get_state(self, node: str | None = None) -> str:
        return self._call(GetState, f"{node or self.target}/get_state", GetState.Request()).current_state.label

    def set_parameters(self, values: dict, node: str | None = None):
        req = SetParameters.Request()
        for name, v in values.items():
            pv = ParameterValue()
            if isinstance(v, bool):
                pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, v
            elif isinstance(v, int):
                pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, v
            elif isinstance(v, float):
                pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, v
            elif isinstance(v, list):
                pv.type, pv.string_array_value = ParameterType.PARAMETER_STRING_ARRAY, v
            else:
                pv.type, pv.string_value = ParameterType.PARAMETER_STRING, str(v)
            req.parameters.append(ParameterMsg(name=name, value=pv))
        return self._call(SetParameters, f"{node or self.target}/set_parameters", req).results

    def close(self) -> None:
        self.node.destroy_node()
