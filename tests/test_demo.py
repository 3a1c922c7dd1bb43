"""The one-command demo, end to end on a small model: processes, MCAP, overlay PNGs, summary."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("rclpy")
pytest.importorskip("interaction_hotspots.msg")
mcap_reader = pytest.importorskip("mcap.reader")
ros2_decoder = pytest.importorskip("mcap_ros2.decoder")

import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_env import ros_env  # noqa: E402,F401

from hotspot_core.checkpoint import save_checkpoint  # noqa: E402
from hotspot_core.model import build_model  # noqa: E402
from hotspot_ros.sample_source import DEFAULT_SAMPLES, load_samples  # noqa: E402

pytestmark = pytest.mark.slow


def test_demo_records_every_processed_frame(ros_env, tmp_path):
    torch.manual_seed(0)
    model = tmp_path / "tiny.safetensors"
    save_checkpoint(build_model({"backbone": "resnet18_dilated", "actions": ["hold", "push"], "input_size": 64}), model)
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hotspot_ros.demo", "--output", str(out), "--model", str(model),
                           "--rate", "4"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frames published 18" in proc.stdout and "p50" in proc.stdout

    summary = json.loads((out / "summary.json").read_text())
    node = summary["node"]
    assert summary["hotspot_messages"] == node["frames_processed"] > 0
    assert node["frames_processed"] + node["frames_dropped_busy"] + node["frames_dropped_stale"] <= 18
    assert summary["overlay_pngs"] == summary["hotspot_messages"]

    samples = load_samples(DEFAULT_SAMPLES)
    expected_objects = {len(d) for _, d in samples}
    reader = mcap_reader.make_reader(open(out / "hotspots.mcap", "rb"), decoder_factories=[ros2_decoder.DecoderFactory()])
    assert reader.get_header().profile == "ros2"
    decoded = [m for *_, m in reader.iter_decoded_messages(topics=["/hotspots"])]
    assert len(decoded) == summary["hotspot_messages"]
    for msg in decoded:
        assert list(msg.action_names) == ["hold", "push"] and msg.header.frame_id == "camera_color_optical_frame"
        assert len(msg.objects) in expected_objects
        assert all(len(o.maps) == 2 * o.map_height * o.map_width for o in msg.objects)
