"""docs/node.md, the node's parameter reference, generated from ``hotspot_ros.params.PARAMS`` so it stays true.

    .venv/bin/python -m hotspot_ros.reference_doc --write      # rewrite docs/node.md
    .venv/bin/python -m hotspot_ros.reference_doc --check      # exit 1 when docs/node.md is out of date

The topic table and the prose around the generated parameter table are in ``docs/node.md.in``
(``{{PARAMETERS}}`` marks where the table goes), so a person edits prose there and parameters in params.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .params import PARAMS, Param

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "docs" / "node.md.in"
OUTPUT = ROOT / "docs" / "node.md"
MARK = "{{PARAMETERS}}"


def _value(v) -> str:
    if isinstance(v, bool):
        return "`true`" if v else "`false`"
    if isinstance(v, str):
        return f'`"{v}"`' if v == "" else f"`{v}`"
    if isinstance(v, (list, tuple)):
        return "`[" + ", ".join(f'"{x}"' if isinstance(x, str) else str(x) for x in v) + "]`"
    return f"`{v}`"


def _range(p: Param) -> str:
    if p.choices:
        return " / ".join(f"`{c}`" for c in p.choices)
    if p.low is not None:
        return f"{p.low:g} .. {p.high:g}"
    return ""


def parameter_table() -> str:
    """One markdown row per parameter, in the order params.py declares them."""
    rows = [
        "| parameter | default | range / choices | at run time | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, p in PARAMS.items():
        when = "at configure" if p.read_only else "yes"
        text = p.description.replace("|", "\\|")
        rows.append(f"| `{name}` | {_value(p.default)} | {_range(p)} | {when} | {text} |")
    return "\n".join(rows)


def render() -> str:
    template = TEMPLATE.read_text()
    if MARK not in template:
        raise SystemExit(f"{TEMPLATE}: no {MARK} marker")
    return template.replace(MARK, parameter_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help=f"rewrite {OUTPUT.relative_to(ROOT)}")
    action.add_argument("--check", action="store_true", help="exit 1 when it is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        OUTPUT.write_text(text)
        return 0
    if not OUTPUT.exists() or OUTPUT.read_text() != text:
        print(
            f"{OUTPUT.relative_to(ROOT)} is out of date: python -m hotspot_ros.reference_doc --write", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
