"""What a user of a fresh clone reads and runs first: licence, docs links, the node's --help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_licence_file_matches_the_declared_licence():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    assert "<license>Apache-2.0</license>" in (ROOT / "package.xml").read_text()
    assert 'license="Apache-2.0"' in (ROOT / "setup.py").read_text()


def test_readme_and_docs_link_nothing_outside_the_repository():
    """A clone has no ../shared: everything users need is in docs/ (dev set-up steps may name it)."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        assert "../shared/reference" not in text, f"{path.name} points users at ../shared/reference"
        for link in re.findall(r"\]\(([^)]+)\)", text):  # markdown links resolve inside the clone
            if not link.startswith(("http", "#")):
                assert (path.parent / link.split("#")[0]).exists(), f"{path.name}: broken link {link}"


def test_node_help_explains_ros_arguments():
    out = subprocess.run(
        [sys.executable, "-m", "hotspot_ros.run", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    for text in ("--ros-args", "-p NAME:=VALUE", "-r FROM:=TO", "__ns:=", "--no-autostart", "--params-file"):
        assert text in out.stdout, text


def test_node_reference_is_generated_from_the_parameter_table():
    """docs/node.md's parameter table is what hotspot_ros/params.py declares (and nothing hand-edited)."""
    from hotspot_ros.params import PARAMS
    from hotspot_ros.reference_doc import render

    text = (ROOT / "docs" / "node.md").read_text()
    assert text == render(), "docs/node.md is out of date: .venv/bin/python -m hotspot_ros.reference_doc --write"
    for name, p in PARAMS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert ("at configure" in row) == p.read_only, row
    out = subprocess.run(
        [sys.executable, "-m", "hotspot_ros.reference_doc", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
