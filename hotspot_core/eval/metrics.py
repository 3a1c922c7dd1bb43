"""Hotspot evaluation metrics and the reference scoring protocol.

Re-implements the evaluator of the Interaction Hotspots authors' code as
described in ``hotspots-reference-spec.md`` section 3 (3.2 step 5, 3.3, 3.4,
3.5).  Every metric works on 2-D numpy arrays that are already at evaluation
resolution (28x28 in the reference).  numpy and OpenCV only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

# numpy >= 2.0 names it trapezoid (trapz deprecated); numpy 1.x (Ubuntu 24.04's 1.26) has only trapz
_trapezoid = getattr(np, "trapezoid", None) or np.trapz

EPS = 1e-12
METRIC_NAMES: tuple[str, ...] = ("KLD", "SIM", "AUC-J", "NSS")

__all__ = [
    "METRIC_NAMES",
    "auc_judd",
    "evaluate",
    "format_results",
    "format_stat",
    "kld",
    "nss",
    "preprocess_prediction",
    "resize_map",
    "sim",
]


def _float_map(m: Any) -> np.ndarray:
    """2-D float array (float32/float64 kept, anything else -> float32)."""
    a = np.asarray(m)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {a.shape}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    return a


def _fixations(gt: np.ndarray) -> np.ndarray:
    """Binarised GT of spec 3.4: ``(G / max G) + 1e-12 > 0.5``; all False if max G <= 0."""
    g = np.asarray(gt)
    g_max = g.max()
    if not g_max > 0:
        return np.zeros(g.shape, dtype=bool)
    # Precedence as in the reference: the 1e-12 is added after the division.
    return (g / g_max + EPS) > 0.5


def resize_map(m: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize without renormalisation (spec 3.2 step 5).

    ``size`` is an int (square) or ``(H, W)``.  ``cv2.INTER_LINEAR`` uses the
    half-pixel convention of ``F.interpolate(mode='bilinear',
    align_corners=False)`` without antialiasing, as the reference does; the two
    agree to float32 rounding of the source coordinate (~1e-4 relative).
    """
    a = _float_map(m)
    h, w = (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
    if a.shape == (h, w):
        return a.copy()
    return cv2.resize(np.ascontiguousarray(a), (w, h), interpolation=cv2.INTER_LINEAR)


def preprocess_prediction(pred: np.ndarray) -> np.ndarray:
    """Spec 3.3: divide by ``max + 1e-12``, then ``cv2.GaussianBlur((5, 5), 0)``.

    With ksize 5 and sigma 0 OpenCV uses the binomial kernel [1,4,6,4,1]/16.
    """
    p = _float_map(pred)
    p = p / (p.max() + EPS)
    return cv2.GaussianBlur(np.ascontiguousarray(p), (5, 5), 0)


def kld(pred: np.ndarray, gt: np.ndarray) -> float:
    """KL(G || P) of spec 3.4: both normalised by ``sum + eps``, ``sum G log(G/(P+eps) + eps)``.

    No uniform substitution here: an all-zero G gives 0.  The substitution of
    spec 3.4 is applied by :func:`evaluate`, as in the reference.
    """
    p, g = _float_map(pred), _float_map(gt)
    p = p / (p.sum() + EPS)
    g = g / (g.sum() + EPS)
    return float(np.sum(g * np.log(g / (p + EPS) + EPS)))


def sim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Histogram intersection of spec 3.4: ``sum min(P, G)`` after ``sum + eps`` normalisation."""
    p, g = _float_map(pred), _float_map(gt)
    p = p / (p.sum() + EPS)
    g = g / (g.sum() + EPS)
    return float(np.sum(np.minimum(p, g)))


def auc_judd(pred: np.ndarray, gt: np.ndarray, rng: np.random.Generator | None = None) -> float:
    """AUC-Judd of spec 3.4; NaN when the binarised GT has no fixation.

    Fixations are ``(G / max G) + 1e-12 > 0.5``.  Ties are broken by adding
    ``U(0,1) * 1e-7`` to a copy of P (in P's own dtype, as the reference's
    in-place add does), drawn from ``rng`` (default ``default_rng(0)``, so the
    result is deterministic, unlike the reference's unseeded numpy).  P is then
    min-max normalised (``+1e-12``); for the k-th fixation threshold (saliency
    at fixations, descending) ``tp = k/n_fix`` and ``fp = (#{P >= thr} - k) /
    (n_pix - n_fix)``, with end points (0,0) and (1,1); area by trapezoid.
    Also NaN when every pixel is a fixation (the reference divides 0 by 0).
    """
    if rng is None:
        rng = np.random.default_rng(0)
    g = _float_map(gt)
    s = np.array(_float_map(pred), copy=True)
    if s.shape != g.shape:
        raise ValueError(f"pred shape {s.shape} != gt shape {g.shape}")
    fix = _fixations(g).ravel()
    n_fix = int(fix.sum())
    if n_fix == 0:
        return float("nan")
    s += rng.random(s.shape) * 1e-7
    s = (s - s.min()) / (s.max() - s.min() + EPS)
    s = s.ravel()
    n_pix = s.size
    if n_fix == n_pix:
        return float("nan")

    thresholds = np.sort(s[fix])[::-1]
    # #{S >= thr} for every threshold at once; identical to counting per threshold.
    above = n_pix - np.searchsorted(np.sort(s), thresholds, side="left")
    k = np.arange(1, n_fix + 1)
    tp = np.concatenate(([0.0], k / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above - k) / float(n_pix - n_fix), [1.0]))
    return float(_trapezoid(tp, fp))


def nss(pred: np.ndarray, gt: np.ndarray) -> float:
    """Normalized Scanpath Saliency (not in the reference repo; spec 3.4 lists none).

    Exact choice: ``Z = (P - mean P) / (std P + 1e-12)`` with the population std
    (ddof=0), averaged over the fixation pixels, where fixations are the
    binarised GT used by AUC-J, ``(G / max G) + 1e-12 > 0.5``.  NaN when there
    are none, so NSS counts the same items as AUC-J.  Note: AGD20K's
    ``cal_nss`` instead thresholds the min-max normalised GT at 0.1, which marks
    more pixels as fixations; numbers are therefore not directly comparable.
    """
    p = _float_map(pred).astype(np.float64)
    fix = _fixations(_float_map(gt))
    if fix.shape != p.shape:
        raise ValueError(f"pred shape {p.shape} != gt shape {fix.shape}")
    if not fix.any():
        return float("nan")
    z = (p - p.mean()) / (p.std() + EPS)
    return float(z[fix].mean())


def _as_items(x: Any) -> list[np.ndarray]:
    if isinstance(x, np.ndarray) and x.ndim == 3:
        return list(x)
    return [np.asarray(m) for m in x]


def _pairs(preds: Any, gts: Any) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """Pair predictions with GT the way spec 3.5 does; returns (pairs, n_total)."""
    single = isinstance(preds, np.ndarray) and preds.ndim == 2
    if isinstance(gts, Mapping):
        if single:
            return [(preds, np.asarray(g)) for g in gts.values()], len(gts)
        if not isinstance(preds, Mapping):
            raise TypeError("gts is a dict keyed by item, so preds must be a dict too")
        # Iterate GT keys; keys without a prediction are skipped but still count in n_total.
        pairs = [(np.asarray(preds[k]), np.asarray(g)) for k, g in gts.items() if k in preds]
        return pairs, len(gts)
    if isinstance(preds, Mapping):
        raise TypeError("preds is a dict, so gts must be a dict keyed the same way")
    gt_items = _as_items(gts)
    if single:
        return [(preds, g) for g in gt_items], len(gt_items)
    pred_items = _as_items(preds)
    if len(pred_items) != len(gt_items):
        raise ValueError(f"{len(pred_items)} predictions for {len(gt_items)} GT maps")
    return list(zip(pred_items, gt_items)), len(gt_items)


def _score_item(pred: np.ndarray, gt: np.ndarray, res: int, rng: np.random.Generator) -> dict[str, float]:
    # The reference holds maps as torch float32 tensors, so compute in float32 too.
    g = np.asarray(gt, dtype=np.float32)
    p = np.asarray(pred, dtype=np.float32)
    if g.shape != (res, res):
        g = resize_map(g, res)
    if p.shape != (res, res):
        p = resize_map(p, res)
    p = preprocess_prediction(p)
    g_real = g if g.sum() != 0 else np.full(g.shape, 1.0 / g.size)
    return {
        "KLD": kld(p, g_real),
        "SIM": sim(p, g_real),
        "AUC-J": auc_judd(p, g, rng),
        "NSS": nss(p, g),
    }


def evaluate(
    preds: Any,
    gts: Any,
    res: int = 28,
    seed: int = 0,
) -> dict[str, dict[str, float | int]]:
    """Run the reference scoring protocol (spec 3.2 step 5, 3.3-3.5).

    ``gts``: GT maps as produced by ``gt_for_scoring`` (any resolution), resized
    bilinearly to ``res`` without renormalisation.  ``preds``: raw hotspot maps,
    resized to ``res`` when not already there, then preprocessed (3.3).  Both
    may be sequences of 2-D arrays or (N, H, W) arrays paired by index, or dicts
    keyed by item (GT keys are iterated; missing predictions are skipped but
    counted in ``n_total``).  A single 2-D ``preds`` array is used for every
    item (the reference's center-bias baseline).

    KLD/SIM use a uniform G when G is all zero; NaN scores (AUC-J/NSS on an
    empty G) are dropped per metric.  AUC-J jitter comes from one
    ``default_rng(seed)`` consumed in item order.

    Returns ``{metric: {"mean", "sem", "n_valid", "n_total"}}`` with
    ``sem = np.std(scores, ddof=0) / sqrt(n_valid)``; mean and sem are NaN when
    ``n_valid == 0``.
    """
    rng = np.random.default_rng(seed)
    pairs, n_total = _pairs(preds, gts)
    scores: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for pred, gt in pairs:
        for name, value in _score_item(pred, gt, res, rng).items():
            if not np.isnan(value):
                scores[name].append(value)

    results: dict[str, dict[str, float | int]] = {}
    for name in METRIC_NAMES:
        vals = np.asarray(scores[name], dtype=np.float64)
        n = int(vals.size)
        mean = float(vals.mean()) if n else float("nan")
        sem = float(vals.std() / np.sqrt(n)) if n else float("nan")
        results[name] = {"mean": mean, "sem": sem, "n_valid": n, "n_total": n_total}
    return results


def format_results(results: Mapping[str, Mapping[str, float | int]]) -> str:
    """One line per metric in the order KLD, SIM, AUC-J, NSS, as the reference prints (spec 3.5).

    Example: ``KLD: 1.431 ± 0.024 (1042/1042)``.  Metrics absent from
    ``results`` are left out.
    """
    lines = []
    for name in METRIC_NAMES:
        if name not in results:
            continue
        lines.append(f"{name}: {format_stat(results[name])}")
    return "\n".join(lines)


def format_stat(s: Mapping[str, float | int], signed: bool = False) -> str:
    """``1.431 ± 0.024 (1042/1042)`` (``+`` sign with ``signed``), or ``n/a (0/10)`` when no item was scored."""
    counts = "(%d/%d)" % (s["n_valid"], s["n_total"])
    if not s["n_valid"]:
        return f"n/a {counts}"  # the mean of nothing: NaN, which would print as "+nan ± nan"
    return ("%+.3f ± %.3f " if signed else "%.3f ± %.3f ") % (s["mean"], s["sem"]) + counts
