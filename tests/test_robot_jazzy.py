"""Path A of docs/ros2-install.md run for real on a stand-in of an Ubuntu 24.04 + ROS 2 Jazzy robot:
Python 3.12, PyPI's ros-jazzy-* wheels, numpy 1.26.4 and OpenCV 4.6 (noble's apt versions), colcon.

`make test-robot` builds the stand-in once (scripts/robot_standin.sh -> build/robot-standin, cached by
stamps) and runs this module with HOTSPOT_ROBOT_STANDIN pointing at it; without that variable the
module skips (a plain `make test` does not download torch for Python 3.12). In the stand-in:
colcon build of a copy of this package in a fresh workspace, scripts/setup_robot.sh (torch next to
numpy 1.26), the core tests that numpy 1.26 / OpenCV 4.6 broke, the node on the shipped model and YAML
under `ros2 launch` of both launch files, and a configure without onnx that says what to install.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from source_tree import copy_source

ROOT = Path(__file__).resolve().parents[1]
STANDIN = os.environ.get("HOTSPOT_ROBOT_STANDIN", "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not STANDIN, reason="make test-robot runs it (HOTSPOT_ROBOT_STANDIN unset)"),
]
STEP_TIMEOUT_S = 600


def _standin() -> Path:
    d = Path(STANDIN).resolve()
    if not (d / "setup.bash").is_file() or not (d / "robot-venv" / "bin" / "python").exists():
        pytest.fail(f"{d} is not a built stand-in: run scripts/robot_standin.sh {d}")
    return d


def _env() -> dict:
    """The test's environment less its venv, ROS and checkout paths (as a robot's login shell has)."""
    drop = ("PYTHONPATH", "AMENT_PREFIX_PATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH", "CMAKE_PREFIX_PATH", "PYTHONHOME")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("_ROS_WHEELS")}
    venv_bin = str(ROOT / ".venv" / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    return env


def _sh(script: str, ws: Path | None = None, venv: bool = True) -> str:
    """Bash lines run as on the robot: ROS sourced, the workspace's install/ sourced, the venv active."""
    d = _standin()
    lines = ["set -eo pipefail", f"source {d}/setup.bash"]
    if ws is not None:
        lines.append(f"source {ws}/install/setup.bash")
    if venv:
        lines.append(f"source {d}/robot-venv/bin/activate")
    return "\n".join(lines + [script])


def _run(script: str, cwd: Path, timeout: float = STEP_TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, **kw
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, ros_env) -> Path:  # noqa: F811
    """A colcon workspace with a copy of this package in src/, built against the stand-in's Jazzy."""
    ws = tmp_path_factory.mktemp("robot_ws")
    copy_source(ROOT, ws / "src" / "interaction_hotspots")
    # path A: `colcon build --packages-up-to interaction_hotspots` (vision_msgs is the distribution's here)
    r = _run(_sh("colcon build --packages-up-to interaction_hotspots --cmake-args -DBUILD_TESTING=OFF", venv=False), ws)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return ws


from ros_env import ros_env  # noqa: E402, F401  (session fixture: domain id, localhost-only, log dir)


def test_colcon_build_installs_the_package_without_training(workspace):
    site = workspace / "install" / "interaction_hotspots" / "lib" / "python3.12" / "site-packages"
    assert (site / "hotspot_ros" / "node.py").is_file() and (site / "interaction_hotspots" / "msg").is_dir()
    assert not (site / "training").exists(), "the offline training package must not be on the robot's path"
    lib = workspace / "install" / "interaction_hotspots" / "lib" / "interaction_hotspots"
    assert {p.name for p in lib.iterdir()} >= {
        "hotspot_node",
        "hotspot_recorder",
        "hotspot_sample_source",
        "hotspot_bag_record",
        "hotspot_bag_play",
    }


def test_setup_robot_keeps_noble_numpy_and_opencv_next_to_torch():
    d = _standin()
    r = _run(_sh(f"bash {ROOT}/scripts/setup_robot.sh {d}/robot-venv", venv=False), ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    code = (
        "import sys, numpy, cv2, torch, rclpy, mcap_ros2;"
        "print(sys.version_info[:2], numpy.__version__, cv2.__version__, torch.__version__.partition(chr(43))[0])"
    )
    r = _run(_sh(f"python -c '{code}'"), ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["(3,", "12)", "1.26.4", "4.6.0", "2.14.1"], r.stdout


def test_core_tests_pass_on_numpy_1_26_and_opencv_4_6():
    """The core test files that numpy 1.26 (np.trapezoid) and OpenCV 4.6 (text metrics) broke."""
    files = ["tests/test_metrics.py", "tests/test_part_metrics.py", "tests/test_overlay.py"]
    r = _run(_sh(f"PYTHONPATH={ROOT}:$PYTHONPATH python -m pytest -q -p no:cacheprovider " + " ".join(files)), ROOT)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def test_demo_launch_runs_the_node_on_the_shipped_model(workspace, tmp_path):
    """`ros2 launch interaction_hotspots demo.launch.py`: node (hotspots.launch.py, shipped YAML and model),
    sample source and recorder from the venv; every frame recorded or counted, the launch ends by itself."""
    out = tmp_path / "demo"
    r = _run(_sh(f"ros2 launch interaction_hotspots demo.launch.py output_dir:={out}", workspace), tmp_path, 300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "process has died" not in r.stdout + r.stderr, r.stdout[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    frames = len(json.loads((ROOT / "samples" / "demo" / "detections.json").read_text())["frames"])
    node = summary["node"]
    assert node["frames_received"] == frames, summary
    assert node["frames_processed"] + node["frames_dropped_busy"] + node["frames_dropped_stale"] == frames, summary
    assert summary["hotspot_messages"] == node["frames_processed"] >= 1, summary
    assert (out / "hotspots.mcap").stat().st_size > 0


def test_hotspots_launch_activates_and_stops_on_ctrl_c(workspace, tmp_path):
    """`ros2 launch interaction_hotspots hotspots.launch.py`: the node configures the shipped model with the
    shipped YAML and activates; SIGINT ends the launch cleanly."""
    script = _sh("exec ros2 launch interaction_hotspots hotspots.launch.py", workspace)
    p = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "warm-up" in line:  # logged by on_activate after the model is loaded
                break
        assert any("configured: model" in ln and "demo_synthetic" in ln for ln in lines), "".join(lines[-40:])
        assert any("warm-up" in ln for ln in lines), "".join(lines[-40:])
        os.killpg(p.pid, signal.SIGINT)
        rest, _ = p.communicate(timeout=60)
        lines.append(rest)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 0, "".join(lines)[-4000:]
    assert "process has died" not in "".join(lines), "".join(lines)[-4000:]


def test_onnxruntime_backend_without_onnx_says_what_to_install(workspace, tmp_path):
    """The robot venv has no onnx/onnxruntime (requirements/robot-onnx.txt is optional): configure fails with
    what is missing and how to install it, and the node exits with its start-failure code."""
    cmd = f"ros2 run interaction_hotspots hotspot_node --ros-args -p backend:=onnxruntime -p cache_dir:={tmp_path}"
    r = _run(_sh(cmd, workspace), tmp_path, 300)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out[-3000:]
    line = next((ln for ln in out.splitlines() if "configure failed" in ln), "")
    # onnxruntime is imported first: the backend's own error names it and how to install it
    assert "onnxruntime" in line and "install" in line, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
