"""Scoring found interactions against a scene's ground truth: recall and precision, per verb and overall.

A found interaction matches a true one when it is filed under the same object (tracking id) and their
intervals (found: first to last contact frame; true: the use phase, the hand on the part) overlap with a
temporal IoU of at least ``min_iou``; each is matched at most once (greedy, best IoU first).
"""

from __future__ import annotations

from typing import Any

__all__ = ["score", "format_table"]


def _tiou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def score(found: dict[str, Any], truth: dict[str, Any], min_iou: float = 0.5) -> dict[str, Any]:
    """found: ``interactions.json`` of ``find``; truth: ``scene.json``. Returns per-verb rows and the totals."""
    f_items = [(r["object"]["track_id"], (r["start_ns"], r["release_ns"])) for r in found["interactions"]]
    t_items = [(d["track_id"], (d["contact_start_ns"], d["release_ns"]), d["verb"]) for d in truth["interactions"]]
    pairs = sorted(
        (
            (_tiou(fi[1], ti[1]), i, j)
            for i, fi in enumerate(f_items)
            for j, ti in enumerate(t_items)
            if fi[0] == ti[0] and _tiou(fi[1], ti[1]) >= min_iou
        ),
        reverse=True,
    )
    f_used: set[int] = set()
    t_match: dict[int, int] = {}
    for _, i, j in pairs:
        if i not in f_used and j not in t_match:
            f_used.add(i)
            t_match[j] = i
    rows: dict[str, dict[str, Any]] = {}
    for j, (_, _, verb) in enumerate(t_items):
        row = rows.setdefault(verb, {"truth": 0, "matched": 0})
        row["truth"] += 1
        row["matched"] += j in t_match
    for row in rows.values():
        row["recall"] = row["matched"] / row["truth"]
    start_err = [(f_items[i][1][0] - t_items[j][1][0]) / 1e6 for j, i in t_match.items()]
    end_err = [(f_items[i][1][1] - t_items[j][1][1]) / 1e6 for j, i in t_match.items()]
    n_t, n_f, n_m = len(t_items), len(f_items), len(t_match)
    return {
        "verbs": dict(sorted(rows.items())),
        "truth": n_t,
        "found": n_f,
        "matched": n_m,
        "recall": n_m / n_t if n_t else 1.0,
        "precision": n_m / n_f if n_f else 1.0,
        "start_error_ms": sum(start_err) / len(start_err) if start_err else 0.0,
        "end_error_ms": sum(end_err) / len(end_err) if end_err else 0.0,
        "min_iou": min_iou,
    }


def format_table(s: dict[str, Any]) -> str:
    lines = [f"{'verb':10s} {'truth':>5s} {'matched':>7s} {'recall':>7s}"]
    for verb, row in s["verbs"].items():
        lines.append(f"{verb:10s} {row['truth']:5d} {row['matched']:7d} {row['recall']:7.3f}")
    lines += [
        "",
        f"interactions: {s['truth']} true, {s['found']} found, {s['matched']} matched (same object, "
        f"temporal IoU >= {s['min_iou']:g})",
        f"recall {s['recall']:.3f}  precision {s['precision']:.3f}",
        f"found start - true contact start: {s['start_error_ms']:+.0f} ms mean; "
        f"found release - true release: {s['end_error_ms']:+.0f} ms mean",
    ]
    return "\n".join(lines)
