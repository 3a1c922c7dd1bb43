"""Result reuse (hotspot_core.reuse via FramePipeline) on synthetic sequences built from the bundled sample
frames, with the shipped demo model: identical crops reuse exactly what recomputing gives; a slid, swapped
or hand-occluded object is recomputed; hand contact and stability rules still apply; the counts add up."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from hotspot_core.errors import ConfigError
from hotspot_core.frame import Detection, FrameConfig, FramePipeline, InferenceConfig, load_predictor
from hotspot_core.image.boxes import iou
from hotspot_core.reuse import ReuseConfig

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "demo"
MS = 1_000_000  # stamps in ns


def sample(i: int) -> tuple[np.ndarray, list[Detection]]:
    entry = json.loads((SAMPLES / "detections.json").read_text())["frames"][i]
    rgb = np.ascontiguousarray(cv2.imread(str(SAMPLES / entry["file"]))[..., ::-1])
    dets = [Detection(tuple(map(float, d["bbox"])), d["class_id"], d["score"], d["id"]) for d in entry["detections"]]
    return rgb, dets


@pytest.fixture(scope="module")
def predictor():
    return load_predictor(InferenceConfig(device="cpu"))[0]


def fresh(predictor, **reuse) -> FramePipeline:
    return FramePipeline(predictor, FrameConfig(reuse=ReuseConfig(**reuse)))


def recompute(predictor, rgb, dets, **kw):
    """The reference: the same frame through a pipeline with reuse off."""
    return FramePipeline(predictor, FrameConfig(reuse=ReuseConfig(enabled=False), **kw)).process(rgb, dets)


def assert_same_hotspots(a, b) -> None:
    assert a.roi == b.roi
    for name in ("scores", "action_indices", "maps", "map_max", "peaks"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def check_accounting(result) -> None:
    c = result.counts
    assert len(result.objects) == c.objects_processed + c.objects_reused
    assert sum(o.reused for o in result.objects) == c.objects_reused


# ------------------------------------------------------------------------------------------- scenes
def paste_scene(background: np.ndarray, patches: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    out = background.copy()
    for patch, x, y in patches:
        out[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return out


@pytest.fixture(scope="module")
def parts():
    """A plain background and two clearly different object patches cut from the sample frames."""
    rgb0, dets0 = sample(0)
    background = cv2.GaussianBlur(sample(4)[0], (0, 0), 25)
    a = rgb0[40:200, 180:320].copy()  # part of the cup
    b = np.ascontiguousarray(rgb0[200:360, 90:230][::-1, ::-1])  # a different region, turned round
    return background, a, b


def box_of(patch: np.ndarray, x: int, y: int) -> tuple[float, float, float, float]:
    return float(x), float(y), float(x + patch.shape[1]), float(y + patch.shape[0])


# -------------------------------------------------------------------------------------------- tests
def test_identical_crops_reuse_exactly_what_recomputing_gives(predictor):
    rgb, dets = sample(0)
    pipeline = fresh(predictor)
    first = pipeline.process(rgb, dets, stamp_ns=1000 * MS)
    assert first.counts.objects_processed == len(dets) and not any(o.reused for o in first.objects)
    again = pipeline.process(rgb.copy(), dets, stamp_ns=1033 * MS)
    assert again.counts.objects_reused == len(dets) and again.counts.objects_processed == 0
    ref = recompute(predictor, rgb, dets)
    for obj, r in zip(again.objects, ref.objects):
        assert obj.reused and obj.computed_stamp_ns == 1000 * MS
        assert_same_hotspots(obj.hotspots, r.hotspots)

    # the whole picture shifted by (3, 2) px, boxes with it: identical crops at a new place. The reused
    # maps, re-anchored to the new boxes, equal a fresh computation there, peaks included.
    dx, dy = 3, 2
    shifted = np.zeros_like(rgb)
    shifted[dy:, dx:] = rgb[:-dy, :-dx]
    moved = [replace(d, box=(d.box[0] + dx, d.box[1] + dy, d.box[2] + dx, d.box[3] + dy)) for d in dets]
    inside = {
        d.detection_id
        for d in moved
        if d.box[0] > 30 and d.box[1] > 35 and d.box[2] < rgb.shape[1] - 50 and d.box[3] < rgb.shape[0] - 40
    }  # padded crops not clamped at the border
    assert inside, "the sample needs an object away from the border"
    out = pipeline.process(shifted, moved, stamp_ns=1066 * MS)
    # the reference batch has the same size and order as the one the reused results came from (a batch
    # of another size may differ in the last float bit)
    ref = {o.detection.detection_id: o for o in recompute(predictor, shifted, moved).objects}
    for obj in out.objects:
        if obj.detection.detection_id in inside:
            assert obj.reused
            assert_same_hotspots(obj.hotspots, ref[obj.detection.detection_id].hotspots)
    check_accounting(out)


def test_a_sliding_object_is_recomputed_once_it_has_drifted(predictor, parts):
    background, a, _ = parts
    cfg = ReuseConfig()
    pipeline = fresh(predictor)
    computed, recomputes, reuses = None, 0, 0  # the crop box the current result was computed on
    for step in range(16):
        x, y = 100 + 4 * step, 120
        det = Detection(box_of(a, x, y), "cup", 0.9, "cup-1")
        result = pipeline.process(paste_scene(background, [(a, x, y)]), [det], stamp_ns=(step + 1) * 33 * MS)
        (obj,) = result.objects
        check_accounting(result)
        roi = obj.hotspots.roi  # this frame's crop box (reused maps are re-anchored to it)
        if obj.reused:
            reuses += 1
            assert iou(roi, computed) >= cfg.min_box_iou, "reused although the box drifted too far"
            assert roi.x0 > 100 + 4 * step - 20, "reused maps must follow the box"
        else:
            if computed is not None:
                recomputes += 1
                # recomputed no later than the first frame past the tolerance
                prev = (roi.x0 - 4, roi.y0, roi.x1 - 4, roi.y1)
                assert iou(prev, computed) >= cfg.min_box_iou or iou(roi, computed) < cfg.min_box_iou
            computed = roi
    assert reuses > 0 and recomputes >= 2


def test_swapped_objects_are_recomputed(predictor, parts):
    background, a, b = parts
    pipeline = fresh(predictor)
    p1, p2 = (60, 100), (360, 100)
    scene = paste_scene(background, [(a, *p1), (b, *p2)])
    dets = [Detection(box_of(a, *p1), "cup", 0.9), Detection(box_of(b, *p2), "cup", 0.8)]  # no tracking ids
    pipeline.process(scene, dets, stamp_ns=33 * MS)
    assert pipeline.process(scene, dets, stamp_ns=66 * MS).counts.objects_reused == 2
    swapped = paste_scene(background, [(b, *p1), (a, *p2)])
    out = pipeline.process(swapped, dets, stamp_ns=99 * MS)
    assert out.counts.objects_processed == 2 and not any(o.reused for o in out.objects)
    for obj, r in zip(out.objects, recompute(predictor, swapped, dets).objects):
        assert_same_hotspots(obj.hotspots, r.hotspots)

    # with tracking ids that swap along with the objects: each id's box jumped, so recomputed too
    ids = [replace(dets[0], detection_id="A"), replace(dets[1], detection_id="B")]
    pipeline.process(scene, ids, stamp_ns=132 * MS)
    crossed = [replace(ids[0], box=ids[1].box), replace(ids[1], box=ids[0].box)]
    assert pipeline.process(swapped, crossed, stamp_ns=165 * MS).counts.objects_processed == 2


def test_a_hand_entering_the_crop_or_touching_the_object_forces_a_recompute(predictor, parts):
    background, a, _ = parts
    x, y = 200, 120
    scene = paste_scene(background, [(a, x, y)])
    det = Detection(box_of(a, x, y), "cup", 0.9, "cup-1")
    pipeline = fresh(predictor)
    pipeline.process(scene, [det], stamp_ns=33 * MS)
    assert pipeline.process(scene, [det], stamp_ns=66 * MS).counts.objects_reused == 1

    # a hand the detector missed covers part of the object: the crop changed, so recomputed
    hand = np.full((70, 60, 3), (224, 172, 150), np.uint8)
    occluded = paste_scene(scene, [(hand, x + 90, y + 20)])
    out = pipeline.process(occluded, [det], stamp_ns=99 * MS)
    assert out.counts.objects_processed == 1 and out.counts.objects_reused == 0

    # a detected hand touching the object: skipped while in contact, and not reused after the hand has gone
    # (the hand may have changed it unseen), even though the picture is the original again
    pipeline.process(scene, [det], stamp_ns=132 * MS)
    hand_box = Detection((x + 130.0, y + 20.0, x + 190.0, y + 90.0), "hand", 0.95, "h")
    touching = pipeline.process(occluded, [det, hand_box], stamp_ns=165 * MS)
    assert touching.objects == [] and touching.counts.objects_in_contact_skipped == 1
    after = pipeline.process(scene, [det], stamp_ns=198 * MS)
    assert after.counts.objects_processed == 1 and not after.objects[0].reused


def test_stability_rule_still_applies_with_reuse(predictor):
    rgb, dets = sample(1)
    pipeline = FramePipeline(predictor, FrameConfig(stability_frames=2))
    outs = [pipeline.process(rgb, dets, stamp_ns=(i + 1) * 33 * MS) for i in range(4)]
    assert [len(o.objects) for o in outs] == [0, 0, len(dets), len(dets)]
    assert outs[2].counts.objects_processed == len(dets) and outs[3].counts.objects_reused == len(dets)
    moved = [replace(d, box=(d.box[0] + 50, d.box[1], d.box[2] + 50, d.box[3])) for d in dets]
    out = pipeline.process(rgb, moved, stamp_ns=200 * MS)
    assert out.objects == [] and out.counts.objects_moving_skipped == len(dets)


def test_expiry_bounded_memory_and_switching_off(predictor):
    rgb, dets = sample(2)
    pipeline = fresh(predictor, expire_sec=0.5, max_entries=2)
    pipeline.process(rgb, dets, stamp_ns=1000 * MS)
    assert len(pipeline.cache) == min(2, len(dets))
    out = pipeline.process(rgb, dets, stamp_ns=1100 * MS)
    assert out.counts.objects_reused == min(2, len(dets))
    check_accounting(out)
    late = pipeline.process(rgb, dets, stamp_ns=1700 * MS)  # nothing seen for > 0.5 s: all expired
    assert late.counts.objects_reused == 0 and late.counts.objects_processed == len(dets)

    pipeline.configure(FrameConfig(reuse=ReuseConfig(enabled=False)))
    for i in range(2):
        off = pipeline.process(rgb, dets, stamp_ns=(1800 + i) * MS)
        assert off.counts.objects_processed == len(dets) and off.counts.objects_reused == 0
    assert len(pipeline.cache) == 0


def test_reuse_config_is_validated():
    with pytest.raises(ConfigError, match="min_box_iou"):
        ReuseConfig(min_box_iou=0.0)
    with pytest.raises(ConfigError, match="max_entries"):
        ReuseConfig(max_entries=0)


def test_sensor_noise_keeps_reusing_and_a_swap_of_appearance_does_not(predictor):
    from hotspot_core.image.boxes import pad_and_clamp
    from hotspot_core.reuse import difference, fingerprint

    rgb, dets = sample(3)
    noisy = np.clip(rgb + np.random.default_rng(0).normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    pipeline = fresh(predictor)
    pipeline.process(rgb, dets, stamp_ns=33 * MS)
    out = pipeline.process(noisy, dets, stamp_ns=66 * MS)
    assert out.counts.objects_reused == len(dets), "camera noise must not defeat reuse"
    cfg = ReuseConfig()
    rois = [pad_and_clamp(d.box, 0.1, rgb.shape[1], rgb.shape[0], 8) for d in dets]
    other = sample(0)[0]
    assert all(
        difference(fingerprint(rgb, r, cfg.fingerprint_size), fingerprint(other, r, cfg.fingerprint_size))
        > cfg.max_difference
        for r in rois
    ), "another picture in the same boxes must differ"


def test_old_results_are_refreshed_and_prepare_complete_split(predictor):
    rgb, dets = sample(4)
    pipeline = fresh(predictor, max_age_sec=0.2)
    pipeline.process(rgb, dets, stamp_ns=1000 * MS)
    young = pipeline.prepare(rgb, dets, stamp_ns=1100 * MS)
    assert not young.needs_inference and young.refresh == []
    old = pipeline.prepare(rgb, dets, stamp_ns=1300 * MS)  # 0.3 s after the computation: due for a refresh
    assert not old.needs_inference and len(old.refresh) == 1  # one object per frame, not all at once
    quick = pipeline.complete(old, refresh=False)  # a front end that must not wait: the older results now ...
    assert quick.counts.objects_reused == len(dets) and quick.counts.objects_processed == 0
    assert pipeline.refresh(old) == 1  # ... and the refresh in the background
    after = pipeline.process(rgb, dets, stamp_ns=1333 * MS)  # process() refreshes the next one in place
    assert after.counts.objects_processed == 1 and after.counts.objects_reused == len(dets) - 1
    stamps = {o.detection.detection_id: o.computed_stamp_ns for o in after.objects}
    assert sorted(stamps.values()) == sorted([1000 * MS] * (len(dets) - 2) + [1300 * MS, 1333 * MS])
    check_accounting(after)
    for k in range(len(dets)):
        pipeline.process(rgb, dets, stamp_ns=(1366 + 33 * k) * MS)
    last = pipeline.process(rgb, dets, stamp_ns=1500 * MS)
    assert all(o.computed_stamp_ns >= 1300 * MS for o in last.objects), "every old result got refreshed"
