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


def jitter(det: Detection, px: float, rng: np.random.Generator) -> Detection:
    """The detection as a detector on a still scene reports it: centre and size moved by uniform offsets."""
    x0, y0, x1, y1 = det.box
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
    cx, cy, w, h = (v + rng.uniform(-px, px) for v in (cx, cy, w, h))
    return replace(det, box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))


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

    # a detector's boxes jitter on the still picture (centre and size, +-3 px): still reused, published on
    # the crop box the result was computed on (its maps are true there), with this frame's detection
    rng = np.random.default_rng(1)
    computed = {o.detection.detection_id: o.hotspots for o in first.objects}
    for k in range(5):
        jittered = [jitter(d, 3.0, rng) for d in dets]
        out = pipeline.process(rgb, jittered, stamp_ns=(1066 + 33 * k) * MS)
        assert out.counts.objects_reused == len(dets), f"jitter defeated reuse in frame {k}"
        for obj, d in zip(
            sorted(out.objects, key=lambda o: o.detection.detection_id), sorted(jittered, key=lambda d: d.detection_id)
        ):
            assert obj.detection == d
            assert_same_hotspots(obj.hotspots, computed[d.detection_id])
        check_accounting(out)


@pytest.mark.parametrize("tracking", [True, False], ids=["tracking-ids", "box-overlap"])
def test_a_slow_slide_is_recomputed_before_it_has_moved_4_px(predictor, parts, tracking):
    """1 px per frame with a jittering detector: a reused result is never for a place 4 px or more from
    where the object is now (the comparison is with the computation's crop, not the previous frame's)."""
    background, a, _ = parts
    rng = np.random.default_rng(2)
    pipeline = fresh(predictor)
    computed_x, recomputes = None, 0
    for step in range(24):
        x, y = 100 + step, 120
        det = jitter(Detection(box_of(a, x, y), "cup", 0.9, "cup-1" if tracking else ""), 2.0, rng)
        result = pipeline.process(paste_scene(background, [(a, x, y)]), [det], stamp_ns=(step + 1) * 33 * MS)
        (obj,) = result.objects
        check_accounting(result)
        if obj.reused:
            assert x - computed_x < 4, f"step {step}: reused a result computed {x - computed_x} px away"
        else:
            recomputes += 1
            computed_x = x
    assert recomputes >= 24 // 4


@pytest.mark.parametrize("tracking", [True, False], ids=["tracking-ids", "box-overlap"])
def test_changes_are_recomputed_under_detector_jitter(predictor, parts, tracking):
    """Jittering boxes (+-3 px) on a still scene reuse; the first frame after the object moved by 4-6 px,
    was replaced by another or a hand patch entered its crop is computed afresh (and equals a fresh
    computation on that frame)."""
    background, a, b = parts
    rng = np.random.default_rng(3)
    ident = "cup-1" if tracking else ""
    x, y = 200, 120
    hand = np.full((70, 60, 3), (224, 172, 150), np.uint8)
    changes = {
        "moved 4 px": lambda: paste_scene(background, [(a, x + 4, y)]),
        "moved 5 px diagonally": lambda: paste_scene(background, [(a, x - 4, y + 3)]),
        "moved 6 px": lambda: paste_scene(background, [(a, x, y - 6)]),
        "replaced": lambda: paste_scene(background, [(b[: a.shape[0], : a.shape[1]], x, y)]),
        "hand in the crop": lambda: paste_scene(background, [(a, x, y), (hand, x + 90, y + 20)]),
    }
    still = paste_scene(background, [(a, x, y)])
    t = 0
    for name, changed in changes.items():
        pipeline = fresh(predictor)
        for _ in range(4):
            t += 33
            out = pipeline.process(
                still, [jitter(Detection(box_of(a, x, y), "cup", 0.9, ident), 3.0, rng)], stamp_ns=t * MS
            )
        assert out.counts.objects_reused == 1, f"{name}: a still scene under jitter must reuse"
        t += 33
        det = jitter(Detection(box_of(a, x, y), "cup", 0.9, ident), 3.0, rng)
        image = changed()
        out = pipeline.process(image, [det], stamp_ns=t * MS)
        assert out.counts.objects_processed == 1 and not out.objects[0].reused, f"{name}: old result reused"
        assert_same_hotspots(out.objects[0].hotspots, recompute(predictor, image, [det]).objects[0].hotspots)


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


def test_a_new_crop_rule_recomputes(predictor):
    """Reused results stay on the crop they were computed on: a changed box_padding must not reuse them."""
    rgb, dets = sample(5)
    pipeline = fresh(predictor)
    pipeline.process(rgb, dets, stamp_ns=33 * MS)
    assert pipeline.process(rgb, dets, stamp_ns=66 * MS).counts.objects_reused == len(dets)
    pipeline.configure(replace(pipeline.config, box_padding=0.0))
    out = pipeline.process(rgb, dets, stamp_ns=99 * MS)
    assert out.counts.objects_processed == len(dets) and out.counts.objects_reused == 0
    for obj, r in zip(out.objects, recompute(predictor, rgb, dets, box_padding=0.0).objects):
        assert_same_hotspots(obj.hotspots, r.hotspots)
