"""The one-command demo (`make demo`), end to end as shipped: processes, MCAP, overlay PNGs, summary."""

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

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ros_env import ros_env  # noqa: E402,F401

from hotspot_core.demo_model import demo_model_path  # noqa: E402
from hotspot_core.hotspots.checkpoint import read_metadata  # noqa: E402
from hotspot_core.image.overlay_grid import contact_sheet  # noqa: E402
from hotspot_ros.recorder import CONTACT_SHEET, overlay_pngs  # noqa: E402
from hotspot_ros.sample_source import DEFAULT_SAMPLES, load_samples  # noqa: E402

pytestmark = pytest.mark.slow


def test_demo_records_every_processed_frame(ros_env, tmp_path):
    """`make demo` as shipped (the shipped model, rate and node YAML); only the output folder differs."""
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "hotspot_ros.demo", "--output", str(out)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frames published 18" in proc.stdout and "p50" in proc.stdout

    summary = json.loads((out / "summary.json").read_text())
    node = summary["node"]
    assert summary["hotspot_messages"] == node["frames_processed"] > 0
    assert node["frames_processed"] + node["frames_dropped_busy"] + node["frames_dropped_stale"] <= 18
    assert summary["overlay_pngs"] == summary["hotspot_messages"]
    # All frames on one contact sheet next to them: one tile per overlay PNG, in stamp order.
    frames = overlay_pngs(out / "overlays")
    assert len(frames) == summary["overlay_pngs"] and summary["contact_sheet"] == str(out / "overlays" / CONTACT_SHEET)
    written = cv2.imread(summary["contact_sheet"])[..., ::-1]
    images = [cv2.imread(str(p))[..., ::-1] for p in frames]
    layout = contact_sheet(images, [""] * len(images))  # same tiles whatever the captions say
    assert written.shape == layout.image.shape and len(layout.tiles) == len(frames)
    for image, tile in zip(images, layout.tiles):
        small = cv2.resize(image, (tile.width, tile.height), interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(written[tile.y0 : tile.y1, tile.x0 : tile.x1].astype(int) - small).mean() < 1.0

    samples = load_samples(DEFAULT_SAMPLES)
    expected_objects = {len(d) for _, d in samples}
    reader = mcap_reader.make_reader(
        open(out / "hotspots.mcap", "rb"), decoder_factories=[ros2_decoder.DecoderFactory()]
    )
    assert reader.get_header().profile == "ros2"
    decoded = [m for *_, m in reader.iter_decoded_messages(topics=["/hotspots"])]
    actions = list(read_metadata(demo_model_path())[0].actions)
    assert len(decoded) == summary["hotspot_messages"]
    for msg in decoded:
        assert list(msg.action_names) == actions and msg.header.frame_id == "camera_color_optical_frame"
        assert len(msg.objects) in expected_objects
        for o in msg.objects:
            assert len(o.action_scores) == len(actions) and len(o.map_action_indices) >= 1
            assert len(o.maps) == len(o.map_action_indices) * o.map_height * o.map_width


def test_contact_sheet_tiles_follow_the_stamps(tmp_path):
    """Frames in stamp order (9 s before 10 s, not by name), one tile each; an unreadable PNG is left off."""
    from hotspot_ros.recorder import write_contact_sheet

    samples = load_samples(DEFAULT_SAMPLES)
    frames = [samples[i][0] for i in (0, 6, 14)]  # three different scenes
    for (sec, nsec), rgb in zip([(10, 0), (9, 500_000_000), (10, 250_000_000)], frames):
        cv2.imwrite(str(tmp_path / f"overlay_{sec}.{nsec:09d}.png"), np.ascontiguousarray(rgb[..., ::-1]))
    (tmp_path / "overlay_11.000000000.png").write_bytes(b"not a png")
    sheet_path = write_contact_sheet(tmp_path)
    assert sheet_path == tmp_path / CONTACT_SHEET
    written = cv2.imread(str(sheet_path))[..., ::-1]
    ordered = [frames[1], frames[0], frames[2]]
    layout = contact_sheet(ordered, [""] * 3)
    assert written.shape == layout.image.shape and len(layout.tiles) == 3
    for image, tile in zip(ordered, layout.tiles):
        small = cv2.resize(image, (tile.width, tile.height), interpolation=cv2.INTER_AREA).astype(int)
        assert np.abs(written[tile.y0 : tile.y1, tile.x0 : tile.x1].astype(int) - small).mean() < 1.0
    assert write_contact_sheet(tmp_path / "nothing") is None
