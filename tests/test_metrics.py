"""Tests for hotspot_core.eval.metrics and hotspot_core.eval.ground_truth against hand-computed cases.

Spec: /work/shared/reference/hotspots-reference-spec.md sections 3 and 5.
"""

import math

import numpy as np
import pytest

from hotspot_core.eval.ground_truth import (
    center_bias_map,
    gaussian_kernel_size,
    gt_for_scoring,
    gt_heatmap_from_points,
)
from hotspot_core.eval.metrics import (
    auc_judd,
    evaluate,
    format_results,
    kld,
    nss,
    preprocess_prediction,
    resize_map,
    sim,
)

LOG4 = math.log(4.0)


# --------------------------------------------------------------------------- KLD / SIM


def test_kld_sim_uniform_pred_one_hot_gt():
    # P normalised = 1/4 everywhere, G = one-hot.
    # KLD = 1 * log(1 / (1/4)) + 3 * 0 = log 4;  SIM = min(1/4, 1) = 1/4.
    p = np.ones((2, 2))
    g = np.array([[1.0, 0.0], [0.0, 0.0]])
    assert kld(p, g) == pytest.approx(LOG4, abs=1e-9)
    assert sim(p, g) == pytest.approx(0.25, abs=1e-12)


def test_kld_is_kl_of_gt_from_pred_not_reverse():
    # P = [3, 1] -> [.75, .25]; G = [1, 1] -> [.5, .5]
    # KL(G||P) = .5 log(.5/.75) + .5 log(.5/.25) = .5 log(4/3) = 0.143841
    # KL(P||G) = .75 log(1.5) + .25 log(.5)                  = 0.130812
    p = np.array([[3.0, 1.0]])
    g = np.array([[1.0, 1.0]])
    assert kld(p, g) == pytest.approx(0.5 * math.log(4 / 3), abs=1e-9)
    assert kld(g, p) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-9)
    # SIM = min(.75,.5) + min(.25,.5) = .75, symmetric.
    assert sim(p, g) == pytest.approx(0.75, abs=1e-12)
    assert sim(g, p) == pytest.approx(0.75, abs=1e-12)


def test_perfect_prediction_kld_zero_sim_one():
    rng = np.random.default_rng(3)
    g = rng.random((28, 28)) + 0.01
    # Scale does not matter: both maps are sum-normalised.
    assert kld(5.0 * g, g) == pytest.approx(0.0, abs=1e-9)
    assert sim(5.0 * g, g) == pytest.approx(1.0, abs=1e-9)


def test_kld_zero_pred_is_large_but_finite():
    # P = 0 where G has mass: log(G / 1e-12) ~ log(1e12 / 4) = 26.24
    p = np.array([[0.0, 1.0]])
    g = np.array([[1.0, 0.0]])
    assert kld(p, g) == pytest.approx(math.log(1e12), rel=1e-6)


# --------------------------------------------------------------------------- AUC-Judd

RAMP3 = np.array([[9.0, 8.0, 7.0], [6.0, 5.0, 4.0], [3.0, 2.0, 1.0]])


def test_auc_judd_hand_3x3_two_fixations():
    # Fixations at the pixels with saliency 8 and 3; n_fix=2, n_pix=9, negatives=7.
    # thr(8): #{S>=8}=2 -> tp=1/2, fp=(2-1)/7=1/7
    # thr(3): #{S>=3}=7 -> tp=1,   fp=(7-2)/7=5/7
    # curve (0,0),(1/7,.5),(5/7,1),(1,1):
    # area = 1/7*.25 + 4/7*.75 + 2/7*1 = (0.25 + 3 + 2)/7 = 0.75
    g = np.zeros((3, 3))
    g[0, 1] = 1.0
    g[2, 0] = 1.0
    assert auc_judd(RAMP3, g) == pytest.approx(0.75, abs=1e-9)


def test_auc_judd_single_fixation_at_max_and_min():
    # At the max: thr -> #{S>=thr}=1, tp=1, fp=0 -> curve (0,0),(0,1),(1,1): area 1.
    g = np.zeros((3, 3))
    g[0, 0] = 1.0
    assert auc_judd(RAMP3, g) == pytest.approx(1.0, abs=1e-12)
    # At the min: #{S>=thr}=9, tp=1, fp=(9-1)/8=1 -> (0,0),(1,1),(1,1): area 0.5.
    g = np.zeros((3, 3))
    g[2, 2] = 1.0
    assert auc_judd(RAMP3, g) == pytest.approx(0.5, abs=1e-12)


def test_auc_judd_binarisation_adds_eps_after_division():
    # G/max + 1e-12 > 0.5: a pixel at exactly half the max IS a fixation,
    # one at 0.49 is not.  Same geometry as the hand 3x3 case -> 0.75.
    g = np.zeros((3, 3))
    g[0, 1] = 2.0
    g[2, 0] = 1.0  # exactly max/2
    g[1, 1] = 0.98  # 0.49 * max
    assert auc_judd(RAMP3, g) == pytest.approx(0.75, abs=1e-9)
    # Only the value-8 fixation: thr -> #{S>=thr}=2, tp=1, fp=1/8:
    # area = 1/8 * .5 + 7/8 * 1 = 0.9375
    g[2, 0] = 0.98
    assert auc_judd(RAMP3, g) == pytest.approx(0.9375, abs=1e-9)


def test_auc_judd_empty_gt_is_nan_and_inputs_not_mutated():
    assert math.isnan(auc_judd(RAMP3, np.zeros((3, 3))))
    p = RAMP3.copy()
    g = np.zeros((3, 3))
    g[1, 1] = 1.0
    auc_judd(p, g)
    np.testing.assert_array_equal(p, RAMP3)
    assert g[1, 1] == 1.0 and g.sum() == 1.0


def test_auc_judd_constant_map_is_chance():
    g = np.zeros((28, 28))
    g[5:15, 8:20] = 1.0
    vals = [auc_judd(np.ones((28, 28)), g, np.random.default_rng(s)) for s in range(20)]
    assert np.mean(vals) == pytest.approx(0.5, abs=0.03)
    # Seeded: same rng seed -> same value; default rng is seeded too.
    assert auc_judd(np.ones((28, 28)), g, np.random.default_rng(7)) == auc_judd(
        np.ones((28, 28)), g, np.random.default_rng(7)
    )
    assert auc_judd(np.ones((28, 28)), g) == auc_judd(np.ones((28, 28)), g)


def test_auc_judd_float32_constant_map_keeps_reference_ties():
    # The reference adds the 1e-7 jitter in place to a float32 map: at 1.0 the
    # float32 spacing (6e-8 / 1.2e-7) turns most jitter into ties, so a constant
    # map scores far below chance.  We keep P's dtype to reproduce that.
    g = np.zeros((28, 28))
    g[5:15, 8:20] = 1.0
    vals = [auc_judd(np.ones((28, 28), np.float32), g, np.random.default_rng(s)) for s in range(5)]
    assert np.mean(vals) < 0.4


# --------------------------------------------------------------------------- NSS


def test_nss_hand():
    # mean 2.5, population std sqrt(1.25); z(4) = 1.5 / sqrt(1.25) = 1.341641
    p = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[0.0, 0.0], [0.0, 1.0]])
    assert nss(p, g) == pytest.approx(1.5 / math.sqrt(1.25), abs=1e-9)
    # Fixations at 1 and 4: (-1.341641 + 1.341641) / 2 = 0
    g = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert nss(p, g) == pytest.approx(0.0, abs=1e-12)
    # 0.3 * max is below the 0.5 threshold -> only the value-4 pixel counts.
    g = np.array([[0.3, 0.0], [0.0, 1.0]])
    assert nss(p, g) == pytest.approx(1.5 / math.sqrt(1.25), abs=1e-9)
    assert math.isnan(nss(p, np.zeros((2, 2))))
    assert nss(np.ones((2, 2)), np.eye(2)) == 0.0


# --------------------------------------------------------------------------- preprocessing / resize


def test_preprocess_prediction_binomial_5x5():
    # Delta (any height) -> /max -> 1, blurred by [1,4,6,4,1]/16 per axis with
    # OpenCV's default reflect-101 border: at column 0 the taps read columns
    # 2,1,0,1,2, so the delta at column 2 is hit twice (weight (1+1)/16).
    p = np.zeros((5, 5), np.float32)
    p[2, 2] = 7.0
    out = preprocess_prediction(p)
    assert out.dtype == np.float32
    assert out[2, 2] == pytest.approx((6 / 16) ** 2, rel=1e-5)  # 0.140625
    assert out[2, 0] == pytest.approx(6 / 16 * 2 / 16, rel=1e-5)
    assert out[0, 0] == pytest.approx((2 / 16) ** 2, rel=1e-5)
    assert out[1, 3] == pytest.approx((4 / 16) ** 2, rel=1e-5)
    np.testing.assert_allclose(preprocess_prediction(np.full((4, 4), 3.0)), 1.0, rtol=1e-9)


def test_resize_map_bilinear_half_pixel_no_renorm():
    # Upsample [0, 1] (2 rows) to 4 rows, align_corners=False:
    # src = (i + .5) * .5 - .5 = -.25(->0), .25, .75, 1.25(->1)  => [0, .25, .75, 1]
    # (align_corners=True would give [0, 1/3, 2/3, 1]).
    out = resize_map(np.array([[0.0], [1.0]]), (4, 1))
    np.testing.assert_allclose(out[:, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-6)
    # Downsample 4 -> 2, no antialias: src = (i + .5) * 2 - .5 = .5, 2.5
    # => mean of pixels (0,1) and (2,3): [0.5, 2.5]
    out = resize_map(np.array([[0.0, 1.0, 2.0, 3.0]]), (1, 2))
    np.testing.assert_allclose(out[0], [0.5, 2.5], atol=1e-6)
    # No renormalisation: a uniform 0.5 map stays 0.5 (its sum grows 4x).
    np.testing.assert_allclose(resize_map(np.full((4, 4), 0.5), 8), 0.5, atol=1e-7)


def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    a = np.random.default_rng(0).random((224, 224)).astype(np.float32)
    for size in (28, 300):
        ref = F.interpolate(torch.from_numpy(a)[None, None], (size, size), mode="bilinear", align_corners=False)
        np.testing.assert_allclose(resize_map(a, size), ref[0, 0].numpy(), atol=1e-4)


# --------------------------------------------------------------------------- ground truth


def test_kernel_size_rule():
    assert gaussian_kernel_size((480, 640)) == 185  # int(554.26/3)=184 -> odd 185
    assert gaussian_kernel_size((300, 300)) == 101  # int(100) even -> 101
    assert gaussian_kernel_size((1080, 1920)) == 481  # int(480.0) even -> 481
    assert gaussian_kernel_size((256, 256)) == 85  # int(85.33)=85 already odd
    assert gaussian_kernel_size((256, 256), k_ratio=1.0) == 257
    assert gaussian_kernel_size((3, 3)) == 1  # int(1.0) = 1


def test_gt_heatmap_480x640_kernel_185():
    m = gt_heatmap_from_points([[240, 320]], (480, 640))
    assert m.shape == (480, 640) and m.dtype == np.float32
    assert m.sum() == pytest.approx(1.0, abs=1e-5)
    col = m[:, 320]
    # k = 185 -> half width 92: support is rows 240-92 .. 240+92 exactly.
    nz = np.nonzero(col)[0]
    assert (nz[0], nz[-1]) == (148, 332)
    assert m[240, 320 - 92] > 0 and m[240, 320 - 93] == 0
    # Symmetric about the point, peak at the point.
    np.testing.assert_allclose(col[240 - 50 : 240], col[241 : 241 + 50][::-1], rtol=1e-5)
    assert np.unravel_index(m.argmax(), m.shape) == (240, 320)
    # sigma = 0.3*((185-1)/2 - 1) + 0.8 = 28.1: profile ratio at d=28 is exp(-28^2/(2*28.1^2)).
    assert col[268] / col[240] == pytest.approx(math.exp(-(28**2) / (2 * 28.1**2)), rel=1e-4)


def test_gt_heatmap_300x300_kernel_101():
    m = gt_heatmap_from_points([[150, 150]], (300, 300))
    nz = np.nonzero(m[150])[0]
    assert (nz[0], nz[-1]) == (100, 200)  # half width 50


def test_gt_heatmap_sums_deltas_first_coordinate_is_row():
    # 3x3 -> k = 1 (identity blur). int() truncates: (0.9, 0.2) -> (0, 0).
    # Deltas: (0,0) twice, (2,1) once -> 2/3 and 1/3 after normalisation.
    m = gt_heatmap_from_points([[0, 0], [0.9, 0.2], [2, 1]], (3, 3))
    expected = np.zeros((3, 3), np.float32)
    expected[0, 0] = 2 / 3
    expected[2, 1] = 1 / 3
    np.testing.assert_allclose(m, expected, atol=1e-7)


def test_gt_heatmap_clamps_out_of_range_including_negatives():
    # 3x3, k=1.  (5, -1) -> (2, 0); numpy wrap would also give col 2, clamp gives 0.
    m = gt_heatmap_from_points([[5, -1]], (3, 3))
    assert m[2, 0] == 1.0 and m.sum() == 1.0
    # (-1, 1.7) -> int -> (-1, 1) -> clamped (0, 1)  (numpy wrap would give (2, 1)).
    m = gt_heatmap_from_points([[-1, 1.7]], (3, 3))
    assert m[0, 1] == 1.0 and m[2, 1] == 0.0


def test_gt_heatmap_empty_points_all_zero():
    for pts in ([], np.zeros((0, 2))):
        m = gt_heatmap_from_points(pts, (30, 40))
        assert m.shape == (30, 40) and m.dtype == np.float32
        assert not m.any()


def test_gt_heatmap_transpose_after_blur():
    # 3x4 -> int(sqrt(12)/3) = 1 -> k = 1; point (0, 3) lands at [3, 0] after transpose.
    m = gt_heatmap_from_points([[0, 3]], (3, 4), transpose=True)
    assert m.shape == (4, 3) and m[3, 0] == 1.0
    # With a real blur (30x40 -> k=11): transposed map == transpose of the plain map.
    pts = [[3, 5], [20, 31]]
    plain = gt_heatmap_from_points(pts, (30, 40))
    t = gt_heatmap_from_points(pts, (30, 40), transpose=True)
    assert t.shape == (40, 30) and t.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(t, plain.T)


def test_gt_for_scoring_uniform_and_zero():
    out = gt_for_scoring(np.full((10, 10), 0.01, np.float32))
    assert out.shape == (224, 224)
    np.testing.assert_allclose(out, 1.0 / 224**2, rtol=1e-4)
    assert out.sum() == pytest.approx(1.0, abs=1e-4)
    assert not gt_for_scoring(np.zeros((50, 60), np.float32)).any()


def test_gt_for_scoring_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    hm = gt_heatmap_from_points([[100, 200], [130, 90]], (240, 320))
    ref = F.interpolate(torch.from_numpy(hm)[None, None], (224, 224), mode="bilinear", align_corners=False)[0, 0]
    ref = (ref / (ref.sum() + 1e-12)).numpy()
    np.testing.assert_allclose(gt_for_scoring(hm), ref, rtol=1e-3, atol=1e-9)


# --------------------------------------------------------------------------- center bias


def test_center_bias_peak_fwhm_support():
    cb = center_bias_map()
    assert cb.shape == (224, 224) and cb.dtype == np.float32
    assert np.unravel_index(cb.argmax(), cb.shape) == (111, 111)
    assert cb[111, 111] == pytest.approx(1.0)
    # FWHM 56: half the peak 28 px from the centre -> exp(-4 ln2 * 28^2/56^2) = 0.5
    assert cb[111, 139] == pytest.approx(0.5, rel=1e-6)
    assert cb[83, 111] == pytest.approx(0.5, rel=1e-6)
    # 112-wide kernel: nonzero only on rows/cols 56..167.
    assert cb[56, 111] > 0 and cb[167, 111] > 0
    assert cb[55, 111] == 0 and cb[111, 168] == 0
    small = center_bias_map(28)
    assert small.shape == (28, 28)
    assert np.unravel_index(small.argmax(), small.shape) in {(13, 13), (13, 14), (14, 13), (14, 14)}


def test_center_bias_equals_torch_conv2d():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    hm = torch.zeros(1, 1, 225, 225)
    hm[0, 0, 112, 112] = 1.0
    x = np.arange(112, dtype=float)
    g = np.exp(-4 * np.log(2) * ((x - 56) ** 2 + (x[:, None] - 56) ** 2) / 56**2)
    ref = F.conv2d(hm, torch.from_numpy(g)[None, None].float(), padding=55)[0, 0].numpy()
    np.testing.assert_array_equal(center_bias_map(), ref)


# --------------------------------------------------------------------------- format / evaluate


def test_format_results_string():
    res = {
        "NSS": {"mean": 0.5, "sem": 0.01, "n_valid": 837, "n_total": 1042},
        "KLD": {"mean": 1.4312, "sem": 0.0236, "n_valid": 1042, "n_total": 1042},
        "AUC-J": {"mean": 0.8, "sem": 0.0049, "n_valid": 837, "n_total": 1042},
        "SIM": {"mean": 0.36, "sem": 0.0056, "n_valid": 1042, "n_total": 1042},
    }
    assert format_results(res) == (
        "KLD: 1.431 ± 0.024 (1042/1042)\n"
        "SIM: 0.360 ± 0.006 (1042/1042)\n"
        "AUC-J: 0.800 ± 0.005 (837/1042)\n"
        "NSS: 0.500 ± 0.010 (837/1042)"
    )


def test_evaluate_constant_pred_kld_sim_mean_sem_and_empty_gt():
    # res=4, constant 4x4 predictions (blur keeps them constant): P = 1/16 everywhere.
    # item 1: one-hot G         -> KLD = log 16,        SIM = 1/16
    # item 2: G uniform on 4 px -> KLD = log(16/4)=log4, SIM = 4 * 1/16 = 1/4
    # item 3: G all zero -> uniform substitute -> KLD = 0, SIM = 1
    # KLD scores [2 log4, log4, 0]: mean log4, pop std log4*sqrt(2/3), sem = that/sqrt3
    # SIM scores [.0625, .25, 1]: mean .4375, pop var = (.140625+.03515625+.31640625)/3
    g1 = np.zeros((4, 4))
    g1[1, 2] = 1.0
    g2 = np.zeros((4, 4))
    g2[0:2, 0:2] = 0.25
    g3 = np.zeros((4, 4))
    preds = np.full((3, 4, 4), 2.0)
    r = evaluate(preds, [g1, g2, g3], res=4)

    assert r["KLD"]["mean"] == pytest.approx(LOG4, abs=1e-5)
    assert r["KLD"]["sem"] == pytest.approx(LOG4 * math.sqrt(2 / 3) / math.sqrt(3), abs=1e-5)
    assert r["SIM"]["mean"] == pytest.approx(0.4375, abs=1e-6)
    assert r["SIM"]["sem"] == pytest.approx(math.sqrt(0.4921875 / 3) / math.sqrt(3), abs=1e-6)
    assert (r["KLD"]["n_valid"], r["KLD"]["n_total"]) == (3, 3)
    assert (r["SIM"]["n_valid"], r["SIM"]["n_total"]) == (3, 3)
    # Empty GT excluded from AUC-J and NSS.
    assert (r["AUC-J"]["n_valid"], r["AUC-J"]["n_total"]) == (2, 3)
    assert (r["NSS"]["n_valid"], r["NSS"]["n_total"]) == (2, 3)
    assert r["NSS"]["mean"] == 0.0  # constant P -> z = 0


def test_evaluate_ramp_auc_nss_mean_sem():
    # P[i,j] = 4i + j on 4x4.  Blur with reflect-101 borders maps the ramp
    # [0,1,2,3] to r = [12, 18, 30, 36]/16 = [.75, 1.125, 1.875, 2.25] per axis,
    # so P' = 4 r_i + r_j (up to the 1/max scale): unique max at (3,3), min at (0,0).
    # AUC-J: fixation at max -> 1.0, at min -> 0.5; mean .75, sem = std([1,.5])/sqrt2 = .25/sqrt2
    # NSS: mean(P') = 5*1.5 = 7.5, var = 17 * var(r) = 17 * 0.3515625;
    #      z(3,3) = (4*2.25 + 2.25 - 7.5)/sqrt(5.9765625) = 1.533930, z(0,0) = -1.533930
    #      -> mean 0, sem = 1.533930 / sqrt2
    ramp = (4 * np.arange(4)[:, None] + np.arange(4)[None, :]).astype(np.float32)
    g_max = np.zeros((4, 4))
    g_max[3, 3] = 1.0
    g_min = np.zeros((4, 4))
    g_min[0, 0] = 1.0
    gts = {"a": g_max, "b": g_min, "c": np.zeros((4, 4)), "missing": g_max}
    preds = {"a": ramp, "b": ramp, "c": ramp, "extra": ramp}
    r = evaluate(preds, gts, res=4)

    assert r["AUC-J"]["mean"] == pytest.approx(0.75, abs=1e-9)
    assert r["AUC-J"]["sem"] == pytest.approx(0.25 / math.sqrt(2), abs=1e-9)
    z = 3.75 / math.sqrt(17 * 0.3515625)
    assert r["NSS"]["mean"] == pytest.approx(0.0, abs=1e-5)
    assert r["NSS"]["sem"] == pytest.approx(z / math.sqrt(2), abs=1e-5)
    # GT keys drive n_total (4); "missing" is skipped, "c" is empty for AUC-J/NSS.
    assert (r["AUC-J"]["n_valid"], r["AUC-J"]["n_total"]) == (2, 4)
    assert (r["KLD"]["n_valid"], r["KLD"]["n_total"]) == (3, 4)


def test_evaluate_resizes_gt_and_preds_to_res():
    # Uniform GT at 224 and constant prediction at 7x7 -> both uniform at 28: KLD 0, SIM 1.
    g = gt_for_scoring(np.ones((50, 80), np.float32))
    r = evaluate([np.ones((7, 7))], [g])
    assert r["KLD"]["mean"] == pytest.approx(0.0, abs=1e-5)
    assert r["SIM"]["mean"] == pytest.approx(1.0, abs=1e-4)
    assert r["KLD"]["sem"] == 0.0 and r["KLD"]["n_valid"] == 1


def test_evaluate_random_inputs_nan_free_and_deterministic():
    rng = np.random.default_rng(42)
    gts = []
    for i in range(6):
        h, w = int(rng.integers(60, 200)), int(rng.integers(60, 200))
        pts = [] if i == 0 else np.column_stack([rng.uniform(0, h, 5), rng.uniform(0, w, 5)])
        gts.append(gt_for_scoring(gt_heatmap_from_points(pts, (h, w))))
    preds = rng.random((6, 7, 7)).astype(np.float32)
    r1 = evaluate(preds, gts, seed=1)
    r2 = evaluate(list(preds), gts, seed=1)
    assert r1 == r2
    for name, v in r1.items():
        assert np.isfinite(v["mean"]) and np.isfinite(v["sem"]), name
        assert v["n_total"] == 6
    assert r1["AUC-J"]["n_valid"] == 5 and r1["KLD"]["n_valid"] == 6
    assert 0.0 <= r1["AUC-J"]["mean"] <= 1.0
    assert 0.0 < r1["SIM"]["mean"] <= 1.0
    assert r1["KLD"]["mean"] > 0.0


def test_evaluate_center_bias_broadcast_beats_off_centre():
    # One 2-D prediction is used for every item (reference center-bias baseline).
    centred = gt_for_scoring(gt_heatmap_from_points([[150, 150]], (300, 300)))
    corner = gt_for_scoring(gt_heatmap_from_points([[10, 10]], (300, 300)))
    cb = center_bias_map()
    good = evaluate(cb, [centred, centred])
    bad = evaluate(cb, [corner, corner])
    assert good["KLD"]["n_total"] == 2
    assert good["KLD"]["mean"] < bad["KLD"]["mean"]
    assert good["SIM"]["mean"] > bad["SIM"]["mean"]
    assert good["AUC-J"]["mean"] > 0.9 > bad["AUC-J"]["mean"]


def test_evaluate_length_mismatch_raises():
    with pytest.raises(ValueError):
        evaluate([np.ones((4, 4))] * 2, [np.ones((4, 4))] * 3, res=4)
