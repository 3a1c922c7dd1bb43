"""Markdown table of ``training.evaluate`` JSON files, one column group per file (e.g. seen / novel).

    python -m training.report seen=runs/protocol/seen/results.json novel=runs/protocol/novel/results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

ORDER = ("center_bias", "basic", "resolution", "lstm_gradcam", "direct_cls", "ours")
METRICS = (("KLD", "↓"), ("SIM", "↑"), ("AUC-J", "↑"))


def table(groups: Sequence[tuple[str, dict]]) -> str:
    """Rows: methods (with their Table S1 row); columns: KLD/SIM/AUC-J (mean ± s.e.) of each group, best
    per column in bold."""
    head = "| method | " + " | ".join(f"{g} {m} {d}" for g, _ in groups for m, d in METRICS) + " |"
    sep = "|---|" + "---|" * (len(groups) * len(METRICS))
    best: dict[tuple[str, str], float] = {}
    for g, data in groups:
        for m, d in METRICS:
            vals = [r["metrics"][m]["mean"] for r in data["methods"].values()]
            best[(g, m)] = min(vals) if d == "↓" else max(vals)
    rows = []
    names = [n for n in ORDER if any(n in data["methods"] for _, data in groups)]
    for name in names:
        r0 = next(data["methods"][name] for _, data in groups if name in data["methods"])
        label = r0["label"]
        if r0.get("ablation_row") and r0["ablation_row"] != label:
            label = f"{label} ({r0['ablation_row']})"  # its row in the supplement's Table S1
        cells = []
        for g, data in groups:
            r = data["methods"].get(name)
            for m, _ in METRICS:
                if r is None:
                    cells.append("–")
                    continue
                s = r["metrics"][m]
                text = f"{s['mean']:.3f} ± {s['sem']:.3f}"
                cells.append(f"**{text}**" if abs(s["mean"] - best[(g, m)]) < 1e-12 else text)
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([head, sep, *rows])


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
    return 0


if __name__ == "__main__":
    sys.exit(main())
