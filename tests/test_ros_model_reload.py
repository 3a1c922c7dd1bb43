"""A new model_path at run time, over the real middleware: a real node process, real checkpoints.

The node serves model A; model_path is set to model B (other actions) while frames flow: every frame is
answered, first by A, then by B, never a result cached under A after the switch, and the latched action
names are republished. Files that cannot be B are refused (in the parameter callback: missing, corrupt,
a DAN checkpoint; after the background load: weights that do not match their config, the parameter set
back) and A's successor keeps serving. Run by scripts/run_tests.sh (private network namespace).
"""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("interaction_hotspots.msg")
pytest.importorskip("vision_msgs.msg")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_client import Client, detections, rgb_image, start_node, stop_node, tiny_model  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

pytestmark = [pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated"), pytest.mark.slow]

ACTIONS_A = ["hold", "rotate", "push"]
ACTIONS_B = ["cut", "pour"]
H, W = 120, 160
MUG = ("mug-1", "mug", 0.9, (60.0, 60.0, 40.0, 50.0))
_stamp = [2000]


def frame(seed: int = 5):
    _stamp[0] += 1
    img = rgb_image(H, W, (_stamp[0], 0), frame_id="camera", seed=seed)
    return img, detections(img.header, [MUG])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    a, b = tiny_model(d / "a.safetensors", ACTIONS_A, 0), tiny_model(d / "b.safetensors", ACTIONS_B, 1)
    (d / "corrupt.safetensors").write_bytes(os.urandom(4096))
    # a readable header whose config does not match the weights (5 actions, weights for 2): only loading finds it
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(b), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    config = json.loads(meta["config"])
    config["actions"] = ["a1", "a2", "a3", "a4", "a5"]
    save_file(tensors, str(d / "mismatched.safetensors"), {**meta, "config": json.dumps(config)})
    from hotspot_core.dan.checkpoint import save_dan
    from hotspot_core.dan.model import DualAttentionNetwork

    dan = DualAttentionNetwork(
        dict(
            backbone="resnet18_dilated",
            actions=ACTIONS_A,
            objects=["mug"],
            input_size=64,
            embed_dim=16,
            attention_dim=8,
            relation_dim=8,
            head_hidden=8,
        )
    )
    save_dan(dan, d / "dan.safetensors")
    return {"a": a, "b": b, **{n: d / f"{n}.safetensors" for n in ("corrupt", "mismatched", "dan")}}


@pytest.fixture(scope="module")
def client(ros_env):
    c = Client(name="reload_client", namespace="/reload")
    c.diags = []
    c.node.create_subscription(DiagnosticArray, "/diagnostics", c.diags.append, 50)
    yield c
    c.close()


@pytest.fixture(scope="module")
def node(ros_env, files, tmp_path_factory, client):
    log = tmp_path_factory.mktemp("log") / "node.log"
    proc = start_node({"model_path": str(files["a"]), "stats_period_sec": 0.3}, log_path=log, namespace="/reload")
    proc.log_path = log
    try:
        assert client.wait_for_node(), f"node never subscribed; log:\n{log.read_text()}"
        yield proc
    finally:
        stop_node(proc)


def model_path_param(client) -> str:
    from rcl_interfaces.srv import GetParameters

    req = GetParameters.Request(names=["model_path"])
    return client._call(GetParameters, f"{client.target}/get_parameters", req).values[0].string_value


def diagnostics_after(client, t: float) -> dict[str, str]:
    """The node's first /diagnostics status stamped after wall time ``t``."""

    def find():
        for arr in client.diags:
            if arr.header.stamp.sec + arr.header.stamp.nanosec / 1e9 > t:
                for s in arr.status:
                    if s.hardware_id == client.target:
                        return {kv.key: kv.value for kv in s.values}
        return None

    assert client.spin_until(lambda: find() is not None, 30.0), "no /diagnostics"
    return find()


def serves(client, actions: list[str]) -> None:
    out = client.send_until_output(*frame(seed=7))
    assert out is not None and list(out.action_names) == actions


def test_switch_while_frames_flow(node, client, files):
    first = client.send_until_output(*frame())
    assert first is not None and list(first.action_names) == ACTIONS_A
    again = client.send_until_output(*frame())
    assert [o.reused for o in again.objects] == [True], "same pixels: A's result is reused (the cache is on)"

    result = client.set_parameters({"model_path": str(files["b"])})[0]
    assert result.successful, result.reason
    # every frame is answered while B loads and after: A serves until B is ready, then B, never back
    outs = []
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline and (not outs or list(outs[-1].action_names) != ACTIONS_B):
        out = client.send_until_output(*frame(), timeout=20.0)
        assert out is not None, f"frame {len(outs)} after the change got no output"
        outs.append(out)
    names = [list(o.action_names) for o in outs]
    assert names[-1] == ACTIONS_B, "B never served"
    assert all(n == ACTIONS_A for n in names[:-1]), names
    switched = outs[-1].objects[0]
    # the unchanged pixels had a result under A: after the switch it is computed by B, not reused
    assert not switched.reused and len(switched.action_scores) == len(ACTIONS_B)
    assert list(switched.map_action_indices) == [0, 1]
    later = client.send_until_output(*frame())
    assert list(later.action_names) == ACTIONS_B and [o.reused for o in later.objects] == [True]

    assert client.spin_until(lambda: client.actions and list(client.actions[-1].action_names) == ACTIONS_B, 10.0)
    late: list = []  # a subscriber that joins now gets B's names (latched)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    from interaction_hotspots.msg import HotspotArray

    sub = client.node.create_subscription(HotspotArray, "hotspots/actions", late.append, latched)
    assert client.spin_until(lambda: bool(late), 10.0)
    assert list(late[-1].action_names) == ACTIONS_B
    client.node.destroy_subscription(sub)

    d = diagnostics_after(client, time.time())
    assert d["model"] == str(files["b"]) and d["model_reloads"] == "1" and d["model_reloads_failed"] == "0", d
    assert d["model_loading"] == ""
    assert model_path_param(client) == str(files["b"])


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("absent", "not found"),
        ("corrupt", "not a readable safetensors"),
        ("dan", "not an interaction-hotspots checkpoint"),
    ],
)
def test_a_bad_file_is_refused_and_the_model_keeps_serving(node, client, files, name, why):
    bad = str(files.get(name, files["b"].parent / "absent.safetensors"))
    result = client.set_parameters({"model_path": bad})[0]
    assert not result.successful and why in result.reason and bad in result.reason, result.reason
    assert client.spin_until(lambda: f"'{bad}' refused" in node.log_path.read_text(), 10.0), "no log line"
    assert model_path_param(client) == str(files["b"])
    serves(client, ACTIONS_B)


def test_a_file_that_fails_to_load_is_logged_and_set_back(node, client, files):
    """The header is fine, so the change is accepted; the background load fails, B keeps serving."""
    before = int(diagnostics_after(client, time.time())["model_reloads_failed"])
    bad = str(files["mismatched"])
    assert client.set_parameters({"model_path": bad})[0].successful
    assert client.spin_until(lambda: f"cannot load {bad}" in node.log_path.read_text(), 30.0), "no log line"
    assert client.spin_until(lambda: model_path_param(client) == str(files["b"]), 10.0), "model_path not set back"
    serves(client, ACTIONS_B)
    d = diagnostics_after(client, time.time())
    assert d["model"] == str(files["b"]) and int(d["model_reloads_failed"]) == before + 1, d
    assert node.poll() is None
