"""hotspot_core.frame without ROS: the shipped demo model on the bundled sample frames (samples/demo)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from hotspot_core.demo_model import demo_model_path
from hotspot_core.errors import ConfigError, HotspotError
from hotspot_core.frame import (
    Detection,
    FrameConfig,
    FramePipeline,
    InferenceConfig,
    cuda_graph_batch_sizes,
    load_predictor,
)
from hotspot_core.image.boxes import pad_and_clamp
from hotspot_core.image.geometry import deproject

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "demo"


def sample(i: int) -> tuple[np.ndarray, list[Detection]]:
    entry = json.loads((SAMPLES / "detections.json").read_text())["frames"][i]
    rgb = np.ascontiguousarray(cv2.imread(str(SAMPLES / entry["file"]))[..., ::-1])
    dets = [Detection(tuple(map(float, d["bbox"])), d["class_id"], d["score"], d["id"]) for d in entry["detections"]]
    return rgb, dets


@pytest.fixture(scope="module")
def predictor():
    p, path = load_predictor(InferenceConfig(device="cpu"))
    assert Path(path) == demo_model_path()
    return p


def test_results_equal_the_predictor_on_the_same_crops(predictor):
    rgb, dets = sample(0)
    cfg = FrameConfig()  # the shipped defaults
    result = FramePipeline(predictor, cfg).process(rgb, dets)
    by_score = sorted(dets, key=lambda d: -d.score)
    assert [o.detection for o in result.objects] == by_score
    rois = [pad_and_clamp(d.box, cfg.box_padding, rgb.shape[1], rgb.shape[0], cfg.min_box_size_px) for d in by_score]
    direct = predictor.predict(rgb, rois)
    for obj, ref in zip(result.objects, direct):
        assert obj.hotspots.roi == ref.roi
        np.testing.assert_array_equal(obj.hotspots.maps, ref.maps)
        np.testing.assert_array_equal(obj.hotspots.scores, ref.scores)
        np.testing.assert_array_equal(obj.hotspots.peaks, ref.peaks)
        assert obj.positions is None and obj.markers is None  # no camera model given
    assert result.counts.objects_processed == len(dets)
    assert result.counts.as_dict().keys() >= {"objects_filtered", "boxes_degenerate"}
    assert result.times.inference > 0 and result.warnings == []


def test_hands_by_class_or_separate_list_skip_touched_objects(predictor):
    rgb, dets = sample(1)
    target = dets[0]
    x0, y0, x1, y1 = target.box
    hand_box = (x1 - 5.0, y0, x1 + 40.0, y0 + 40.0)  # overlaps the first object's right edge only
    untouched = [
        d
        for d in dets[1:]
        if not (d.box[0] < hand_box[2] and hand_box[0] < d.box[2] and d.box[1] < hand_box[3] and hand_box[1] < d.box[3])
    ]
    pipeline = FramePipeline(predictor, FrameConfig(contact_margin_px=0.0))
    by_class = pipeline.process(rgb, dets + [Detection(hand_box, "hand", 0.99, "h")])
    separate = pipeline.process(rgb, dets, hand_detections=[Detection(hand_box, "anything")])
    for result in (by_class, separate):
        ids = {o.detection.detection_id for o in result.objects}
        assert target.detection_id not in ids and "h" not in ids
        assert ids >= {d.detection_id for d in untouched}
        assert result.counts.objects_in_contact_skipped == len(dets) - len(ids)


def test_score_class_and_count_limits_are_counted(predictor):
    rgb, dets = sample(0)
    scores = sorted(d.score for d in dets)
    cfg = FrameConfig(min_detection_score=(scores[0] + scores[1]) / 2)
    result = FramePipeline(predictor, cfg).process(rgb, dets)
    assert len(result.objects) == len(dets) - 1 and result.counts.objects_filtered == 1
    only = dets[1].class_id
    result = FramePipeline(predictor, FrameConfig(object_classes=(only, ""))).process(rgb, dets)
    assert [o.detection.class_id for o in result.objects] == [only]
    assert result.counts.objects_filtered == len(dets) - 1
    result = FramePipeline(predictor, FrameConfig(max_objects=1)).process(rgb, dets)
    assert [o.detection.score for o in result.objects] == [scores[-1]]
    assert result.counts.objects_filtered == len(dets) - 1


def test_stability_rule_and_runtime_reconfiguration(predictor):
    rgb, dets = sample(2)
    pipeline = FramePipeline(predictor)
    assert len(pipeline.process(rgb, dets).objects) == len(dets)  # shipped default: stability off
    pipeline.configure(FrameConfig(stability_frames=2))
    first = pipeline.process(rgb, dets)
    assert first.objects == [] and first.counts.objects_moving_skipped == len(dets)  # no history yet
    moved = [
        Detection((d.box[0] + 60, d.box[1], d.box[2] + 60, d.box[3]), d.class_id, d.score, d.detection_id) for d in dets
    ]
    assert pipeline.process(rgb, moved).objects == []
    assert pipeline.process(rgb, dets).objects == []  # history still holds the moved boxes
    assert pipeline.process(rgb, dets).objects == []
    at_rest = pipeline.process(rgb, dets)
    assert len(at_rest.objects) == len(dets) and at_rest.counts.objects_moving_skipped == 0


def test_degenerate_boxes_are_counted_and_reported(predictor):
    rgb, dets = sample(0)
    h, w = rgb.shape[:2]
    bad = [
        Detection((50.0, 50.0, 50.0, 60.0), "cup", 0.9, "zero"),
        Detection((w + 10.0, h + 10.0, w + 30.0, h + 30.0), "cup", 0.9, "outside"),
        Detection((math.nan, 10.0, 20.0, 20.0), "cup", 0.9, "nan"),
    ]
    result = FramePipeline(predictor).process(rgb, bad + dets[:1])
    assert [o.detection.detection_id for o in result.objects] == [dets[0].detection_id]
    assert result.counts.boxes_degenerate == 3
    assert [kind for kind, _ in result.warnings] == ["degenerate"] * 3


def test_peaks_in_3d_from_depth_and_intrinsics(predictor):
    rgb, dets = sample(3)
    h, w = rgb.shape[:2]
    k = np.array([[500.0, 0, w / 2], [0, 500.0, h / 2], [0, 0, 1]])
    depth = np.full((h, w), 1.25, np.float32)
    depth[: h // 2] = np.nan  # no reading in the top half: those markers sit at the default depth
    pipeline = FramePipeline(predictor, FrameConfig(marker_default_depth_m=0.7))
    result = pipeline.process(rgb, dets, depth_m=depth, intrinsics=k)
    seen = set()
    for obj in result.objects:
        for (u, v, _), pos, marker in zip(obj.hotspots.peaks, obj.positions, obj.markers):
            valid = math.floor(v) >= h // 2 + 2  # the 5x5 depth window lies below the NaN rows
            if valid:
                assert pos == pytest.approx(deproject(u, v, 1.25, k)) and marker == pos
            elif math.floor(v) < h // 2 - 2:
                assert pos is None and marker == pytest.approx(deproject(u, v, 0.7, k))
            seen.add(pos is None)
    assert seen == {True, False}, "the sample peaks should fall on both halves"

    misaligned = pipeline.process(rgb, dets, depth_m=depth[:-1], intrinsics=k)
    assert misaligned.counts.depth_unusable == 1 and ("depth" in dict(misaligned.warnings))
    assert all(p is None for o in misaligned.objects for p in o.positions)
    assert all(m is not None for o in misaligned.objects for m in o.markers)

    no_model = pipeline.process(rgb, dets, depth_m=depth, intrinsics=np.zeros((3, 3)))
    assert "camera_info" in dict(no_model.warnings)
    assert all(o.positions is None and o.markers is None for o in no_model.objects)


def test_config_errors_are_hotspot_errors():
    with pytest.raises(ConfigError, match="max_objects"):
        FrameConfig(max_objects=0)
    with pytest.raises(HotspotError, match="stability_iou"):
        FrameConfig(stability_iou=1.5)
    assert FrameConfig(object_classes=("",), hand_classes=("hand", "")).object_classes == ()


def test_cuda_graph_batch_sizes():
    assert cuda_graph_batch_sizes(16, False) == (1,)
    assert cuda_graph_batch_sizes(16, True) == (1, 2, 4, 8, 16)
    assert cuda_graph_batch_sizes(3, True) == (1, 2, 3)
    assert cuda_graph_batch_sizes(1, True) == (1,)


def test_missing_demonstration_checkpoint_is_a_config_error(tmp_path):
    from hotspot_core.dan.demonstration import DemonstrationSettings

    missing = tmp_path / "none.safetensors"
    with pytest.raises(ConfigError, match="demonstration_model_path"):
        FramePipeline.load(
            InferenceConfig(device="cpu"), demonstration=DemonstrationSettings(), demonstration_model_path=str(missing)
        )


def test_demonstration_mode_defaults_to_the_shipped_dan():
    """An empty demonstration_model_path loads the shipped demo DAN (training.make_demo_dan), from a fresh clone."""
    from hotspot_core.dan.demonstration import DemonstrationSettings
    from hotspot_core.demo_model import demo_dan_path
    from training.synthetic import DAN_ACTIONS

    assert demo_dan_path().is_file()
    pipeline, _ = FramePipeline.load(InferenceConfig(device="cpu"), demonstration=DemonstrationSettings())
    assert tuple(pipeline.demonstrations.predictor.config.actions) == DAN_ACTIONS
