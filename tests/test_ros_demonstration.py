"""Demonstration mode end to end: a real node process, a real DAN checkpoint, real messages.

A hand box touches an object box for a few frames and lets go; the node (``demonstration_mode: true``)
publishes one interaction_hotspots/InteractionRecognition on ``demonstrations``. The message builder is
also checked on its own (no node needed). The end-to-end test is skipped while the node does not
declare ``demonstration_mode``.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")
msgs = pytest.importorskip("interaction_hotspots.msg")
pytest.importorskip("vision_msgs.msg")
if not hasattr(msgs, "InteractionRecognition"):
    pytest.skip(
        "interaction_hotspots/InteractionRecognition not built: run scripts/setup_ros.sh .venv", allow_module_level=True
    )

import torch  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_client import Client, detections, rgb_image, start_node, stop_node  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

from hotspot_core.dan.checkpoint import save_dan  # noqa: E402
from hotspot_core.dan.demonstration import DemonstrationRecognizer, DemonstrationSettings  # noqa: E402
from hotspot_core.dan.model import DualAttentionNetwork  # noqa: E402
from hotspot_core.dan.predictor import DANPredictor  # noqa: E402
from hotspot_core.hotspots.checkpoint import save_checkpoint  # noqa: E402
from hotspot_core.hotspots.model import build_model  # noqa: E402
from hotspot_ros.demonstration_msg import hands_and_objects, interaction_recognition  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated"), pytest.mark.slow]

ACTIONS = ["hold", "push", "pour into"]
OBJECTS = ["mug", "bottle", "drawer"]
H, W = 96, 128
MUG = ("mug-1", "mug", 0.9, (80.0, 50.0, 30.0, 40.0))  # x 65..95, y 30..70
HAND_ON = ("h", "hand", 0.8, (100.0, 50.0, 14.0, 14.0))  # x 93..107: overlaps the mug
HAND_OFF = ("h", "hand", 0.8, (10.0, 10.0, 14.0, 14.0))


def tiny_dan() -> DualAttentionNetwork:
    torch.manual_seed(0)
    return DualAttentionNetwork(
        dict(
            backbone="resnet18_dilated",
            actions=ACTIONS,
            objects=OBJECTS,
            input_size=64,
            embed_dim=32,
            attention_dim=16,
            relation_dim=16,
            head_hidden=16,
            dropout=0.0,
        )
    )


def node_supports_demonstrations() -> bool:
    from hotspot_ros.params import PARAMS

    return "demonstration_mode" in PARAMS and "demonstration_model_path" in PARAMS


def test_message_from_a_result() -> None:
    rec = DemonstrationRecognizer(DANPredictor(tiny_dan()), DemonstrationSettings(contact_frames=2, release_frames=1))
    dets = detections(Header(), [MUG, HAND_ON])
    hands, objects = hands_and_objects([(dets, False), (None, True)], ["hand"])
    assert len(hands) == 1 and [o[:2] for o in objects] == [("mug-1", "mug")]
    img = np.zeros((H, W, 3), np.uint8)
    result = None
    for i, contact in enumerate([False, True, True, True, False]):
        hands, objects = hands_and_objects(
            [(detections(Header(), [MUG, HAND_ON if contact else HAND_OFF]), False)], ["hand"]
        )
        result = rec.add_frame(1_000_000_000 + i * 100_000_000, img, hands, objects) or result
    assert result is not None
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 1, 400_000_000
    msg = interaction_recognition(header, result)
    assert msg.header.frame_id == "cam" and (msg.clip_end.sec, msg.clip_end.nanosec) == (1, 400_000_000)
    assert (msg.clip_start.sec, msg.clip_start.nanosec) == (1, 0)
    assert msg.action in ACTIONS and msg.object in OBJECTS and msg.second_object in OBJECTS + [""]
    assert (msg.detection_id, msg.detection_class_id) == ("mug-1", "mug")
    assert msg.num_maps == 5 and len(msg.map_stamps) == 5 and msg.map_height == msg.map_width == 8
    maps = np.asarray(msg.object_attention, np.float32).reshape(5, 8, 8)
    assert np.allclose(maps.sum((1, 2)), 1.0, atol=1e-4) and len(msg.action_attention) == maps.size
    assert msg.has_box and msg.box.x_offset + msg.box.width <= W and msg.box.y_offset + msg.box.height <= H
    start = msg.action_start.sec * 10**9 + msg.action_start.nanosec
    end = msg.action_end.sec * 10**9 + msg.action_end.nanosec
    assert 1_000_000_000 <= start <= end <= 1_400_000_000


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    save_checkpoint(
        build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64}),
        folder / "hotspots.safetensors",
    )
    save_dan(tiny_dan(), folder / "dan.safetensors")
    return folder / "hotspots.safetensors", folder / "dan.safetensors"


@pytest.mark.skipif(
    not node_supports_demonstrations(),
    reason="hotspot_node does not declare demonstration_mode / demonstration_model_path yet "
    "(hotspot_ros/demonstration.py is not wired into hotspot_ros/node.py)",
)
def test_node_publishes_one_demonstration_per_interaction(ros_env, paths, tmp_path):
    from interaction_hotspots.msg import InteractionRecognition

    from hotspot_ros.params import PARAMS

    assert PARAMS["demonstration_mode"].default is False  # off by default
    hotspot_model, dan_model = paths
    client = Client(name="demo_client", namespace="/demo")
    got: list = []
    client.node.create_subscription(
        InteractionRecognition,
        "demonstrations",
        got.append,
        QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
    )
    log = tmp_path / "node.log"
    proc = start_node(
        {
            "model_path": str(hotspot_model),
            "demonstration_mode": True,
            "demonstration_model_path": str(dan_model),
            "stats_period_sec": 0.5,
        },
        log_path=log,
        namespace="/demo",
    )
    try:
        assert client.wait_for_node(), f"node never subscribed; log:\n{log.read_text()}"
        assert client.spin_until(lambda: client.node.count_publishers("/demo/demonstrations") > 0, 30.0), (
            f"no demonstrations publisher; log:\n{log.read_text()}"
        )
        sent = []
        # 3 frames with the hand away, 4 touching the mug, 3 away again: one interaction
        for i, hand in enumerate([HAND_OFF] * 3 + [HAND_ON] * 4 + [HAND_OFF] * 3):
            img = rgb_image(H, W, (2000 + i, 0), frame_id="cam", seed=i)
            out = client.send_until_output(img, detections(img.header, [MUG, hand]))
            assert out is not None, f"frame {i} was not processed; log:\n{log.read_text()}"
            sent.append(img.header.stamp)
            if i < 5:
                assert not got, "recognised before the interaction was established"
        assert client.spin_until(lambda: bool(got), 60.0), f"no InteractionRecognition; log:\n{log.read_text()}"
        client.spin_until(lambda: False, 1.0)
        assert len(got) == 1, "one message per interaction"
        msg = got[0]
        assert msg.header.frame_id == "cam" and msg.header.stamp == sent[8]  # released for 2 frames
        assert msg.clip_end == sent[8] and msg.clip_start == sent[0]
        assert msg.action in ACTIONS and msg.object in OBJECTS
        assert (msg.detection_id, msg.detection_class_id) == ("mug-1", "mug")
        assert msg.num_maps == 9 and list(msg.map_stamps) == sent[:9]
        n = msg.num_maps * msg.map_height * msg.map_width
        assert len(msg.object_attention) == len(msg.action_attention) == n
        maps = np.asarray(msg.object_attention, np.float32).reshape(msg.num_maps, -1)
        assert np.allclose(maps.sum(1), 1.0, atol=1e-4)
        assert msg.has_box and msg.box.x_offset + msg.box.width <= W and msg.box.y_offset + msg.box.height <= H
        assert proc.poll() is None
    finally:
        stop_node(proc)
        client.close()
