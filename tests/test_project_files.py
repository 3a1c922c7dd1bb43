"""What a user of a fresh clone reads and runs first: licence, docs links, the node's --help, the old DAN commands."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

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


# Commands users' scripts call by their old names; their code now lives in training/dan/.
DAN_SHIMS = {"train_dan": "training.dan.train", "evaluate_dan": "training.dan.evaluate"}


@pytest.mark.parametrize(("shim", "module"), sorted(DAN_SHIMS.items()))
def test_old_dan_command_forwards_to_the_training_dan_cli(shim: str, module: str):
    out = subprocess.run(
        [sys.executable, "-m", f"training.{shim}", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: python -m {module} "), out.stdout[:200]
    # A compatibility entry point only: its docstring, imports and the __main__ call, no code of its own.
    tree = ast.parse((ROOT / "training" / f"{shim}.py").read_text())
    assert module in (ast.get_docstring(tree) or "")
    kinds = {type(node).__name__ for node in tree.body[1:]}
    assert kinds <= {"Import", "ImportFrom", "If"}, kinds


def test_dan_training_code_lives_in_training_dan():
    """training/dan/ mirrors hotspot_core/dan/; the only flat DAN files are the two entry points above and
    make_demo_dan.py (the shipped demo DAN's recipe, beside make_demo_model.py)."""
    flat = sorted(
        p.name for p in (ROOT / "training").glob("*.py") if p.stem.startswith("dan_") or p.stem.endswith("_dan")
    )
    assert flat == sorted([f"{shim}.py" for shim in DAN_SHIMS] + ["make_demo_dan.py"])
    assert {"__init__", "config", "data", "train", "evaluate"} <= {
        p.stem for p in (ROOT / "training" / "dan").glob("*.py")
    }


def test_each_test_worker_has_its_own_ros_domain():
    """scripts/run_tests.sh runs the tests on several workers; tests/conftest.py gives each its own domain id
    (in 1..100, wrapping), so that ROS tests running side by side never see each other's nodes."""
    from conftest import worker_domain_id

    ids = [worker_domain_id(99, f"gw{i}") for i in range(4)]
    assert ids == [99, 100, 1, 2]
    assert worker_domain_id(7, None) == 7 and worker_domain_id(7, "master") == 7
