"""The project's one Markdown report writer (``markdown_table``) and the tables built with it.

* ``training.evaluate`` JSON files, one column group per file (e.g. seen / novel): the reference's
  metrics, then (when the JSON has them) the planner's metrics of ``hotspot_core.eval.part_metrics``::

    python -m training.report seen=runs/protocol/seen/results.json novel=runs/protocol/novel/results.json

* ``training.dan.evaluate`` rows: the Dual Attention Network's Tables 1 and 4 and temporal statistics
  (``dan_tables``), and their mean ± std over training seeds (``dan_summary``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hotspot_core import cli
from hotspot_core.dan.localisation import BOX_THRESHOLD

ORDER = (
    "center_bias",
    "mean_map",
    "basic",
    "resolution",
    "lstm_gradcam",
    "direct_cls",
    "ours",
    "ours_cam",
    "ours_located",
    "oracle",
)
METRICS = (("KLD", "↓"), ("SIM", "↑"), ("AUC-J", "↑"))
CEILINGS = ("oracle",)
# (column title, section, key) of the planner's table: peak-on-part, then own map minus the alternative.
PART_COLUMNS = (
    ("peak small", "peak_on_part", "small"),
    ("peak whole", "peak_on_part", "whole"),
    ("peak GT region", "peak_on_part", "gt_region"),
    ("own−mean hit", "vs_mean", "hit"),
    ("own−other hit", "vs_other", "hit"),
    ("own−other KLD", "vs_other", "KLD"),
    ("own−other AUC-J", "vs_other", "AUC-J"),
)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table of already formatted cells (no trailing newline)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _label(name: str, groups: Sequence[tuple[str, dict]]) -> str:
    """A method's label, with its row in the supplement's Table S1 where that differs."""
    r0 = next(data["methods"][name] for _, data in groups if name in data["methods"])
    label = r0["label"]
    if r0.get("ablation_row") and r0["ablation_row"] != label:
        label = f"{label} ({r0['ablation_row']})"
    return label


def table(groups: Sequence[tuple[str, dict]]) -> str:
    """Rows: methods (with their Table S1 row); columns: KLD/SIM/AUC-J (mean ± s.e.) of each group, best
    per column in bold (the oracle, a ceiling that knows the answer, is not a contender)."""
    best: dict[tuple[str, str], float] = {}
    for g, data in groups:
        for m, d in METRICS:
            vals = [
                r["metrics"][m]["mean"]
                for n, r in data["methods"].items()
                if n not in CEILINGS and r["metrics"][m]["n_valid"]
            ]
            best[(g, m)] = (min(vals) if d == "↓" else max(vals)) if vals else float("nan")
    rows = []
    names = [n for n in ORDER if any(n in data["methods"] for _, data in groups)]
    for name in names:
        cells = [_label(name, groups)]
        for g, data in groups:
            r = data["methods"].get(name)
            for m, _ in METRICS:
                if r is None:
                    cells.append("–")
                    continue
                s = r["metrics"][m]
                if not s["n_valid"]:  # no image scored: its mean is NaN
                    cells.append("n/a")
                    continue
                text = f"{s['mean']:.3f} ± {s['sem']:.3f}"
                cells.append(f"**{text}**" if abs(s["mean"] - best[(g, m)]) < 1e-12 else text)
        rows.append(cells)
    return markdown_table(["method"] + [f"{g} {m} {d}" for g, _ in groups for m, d in METRICS], rows)


def part_table(groups: Sequence[tuple[str, dict]]) -> str | None:
    """Peak-on-part and specificity (mean ± s.e.) per method and group; None when no JSON has them.

    Columns with no scored pair in any group (e.g. part boxes on OPRA) are left out.
    """

    def stat(r: dict | None, sec: str, key: str) -> dict | None:
        s = None if r is None or "part_metrics" not in r else r["part_metrics"][sec][key]
        return s if s is not None and s["n_valid"] else None

    names = [n for n in ORDER if any(n in data["methods"] for _, data in groups)]
    cols = [
        c for c in PART_COLUMNS if any(stat(data["methods"].get(n), c[1], c[2]) for _, data in groups for n in names)
    ]
    if not cols:
        return None
    rows = []
    for name in names:
        cells = [_label(name, groups)]
        for _, data in groups:
            for _title, sec, key in cols:
                s = stat(data["methods"].get(name), sec, key)
                fmt = "{:.3f} ± {:.3f}" if sec == "peak_on_part" else "{:+.3f} ± {:.3f}"
                cells.append("–" if s is None else fmt.format(s["mean"], s["sem"]))
        rows.append(cells)
    return markdown_table(["method"] + [f"{g} {c[0]}" for g, _ in groups for c in cols], rows)


# ------------------------------------------------------------------------------ Dual Attention Network
# (column title, row key) of Table 1 (recognition, percent).
DAN_RECOGNITION = (
    ("top-1 (A)", "action_top1"),
    ("top-5 (A)", "action_top5"),
    ("top-1 (O)", "object_top1"),
    ("top-5 (O)", "object_top5"),
    ("top-1 (2nd O)", "object2_top1"),
)


def _one_decimal(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}"


def dan_tables(rows: dict[str, dict[str, Any]]) -> str:
    """Table 1 (recognition) and, for attention models, Table 4 (box AP) and the temporal statistics of
    ``training.dan.evaluate`` rows, as Markdown."""
    recognition = ([name] + [_one_decimal(r.get(k)) for _, k in DAN_RECOGNITION] for name, r in rows.items())
    tables = [markdown_table(["method"] + [t for t, _ in DAN_RECOGNITION], recognition)]
    loc = {n: r for n, r in rows.items() if "box_ap" in r}
    if loc:
        ious = list(next(iter(loc.values()))["box_ap"])  # the IoU thresholds training.dan.evaluate scored at
        tables.append(
            markdown_table(
                ["model"] + [f"AP IoU={iou}" for iou in ious] + ["box centre in GT box", "frames"],
                (
                    [name]
                    + [_one_decimal(r["box_ap"][iou]) for iou in ious]
                    + [_one_decimal(r["centre_in_gt_box"]), str(r["box_frames"])]
                    for name, r in loc.items()
                ),
            )
        )
        tables.append(
            markdown_table(
                [
                    "model",
                    "clips trimmed (%)",
                    "mean trimmed length (frames)",
                    "mean clip length (frames)",
                    "trimmed frames at/after hand contact (%)",
                ],
                (
                    [name]
                    + [
                        _one_decimal(r[k])
                        for k in (
                            "trimmed_clips",
                            "mean_trimmed_frames",
                            "mean_clip_frames",
                            "trimmed_share_after_contact",
                        )
                    ]
                    for name, r in loc.items()
                ),
            )
        )
    return "\n\n".join(tables) + "\n"


def dan_summary(rows_per_seed: Sequence[dict[str, dict[str, Any]]]) -> str:
    """Mean ± std over seeds of every ``dan_tables`` value plus the prior diagnostics, as Markdown."""
    names = list(rows_per_seed[0])

    def cell(name: str, get: Callable[[dict[str, Any]], float | None], digits: int = 1) -> str:
        vals = [get(r[name]) for r in rows_per_seed if name in r]
        vals = [v for v in vals if v is not None]
        if not vals:
            return "-"
        return f"{np.mean(vals):.{digits}f} ± {np.std(vals):.{digits}f}" if len(vals) > 1 else f"{vals[0]:.{digits}f}"

    def key(k: str) -> Callable[[dict[str, Any]], float | None]:
        return lambda r: r.get(k)

    parts = [
        f"Mean ± std over {len(rows_per_seed)} training seed(s).",
        markdown_table(
            ["method"] + [t for t, _ in DAN_RECOGNITION],
            ([name] + [cell(name, key(k)) for _, k in DAN_RECOGNITION] for name in names),
        ),
    ]
    loc = [nm for nm in names if "box_ap" in rows_per_seed[0][nm]]
    if loc:
        thr = rows_per_seed[0][loc[0]].get("box_threshold", BOX_THRESHOLD)
        ious = list(rows_per_seed[0][loc[0]]["box_ap"])
        parts.append(f"Boxes at {100 * thr:.0f}% of the map's maximum.")
        parts.append(
            markdown_table(
                ["model"]
                + [f"AP IoU={iou}" for iou in ious]
                + ["box centre in GT box (%)", "median box area / GT area"],
                (
                    [name]
                    + [cell(name, lambda r, k=k: r["box_ap"][k]) for k in ious]
                    + [cell(name, key("centre_in_gt_box")), cell(name, key("median_box_area_ratio"), 2)]
                    for name in loc
                ),
            )
        )

        def percent(k: str) -> Callable[[dict[str, Any]], float | None]:
            return lambda r: None if r.get(k) is None else 100 * r[k]

        diagnostics = (
            ("1st-prediction top-1 (A)", key("first_action_top1")),
            ("1st-prediction top-1 (O)", key("first_object_top1")),
            ("prior influence on action att. (TV)", percent("prior_influence_action_att")),
            ("prior influence on object att. (TV)", percent("prior_influence_object_att")),
            ("top-1 (A) with another clip's priors", key("shuffled_prior_action_top1")),
            ("top-1 (O) with another clip's priors", key("shuffled_prior_object_top1")),
            ("clips trimmed (%)", key("trimmed_clips")),
            ("trimmed frames at/after contact (%)", key("trimmed_share_after_contact")),
        )
        parts.append(
            markdown_table(
                ["model"] + [t for t, _ in diagnostics],
                ([name] + [cell(name, get) for _, get in diagnostics] for name in loc),
            )
        )
        parts.append("Prior influence is x100 (percent of attention mass moved by swapping in another clip's priors).")
    return "\n\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    groups = []
    for arg in argv:
        name, _, path = arg.partition("=")
        if not path:
            name, path = Path(arg).parent.name, arg
        groups.append((name, json.loads(Path(path).read_text(encoding="utf-8"))))
    print(table(groups))
    parts = part_table(groups)
    if parts is not None:
        print()
        print(parts)
    return 0


if __name__ == "__main__":
    cli.run(main)
