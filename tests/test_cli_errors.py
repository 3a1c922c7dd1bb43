"""Every command-line tool answers a user's mistake with one line on stderr and exit code 2, not a traceback.

Each case runs the real tool as a subprocess (``python -m ...`` or ``scripts/*.py``) with one mistake a
user makes: a missing file or folder, a corrupt checkpoint, a wrong option value. Tools that fail this
way go through ``hotspot_core.cli.run`` (see there).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from hotspot_core.demo_model import demo_model_path

ROOT = Path(__file__).resolve().parents[1]
MISSING = "/no/such/place"

# (tool, argv, a word the message must contain). {corrupt}: a file of garbage bytes named like a checkpoint;
# {tmp}: an empty scratch folder; {full}: a folder holding a file; {model}: the shipped demo model.
CASES = [
    ("training.train", ["--data-name", "opra", "--data-root", MISSING, "--out-dir", "{tmp}/run"], MISSING),
    ("training.evaluate", ["--method", "center_bias", "--data-name", "opra", "--data-root", MISSING], MISSING),
    ("training.visualise", ["--checkpoint", "{corrupt}", "--images", "{tmp}/a.png", "--out", "{tmp}/v"], "corrupt"),
    # No --data-name and a folder whose tree is neither dataset's: the user must name it.
    (
        "training.visualise",
        ["--checkpoint", "{model}", "--data-root", "{tmp}", "--grid", "--out", "{tmp}/v"],
        "--data-name",
    ),
    ("training.visualise", ["--checkpoint", f"{MISSING}/m.safetensors", "--grid", "--out", "{tmp}/v"], MISSING),
    ("training.visualise", ["--checkpoint", "{model}", "--images", f"{MISSING}.png", "--out", "{tmp}/v"], MISSING),
    ("training.export", ["{corrupt}", "-o", "{tmp}/m.onnx"], "corrupt"),
    ("training.build_engine", [f"{MISSING}/m.onnx"], MISSING),
    (
        "training.locate",
        ["--checkpoint", "{corrupt}", "--data-root", "{tmp}", "--out", "{tmp}/l.safetensors"],
        "corrupt",
    ),
    ("training.dan.train", ["--world", MISSING, "--out", "{tmp}/d.safetensors"], MISSING),
    ("training.dan.evaluate", ["--world", MISSING, "--run", "ours={corrupt}"], MISSING),
    # The old names (compatibility entry points) answer the same way.
    ("training.train_dan", ["--world", MISSING, "--out", "{tmp}/d.safetensors"], MISSING),
    ("training.evaluate_dan", ["--world", MISSING, "--run", "ours={corrupt}"], MISSING),
    ("training.extract_frames", ["--clips", MISSING, "--out", "{tmp}/frames"], MISSING),
    ("training.report", [f"{MISSING}/eval.json"], MISSING),
    ("training.synthetic", ["--out", "{full}"], "full"),
    ("training.synthetic_world", ["--out", "{full}"], "full"),
    ("hotspot_core.hotspots.reference_import", [f"{MISSING}/a.pth", "--actions", "a,b", "-o", "{tmp}/m"], MISSING),
    ("hotspot_ros.run", ["--params-file", f"{MISSING}/p.yaml"], MISSING),
    ("hotspot_ros.demo", ["--model", f"{MISSING}/m.safetensors", "--output", "{tmp}/demo"], MISSING),
    ("hotspot_ros.sample_source", ["--samples", MISSING], MISSING),
    ("hotspot_ros.bag_play", [f"{MISSING}/bag.mcap"], MISSING),
    ("hotspot_ros.bag_record", ["/image", "-o", "{full}"], "full"),
    ("scripts/probes/ablation_diagnostics.py", ["--data-root", MISSING, "--method", "ours={corrupt}"], MISSING),
    ("scripts/bench_core.py", ["--backbones", "nope"], "nope"),
    ("scripts/bench_cache.py", ["--data-root", MISSING], MISSING),
    ("scripts/bench_node.py", ["--model", f"{MISSING}/m.safetensors"], MISSING),
    ("scripts/bench_reuse.py", ["--model", f"{MISSING}/m.safetensors"], MISSING),
    ("scripts/bench_demonstrations.py", ["--work", "{tmp}/w", "--world-clips", "nope"], "nope"),
    ("scripts/probes/border_probe.py", ["--data-root", MISSING, "--method", "ours={corrupt}"], MISSING),
    ("scripts/probes/demo_fit_probe.py", [f"{MISSING}/work"], MISSING),
    ("scripts/probes/contact_probe.py", ["--data-root", MISSING, "--checkpoint", "{corrupt}", "--split", "seen"], ""),
    ("scripts/probes/hotspot_cause.py", ["--data-root", MISSING, "--method", "ours={corrupt}"], MISSING),
    ("scripts/probes/mil_probe.py", ["--data-root", MISSING, "--cache", "{tmp}/c", "--checkpoint", "{corrupt}"], ""),
    ("scripts/probes/motion_probe.py", ["--data-root", MISSING, "--checkpoint", "{corrupt}"], ""),
    ("scripts/probes/part_probe.py", ["--data-root", MISSING, "--checkpoint", "{corrupt}"], ""),
    ("scripts/probes/readout_probe.py", ["--data-root", MISSING, "--fit", "grow={corrupt}"], MISSING),
    (
        "training.demonstrations",
        ["train", f"{MISSING}.mcap", "-o", "{tmp}/m.safetensors", "--grow-similarity", "1.5"],
        "grow_similarity",
    ),
]


def _command(tool: str) -> list[str]:
    return [sys.executable, str(ROOT / tool)] if tool.endswith(".py") else [sys.executable, "-m", tool]


def _run_case(index: int, root: Path) -> subprocess.CompletedProcess:
    """Case ``index`` run as a user would, in its own folder ``root``."""
    tool, argv, _ = CASES[index]
    scratch = root / "scratch"
    scratch.mkdir(parents=True)
    corrupt = root / "corrupt.safetensors"
    corrupt.write_bytes(b"not a checkpoint\x00" * 8)
    full = root / "full"
    full.mkdir()
    (full / "keep.txt").write_text("a user's file\n", encoding="utf-8")
    args = [a.format(corrupt=corrupt, tmp=scratch, full=full, model=demo_model_path()) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        _command(tool) + args, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Future]:
    """The selected cases, started together on every core: each is a separate Python process that spends
    its seconds importing torch, so running them side by side takes a fraction of running them in turn."""
    selected = sorted(
        {
            item.callspec.params["index"]
            for item in request.session.items
            if getattr(item, "originalname", "") == "test_user_error_is_one_line_and_exit_2"
        }
    )
    pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2))
    request.addfinalizer(pool.shutdown)
    base = tmp_path_factory.mktemp("cli_errors")
    return {i: pool.submit(_run_case, i, base / f"case{i}") for i in selected}


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_user_error_is_one_line_and_exit_2(index: int, runs: dict[int, Future]) -> None:
    named = CASES[index][2]
    proc = runs[index].result()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert "error" in lines[-1] and named in lines[-1], proc.stderr
    assert sum("error" in line.lower() for line in lines) == 1, proc.stderr  # one line says what went wrong
