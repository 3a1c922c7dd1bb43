"""What a grasp planner uses of a hotspot map: does its peak lie on the part the action needs, and is the
map specific to the action? (issue 11; not in the paper or the reference evaluator.)

* **peak-on-part**: the share of (image, action) pairs whose map arg-max lies in the action's part. The
  peak is the centre of the arg-max cell of the raw map (any resolution; the map covers the
  straight-resized image, as the eval transform feeds it, so cell centres map to image pixels by
  scaling); a map without a unique maximum (max == min, e.g. all zero) has no peak and counts as a miss.
  The part is the annotated pixel box (``part_rows`` / ``part_cols`` of the synthetic world, inclusive)
  when there is one, else the GT heatmap's region ``G / max G > 0.5`` (OPRA / EPIC: the binarised GT of
  AUC-J, spec 3.4); a pair with neither (no box, no points) is not scored (``n_valid < n_total``).
  Reported for all pairs, and apart for small parts (handle, cap, button, ...) and whole-body parts
  (``WHOLE_BODY_PARTS``: the part is the object itself, so any peak on the object hits it).
* **action specificity**: the same pairs scored with the action's own map and with (a) the action-agnostic
  mean map of the image (the mean over all actions of the max-normalised maps) and (b) the map of another
  action of the same image whose part is another one. Paired differences (own minus other) of the hit
  rate, KLD and AUC-J, mean ± standard error: > 0 hit / AUC-J and < 0 KLD mean the own map is better.

KLD / AUC-J per pair are those of ``hotspot_core.eval.metrics`` (spec 3.2 step 5 - 3.4, 28x28). numpy only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import auc_judd, format_stat, kld, preprocess_prediction, resize_map

__all__ = [
    "WHOLE_BODY_PARTS",
    "PartItem",
    "action_agnostic_map",
    "oracle_map",
    "part_mask",
    "peak_on_part",
    "peak_point",
    "part_metrics",
    "format_part_metrics",
]

# Parts that are the object itself ("hold the bottle by its body"): reported apart from small parts.
WHOLE_BODY_PARTS: frozenset[str] = frozenset({"body", "box", "cabinet"})
GT_REGION = 0.5  # G / max G above this is the part when no box is annotated (AUC-J's fixations)


@dataclass(frozen=True)
class PartItem:
    """One scored (image, action) pair.

    image: any hashable id shared by the pairs of one image; action: index into the maps' first axis;
    gt: GT heatmap over the straight-resized image (any square or rectangular size; may be all zero);
    shape: the original image's (H, W); box: (r0, r1, c0, c1) inclusive pixel rows / cols of the part in
    the original image, or None; part: the part's name (None when unknown).
    """

    image: Hashable
    action: int
    gt: np.ndarray
    shape: tuple[int, int]
    box: tuple[int, int, int, int] | None = None
    part: str | None = None

    @property
    def kind(self) -> str:
        """'small', 'whole' (a named part in WHOLE_BODY_PARTS) or 'gt_region' (no box)."""
        if self.box is None:
            return "gt_region"
        return "whole" if self.part in WHOLE_BODY_PARTS else "small"


def peak_point(m: np.ndarray) -> tuple[float, float] | None:
    """Centre of the arg-max cell as (y, x) in [0, 1] image coordinates; None for a map with no peak."""
    a = np.asarray(m, dtype=np.float64)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"expected a non-empty 2-D map, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or not a.max() > a.min():
        return None
    r, c = np.unravel_index(int(np.argmax(a)), a.shape)
    return (r + 0.5) / a.shape[0], (c + 0.5) / a.shape[1]


def part_mask(item: PartItem) -> np.ndarray | None:
    """The GT region ``G / max G > 0.5`` as a boolean map over ``item.gt``'s grid; None when G is empty."""
    g = np.asarray(item.gt, dtype=np.float64)
    if not g.max() > 0:
        return None
    return g / g.max() > GT_REGION


def peak_on_part(m: np.ndarray, item: PartItem) -> bool | None:
    """Whether the map's peak lies in the item's part; None when the item has no part (no box, empty GT)."""
    mask = None if item.box is not None else part_mask(item)
    if item.box is None and mask is None:
        return None
    p = peak_point(m)
    if p is None:
        return False
    y, x = p
    if item.box is not None:
        h, w = item.shape
        r0, r1, c0, c1 = item.box
        # Pixel r covers [r, r + 1) of the original image; the box is inclusive.
        return bool(r0 <= y * h < r1 + 1 and c0 <= x * w < c1 + 1)
    assert mask is not None
    r = min(int(y * mask.shape[0]), mask.shape[0] - 1)
    c = min(int(x * mask.shape[1]), mask.shape[1] - 1)
    return bool(mask[r, c])


def action_agnostic_map(maps: np.ndarray) -> np.ndarray:
    """Mean over actions of the max-normalised maps (A, h, w) -> (h, w): every action weighs the same."""
    a = np.asarray(maps, dtype=np.float64)
    peak = a.reshape(a.shape[0], -1).max(1)
    return (a / np.where(peak > 0, peak, 1.0)[:, None, None]).mean(0)


def oracle_map(item: PartItem, size: int = 224) -> np.ndarray:
    """The ceiling: a Gaussian at the part's centre (box centre, else the GT's arg-max), size x size."""
    if item.box is not None:
        h, w = item.shape
        r0, r1, c0, c1 = item.box
        cy, cx = (r0 + r1 + 1) / 2 / h, (c0 + c1 + 1) / 2 / w
    else:
        p = peak_point(item.gt)
        if p is None:  # no part: the flat map (no peak, scored as a miss)
            return np.zeros((size, size), np.float32)
        cy, cx = p
    yy, xx = (np.arange(size) + 0.5) / size, (np.arange(size) + 0.5) / size
    sigma = 0.05  # of the image side: the GT kernel's width (spec 3.1, k = sqrt(HW)/3)
    return np.exp(-((yy[:, None] - cy) ** 2 + (xx[None, :] - cx) ** 2) / (2 * sigma**2)).astype(np.float32)


def _scores(pred: np.ndarray, gt: np.ndarray, res: int, rng: np.random.Generator) -> tuple[float, float]:
    """(KLD, AUC-J) of one pair exactly as ``metrics.evaluate`` scores it (uniform G for an empty G)."""
    g = resize_map(np.asarray(gt, np.float32), res)
    p = preprocess_prediction(resize_map(np.asarray(pred, np.float32), res))
    g_real = g if g.sum() != 0 else np.full(g.shape, 1.0 / g.size, np.float32)
    return kld(p, g_real), auc_judd(p, g, rng)


def _stat(values: Sequence[float], n_total: int) -> dict[str, float | int]:
    v = np.asarray([x for x in values if not np.isnan(x)], dtype=np.float64)
    n = int(v.size)
    return {
        "mean": float(v.mean()) if n else float("nan"),
        "sem": float(v.std() / np.sqrt(n)) if n else float("nan"),
        "n_valid": n,
        "n_total": int(n_total),
    }


def _other_action(item: PartItem, items: Sequence[PartItem]) -> PartItem | None:
    """Another pair of the same image whose part is another one (first in item order), or None."""
    for o in items:
        if o.image != item.image or o.action == item.action:
            continue
        if item.box is not None and o.box is not None:
            if o.part != item.part or o.box != item.box:
                return o
        elif item.box is None and o.box is None:
            mi, mo = part_mask(item), part_mask(o)
            if mi is not None and mo is not None and not np.any(mi & mo):
                return o
    return None


def part_metrics(
    maps: Mapping[Hashable, np.ndarray], items: Sequence[PartItem], res: int = 28, seed: int = 0
) -> dict[str, dict[str, dict[str, float | int]]]:
    """Peak-on-part and action specificity of per-image maps ``{image: (A, h, w)}`` over ``items``.

    Returns ``{"peak_on_part": {"all", "small", "whole", "gt_region": stat},
    "vs_mean": {"hit", "KLD", "AUC-J": stat of own - mean}, "vs_other": {... own - other}}``, each stat
    ``{"mean", "sem", "n_valid", "n_total"}``. Items whose image has no maps are counted but not scored.
    """
    rng = np.random.default_rng(seed)
    hits: dict[str, list[float]] = {"all": [], "small": [], "whole": [], "gt_region": []}
    totals = {k: 0 for k in hits}
    diffs: dict[str, dict[str, list[float]]] = {k: {"hit": [], "KLD": [], "AUC-J": []} for k in ("vs_mean", "vs_other")}
    for item in items:
        totals["all"] += 1
        totals[item.kind] += 1
        stack = maps.get(item.image)
        if stack is None:
            continue
        stack = np.asarray(stack)
        own = stack[item.action]
        hit = peak_on_part(own, item)
        if hit is not None:
            hits["all"].append(float(hit))
            hits[item.kind].append(float(hit))
        k_own, a_own = _scores(own, item.gt, res, rng)
        other = _other_action(item, items)
        for name, alt in (
            ("vs_mean", action_agnostic_map(stack)),
            ("vs_other", None if other is None else stack[other.action]),
        ):
            if alt is None:
                continue
            k_alt, a_alt = _scores(alt, item.gt, res, rng)
            alt_hit = peak_on_part(alt, item)
            if hit is not None and alt_hit is not None:
                diffs[name]["hit"].append(float(hit) - float(alt_hit))
            diffs[name]["KLD"].append(k_own - k_alt)
            diffs[name]["AUC-J"].append(a_own - a_alt)
    out: dict[str, dict[str, dict[str, float | int]]] = {
        "peak_on_part": {k: _stat(v, totals[k]) for k, v in hits.items()}
    }
    for name, d in diffs.items():
        out[name] = {k: _stat(v, totals["all"]) for k, v in d.items()}
    return out


def format_part_metrics(r: Mapping[str, Mapping[str, Mapping[str, float | int]]]) -> str:
    """Lines like ``peak-on-part small: 0.370 ± 0.040 (96/96)`` and ``own - mean hit: +0.10 ± 0.05 (..)``."""
    lines = []
    for kind, s in r["peak_on_part"].items():
        if s["n_total"]:
            lines.append(f"peak-on-part {kind}: {format_stat(s)}")
    for name, label in (("vs_mean", "own - mean"), ("vs_other", "own - other action")):
        for m, s in r[name].items():
            lines.append(f"{label} {m}: {format_stat(s, signed=True)}")
    return "\n".join(lines)
