"""config/coco_detector.yaml loaded into the real node: a COCO detector's person and dining table are not
processed, cups and bottles are (once at rest), and the preset's values are the node's parameters."""

from __future__ import annotations

import os
import sys

import pytest
import yaml

rclpy = pytest.importorskip("rclpy")
pytest.importorskip("interaction_hotspots.msg")
pytest.importorskip("vision_msgs.msg")


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_client import ROOT, Client, detections, rgb_image, start_node, stop_node, tiny_model  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

pytestmark = [pytest.mark.filterwarnings("ignore:module 'sre_(parse|constants)' is deprecated"), pytest.mark.slow]
PRESET = ROOT / "config" / "coco_detector.yaml"


def test_preset_names_only_known_parameters_and_leaves_person_and_table_out():
    from hotspot_ros.params import PARAMS, validate

    values = yaml.safe_load(PRESET.read_text())["/**"]["ros__parameters"]
    assert set(values) <= set(PARAMS) and all(validate(k, v) is None for k, v in values.items())
    assert "person" not in values["object_classes"] and "dining table" not in values["object_classes"]
    assert {"cup", "bottle", "bowl", "knife", "scissors"} <= set(values["object_classes"])


def test_coco_preset_in_the_real_node(ros_env, tmp_path):  # noqa: F811
    model = tiny_model(tmp_path / "m.safetensors", ["hold", "push"])
    client = Client("coco_client", namespace="/coco")
    log = tmp_path / "node.log"
    proc = start_node({"model_path": str(model)}, ["--params-file", str(PRESET)], log_path=log, namespace="/coco")
    try:
        assert client.wait_for_node(), log.read_text()
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python

        names = ["object_classes", "hand_classes", "stability_frames", "min_detection_score"]
        req = GetParameters.Request(names=names)
        got = client._call(GetParameters, f"{client.target}/get_parameters", req).values
        got = dict(zip(names, (parameter_value_to_python(v) for v in got)))
        preset = yaml.safe_load(PRESET.read_text())["/**"]["ros__parameters"]
        assert got == {n: preset[n] for n in names}

        boxes = [
            ("", "person", 0.95, (80.0, 60.0, 150.0, 118.0)),
            ("", "dining table", 0.9, (80.0, 95.0, 160.0, 50.0)),
            ("", "cup", 0.8, (50.0, 70.0, 24.0, 30.0)),
            ("", "bottle", 0.7, (110.0, 60.0, 20.0, 50.0)),
            ("", "cup", 0.3, (20.0, 20.0, 20.0, 20.0)),  # under min_detection_score
        ]
        outs = []
        for i in range(5):  # stability_frames 3: objects come out once their boxes stayed put
            img = rgb_image(120, 160, (3000 + i, 0), seed=1)
            out = client.send_until_output(img, detections(img.header, boxes))
            assert out is not None, log.read_text()[-2000:]
            outs.append(out)
        assert outs[0].objects == [], "no history yet: not known to be at rest"
        assert [o.class_id for o in outs[-1].objects] == ["cup", "bottle"]
        assert proc.poll() is None
    finally:
        client.close()
        stop_node(proc)
