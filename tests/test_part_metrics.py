"""hotspot_core.eval.part_metrics (issue 11) against hand-made maps: peak on the part, on the wrong part, a flat
map, an empty GT, and the specificity differences they imply."""

import math

import numpy as np
import pytest

from hotspot_core.eval.part_metrics import (
    PartItem,
    action_agnostic_map,
    format_part_metrics,
    oracle_map,
    part_metrics,
    peak_on_part,
    peak_point,
)

# A 100x200 (H x W) image: a "handle" box at rows 10-29, cols 150-189; the "body" at rows 40-99, cols 20-119.
SHAPE = (100, 200)
HANDLE = (10, 29, 150, 189)
BODY = (40, 99, 20, 119)


def _gt(box, size=28):
    """GT map over the straight-resized image: mass spread over the box."""
    g = np.zeros((size, size), np.float32)
    r0, r1, c0, c1 = box
    h, w = SHAPE
    g[int(r0 / h * size) : int((r1 + 1) / h * size), int(c0 / w * size) : int((c1 + 1) / w * size)] = 1.0
    return g / g.sum()


def _peaked(y, x, size=20):
    """A size x size map with its only maximum at the cell holding normalised point (y, x)."""
    m = np.full((size, size), 0.1, np.float32)
    m[int(y * size), int(x * size)] = 1.0
    return m


HANDLE_CENTRE = ((10 + 30) / 2 / 100, (150 + 190) / 2 / 200)  # (0.2, 0.85)
BODY_CENTRE = ((40 + 100) / 2 / 100, (20 + 120) / 2 / 200)  # (0.7, 0.35)


def test_peak_point_is_the_argmax_cell_centre_and_none_for_flat():
    m = np.zeros((4, 5))
    m[1, 3] = 2.0
    assert peak_point(m) == (pytest.approx(1.5 / 4), pytest.approx(3.5 / 5))
    assert peak_point(np.ones((4, 4))) is None
    assert peak_point(np.zeros((3, 3))) is None


def test_peak_on_the_part_hits_on_the_wrong_part_misses_flat_misses():
    hold = PartItem("img", 0, _gt(HANDLE), SHAPE, HANDLE, "handle")
    assert peak_on_part(_peaked(*HANDLE_CENTRE), hold) is True
    assert peak_on_part(_peaked(*BODY_CENTRE), hold) is False
    assert peak_on_part(np.full((20, 20), 0.3), hold) is False
    # Box edges: inclusive pixel rows/cols. Column 189 is inside (centre 189.5/200), 190 is not.
    one_px = np.zeros((100, 200))
    one_px[20, 189] = 1
    assert peak_on_part(one_px, hold) is True
    one_px[20, 189], one_px[20, 190] = 0, 1
    assert peak_on_part(one_px, hold) is False


def test_without_a_box_the_gt_region_is_the_part_and_an_empty_gt_is_not_scored():
    gt = _gt(HANDLE)
    item = PartItem("img", 0, gt, SHAPE)
    assert item.kind == "gt_region"
    assert peak_on_part(_peaked(*HANDLE_CENTRE), item) is True
    assert peak_on_part(_peaked(*BODY_CENTRE), item) is False
    empty = PartItem("img", 0, np.zeros((28, 28)), SHAPE)
    assert peak_on_part(_peaked(*HANDLE_CENTRE), empty) is None
    # A box still scores a pair whose points are empty (its GT map is all zero).
    boxed_empty = PartItem("img", 0, np.zeros((28, 28)), SHAPE, HANDLE, "handle")
    assert peak_on_part(_peaked(*HANDLE_CENTRE), boxed_empty) is True


def test_action_agnostic_map_weighs_actions_equally():
    a = np.zeros((2, 2, 2))
    a[0, 0, 0] = 10.0
    a[1, 1, 1] = 0.5
    np.testing.assert_allclose(action_agnostic_map(a), [[0.5, 0], [0, 0.5]])


def test_oracle_peaks_inside_the_part():
    item = PartItem("img", 0, _gt(HANDLE), SHAPE, HANDLE, "handle")
    assert peak_on_part(oracle_map(item), item) is True
    gt_only = PartItem("img", 0, _gt(BODY), SHAPE)
    assert peak_on_part(oracle_map(gt_only), gt_only) is True


def _two_action_items():
    # Action 0 ("hold") needs the handle, action 1 ("put down") the body; one more image with no map.
    return [
        PartItem("img", 0, _gt(HANDLE), SHAPE, HANDLE, "handle"),
        PartItem("img", 1, _gt(BODY), SHAPE, BODY, "body"),
        PartItem("other", 0, _gt(HANDLE), SHAPE, HANDLE, "handle"),
    ]


def test_specific_maps_score_perfectly_and_beat_the_swapped_and_mean_maps():
    items = _two_action_items()
    specific = {"img": np.stack([_peaked(*HANDLE_CENTRE), _peaked(*BODY_CENTRE)])}
    r = part_metrics(specific, items)
    peak = r["peak_on_part"]
    assert (peak["small"]["mean"], peak["small"]["n_valid"], peak["small"]["n_total"]) == (1.0, 1, 2)
    assert (peak["whole"]["mean"], peak["whole"]["n_valid"]) == (1.0, 1)
    assert peak["all"]["mean"] == 1.0 and peak["all"]["n_total"] == 3
    # vs the other action: each own map hits, the other action's map misses -> +1 for both pairs.
    assert r["vs_other"]["hit"]["mean"] == 1.0 and r["vs_other"]["hit"]["n_valid"] == 2
    assert r["vs_other"]["KLD"]["mean"] < 0 and r["vs_other"]["AUC-J"]["mean"] > 0
    # The mean map has two equal peaks; arg-max takes the first in row order (the handle, row 0.2):
    # the handle pair ties (0), the body pair gains 1 -> mean +0.5.
    assert r["vs_mean"]["hit"]["mean"] == pytest.approx(0.5)
    assert r["vs_mean"]["KLD"]["mean"] < 0
    text = format_part_metrics(r)
    assert "peak-on-part small: 1.000 ± 0.000 (1/2)" in text
    assert "own - other action hit: +1.000" in text


def test_action_agnostic_and_flat_maps_have_zero_or_negative_specificity():
    items = _two_action_items()
    same = np.stack([_peaked(*HANDLE_CENTRE)] * 2)  # every action's map peaks on the handle
    r = part_metrics({"img": same}, items)
    assert r["peak_on_part"]["small"]["mean"] == 1.0
    assert r["peak_on_part"]["whole"]["mean"] == 0.0
    for name in ("vs_mean", "vs_other"):
        assert r[name]["hit"]["mean"] == 0.0
        assert r[name]["KLD"]["mean"] == pytest.approx(0.0, abs=1e-9)
    flat = part_metrics({"img": np.ones((2, 20, 20))}, items)
    assert flat["peak_on_part"]["all"]["mean"] == 0.0
    assert flat["vs_other"]["hit"]["mean"] == 0.0
    # Wrong-part maps: own maps swapped -> every own map misses, the "other" map hits: -1.
    swapped = np.stack([_peaked(*BODY_CENTRE), _peaked(*HANDLE_CENTRE)])
    r = part_metrics({"img": swapped}, items)
    assert r["peak_on_part"]["all"]["mean"] == 0.0
    assert r["vs_other"]["hit"]["mean"] == -1.0
    assert r["vs_other"]["KLD"]["mean"] > 0


def test_no_other_part_and_no_maps_leave_nan():
    items = [PartItem("img", 0, _gt(HANDLE), SHAPE, HANDLE, "handle")]
    r = part_metrics({}, items)
    assert r["peak_on_part"]["all"]["n_valid"] == 0 and math.isnan(r["peak_on_part"]["all"]["mean"])
    r = part_metrics({"img": np.stack([_peaked(*HANDLE_CENTRE)])}, items)
    assert r["vs_other"]["hit"]["n_valid"] == 0
    assert r["vs_mean"]["hit"]["n_valid"] == 1 and r["vs_mean"]["hit"]["mean"] == 0.0


def test_a_difference_no_image_qualifies_for_prints_n_a_not_nan():
    """One action per image: no pair of actions to compare, so the own - other lines have nothing to average."""
    from hotspot_core.eval.metrics import format_results

    items = [PartItem("img", 0, _gt(HANDLE), SHAPE, HANDLE, "handle")]
    r = part_metrics({"img": np.stack([_peaked(*HANDLE_CENTRE), _peaked(*BODY_CENTRE)])}, items)
    assert r["vs_other"]["hit"]["n_valid"] == 0 and math.isnan(r["vs_other"]["hit"]["mean"])
    text = format_part_metrics(r)
    assert "own - other action hit: n/a (0/1)" in text
    assert "peak-on-part small: 1.000 ± 0.000 (1/1)" in text
    assert "nan" not in text
    empty = {"KLD": {"mean": math.nan, "sem": math.nan, "n_valid": 0, "n_total": 10}}
    assert format_results(empty) == "KLD: n/a (0/10)"
