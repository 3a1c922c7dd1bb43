"""Install paths without torch: the messages on a planner machine, and the robot script's venv logic.

No download: the ROS 2 packages come from this project's venv (the one running the tests). A fresh venv
sees its site-packages but cannot import torch/torchvision (an import hook refuses them, as if absent);
this package is built with cmake into a separate prefix with that venv's Python, as colcon does on a
robot, and its messages are imported there. The same ROS packages, on PYTHONPATH with their libraries
on LD_LIBRARY_PATH as /opt/ros/<distro>/setup.bash sets them, stand in for a ROS distribution under
scripts/setup_robot.sh (which installs a small requirements file here: torch itself is gigabytes).

Cost: one cmake build of the interface package (~30-60 s on 2 cores). Skipped cleanly without cmake, a
compiler, or (robot script) a package index holding the small test requirement.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from source_tree import copy_source

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
STEP_TIMEOUT_S = 600
PY_VER = f"python{sys.version_info.major}.{sys.version_info.minor}"
BASE_PYTHON = str(Path(sys.base_prefix) / "bin" / PY_VER)
PROJECT_SITE = Path(sys.prefix) / "lib" / PY_VER / "site-packages"  # the project's venv: ROS from PyPI
BLOCKER = '''"""Refuse torch and torchvision, as if they were not installed (tests/test_install_envs.py)."""
import importlib.abc, sys


class _NoModelDeps(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision"):
            raise ModuleNotFoundError(f"No module named {name!r} (not installed here)", name=name)
        return None


sys.meta_path.insert(0, _NoModelDeps())
'''


def _run(cmd: list[str], env: dict | None = None, timeout: float = STEP_TIMEOUT_S, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True, **kw)


def _ros_libs() -> list[str]:
    return [str(Path(sys.prefix) / "lib")] + [str(p) for p in PROJECT_SITE.glob("ros_*.libs")]


def _clean_env(**extra: str) -> dict:
    """This test's environment without its venv, ROS and checkout paths, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "AMENT_PREFIX_PATH",
            "VIRTUAL_ENV",
            "LD_LIBRARY_PATH",
            "CMAKE_PREFIX_PATH",
            "_ROS_WHEELS_BOOTSTRAP_COMPLETE",
            "PYTHONHOME",
        )
    }
    venv_bin = str(Path(sys.prefix) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def no_torch_build(tmp_path_factory) -> tuple[Path, Path, dict]:
    """(venv without torch, prefix with this package built by it, run-time environment)."""
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not found")
    if not (Path(BASE_PYTHON).is_file() and (PROJECT_SITE / "rclpy").is_dir()):
        pytest.skip("needs the project venv with ROS 2 from PyPI (scripts/setup_ros.sh)")
    tmp = tmp_path_factory.mktemp("no_torch")
    venv, prefix = tmp / "venv", tmp / "prefix"
    r = _run([BASE_PYTHON, "-m", "venv", str(venv)], _clean_env())
    assert r.returncode == 0, r.stderr
    site = venv / "lib" / PY_VER / "site-packages"
    (site / "_no_model_deps.py").write_text(BLOCKER)
    (site / "zz_ros_packages.pth").write_text(f"import _no_model_deps\n{PROJECT_SITE}\n")
    env = _clean_env(
        AMENT_PREFIX_PATH=f"{prefix}{os.pathsep}{sys.prefix}",
        _ROS_WHEELS_BOOTSTRAP_COMPLETE="1",
        LD_LIBRARY_PATH=os.pathsep.join([str(prefix / "lib")] + _ros_libs()),
    )
    py = str(venv / "bin" / "python")
    r = _run([py, "-c", "import rclpy, numpy; import torch"], env)
    assert r.returncode != 0 and "torch" in r.stderr, "the venv must see ROS but not torch: " + r.stderr[-500:]
    # the package's sources alone, as in a workspace's src/ (the project venv may sit inside the checkout)
    src = tmp / "src" / "interaction_hotspots"
    copy_source(ROOT, src)
    build = tmp / "build"
    steps = [
        [
            "cmake",
            "-S",
            str(src),
            "-B",
            str(build),
            f"-DCMAKE_PREFIX_PATH={sys.prefix}",
            f"-DCMAKE_INSTALL_PREFIX={prefix}",
            f"-DPython3_EXECUTABLE={py}",
            "-DBUILD_TESTING=OFF",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        ["cmake", "--build", str(build), "-j2"],
        ["cmake", "--install", str(build)],
    ]
    for cmd in steps:
        r = _run(cmd, env)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return venv, prefix, env


def test_messages_build_and_import_without_torch(no_torch_build):
    venv, prefix, env = no_torch_build
    env = dict(env, PYTHONPATH=str(prefix / "lib" / PY_VER / "site-packages"))
    code = """
import importlib, sys
try:
    import torch
    sys.exit("torch must not be importable here")
except ModuleNotFoundError:
    pass
import rclpy
from rclpy.serialization import deserialize_message, serialize_message
import interaction_hotspots.msg as m
msg = m.HotspotArray(action_names=["grasp"], objects=[m.ObjectHotspots(maps=[0.5])])
out = deserialize_message(serialize_message(msg), m.HotspotArray)
assert out.action_names == ["grasp"] and list(out.objects[0].maps) == [0.5]
print(m.__file__)
"""
    r = _run([str(venv / "bin" / "python"), "-c", code], env, cwd="/")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().startswith(str(prefix)), r.stdout  # this build's messages, not the project venv's
    # the robot build also installed the Python packages next to them (importing them needs torch: run time)
    assert (prefix / "lib" / PY_VER / "site-packages" / "hotspot_ros" / "node.py").is_file()


def _distro_standin_env(**extra: str) -> dict:
    """What sourcing /opt/ros/<distro>/setup.bash gives the distribution's python3: ROS on PYTHONPATH."""
    env = _clean_env(
        PYTHONPATH=str(PROJECT_SITE),
        LD_LIBRARY_PATH=os.pathsep.join(_ros_libs()),
        AMENT_PREFIX_PATH=sys.prefix,
        ROS_DISTRO="kilted",
        _ROS_WHEELS_BOOTSTRAP_COMPLETE="1",
        ROBOT_BASE_PYTHON=BASE_PYTHON,
        **extra,
    )
    if Path("/opt/pypi/simple").is_dir():  # this machine's local package mirror (no network in the tests)
        env.update(PIP_INDEX_URL="file:///opt/pypi/simple", PIP_EXTRA_INDEX_URL="", PIP_FIND_LINKS="")
    return env


def test_setup_robot_keeps_the_distributions_numpy(tmp_path):
    if not (Path(BASE_PYTHON).is_file() and (PROJECT_SITE / "rclpy").is_dir()):
        pytest.skip("needs the project venv with ROS 2 from PyPI (scripts/setup_ros.sh)")
    env = _distro_standin_env()
    r = _run([BASE_PYTHON, "-c", "import rclpy, numpy; print(numpy.__version__)"], env)
    assert r.returncode == 0, r.stderr[-1000:]
    numpy_base = r.stdout.strip()
    robot_venv = tmp_path / "robot"
    script = str(ROOT / "scripts" / "setup_robot.sh")

    # a requirement the "distribution" lacks: installed, numpy and rclpy still the distribution's
    ok = tmp_path / "ok.txt"
    ok.write_text("toolz==1.1.0\n")
    r = _run(["bash", script, str(robot_venv)], dict(env, ROBOT_REQUIREMENTS=str(ok)))
    if r.returncode != 0 and ("No matching distribution" in r.stderr or "Could not find a version" in r.stderr):
        pytest.skip("toolz 1.1.0 is not available from the package index here")
    assert r.returncode == 0, r.stdout + r.stderr
    check = "import numpy, rclpy, toolz, sys; print(numpy.__version__, sys.prefix, toolz.__file__)"
    r = _run([str(robot_venv / "bin" / "python"), "-c", check], env)
    assert r.returncode == 0, r.stderr[-1000:]
    version, prefix, toolz_file = r.stdout.split()
    assert (version, prefix) == (numpy_base, str(robot_venv)) and toolz_file.startswith(str(robot_venv))
    assert (robot_venv / "COLCON_IGNORE").is_file()
    again = _run(["bash", script, str(robot_venv)], dict(env, ROBOT_REQUIREMENTS=str(ok)))
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr

    # a requirement that would replace the distribution's numpy is refused, and numpy stays
    other = "2.3.0" if numpy_base != "2.3.0" else "2.2.0"
    bad = tmp_path / "bad.txt"
    bad.write_text(f"numpy=={other}\n")
    r = _run(["bash", script, str(robot_venv)], dict(env, ROBOT_REQUIREMENTS=str(bad)))
    assert r.returncode != 0 and "conflicts with the distribution's packages" in r.stderr, r.stdout + r.stderr
    r = _run([str(robot_venv / "bin" / "python"), "-c", check], env)
    assert r.stdout.split()[0] == numpy_base


def test_package_xml_declares_the_node_dependencies():
    """rosdep installs what package.xml names: every ROS package the node imports and the Python
    dependencies that have rosdep keys."""
    import re
    import xml.etree.ElementTree as ET

    root = ET.parse(ROOT / "package.xml").getroot()
    declared = {e.text for e in root if e.tag in ("depend", "exec_depend")}
    imported = set()
    for path in (ROOT / "hotspot_ros").glob("*.py"):
        imported |= set(
            re.findall(
                r"^\s*(?:from|import) (\w+_msgs|rclpy|rcl_interfaces|ament_index_python)\b", path.read_text(), re.M
            )
        )
    imported.discard("interaction_hotspots")
    assert imported <= declared, f"imported but not declared: {sorted(imported - declared)}"
    assert {"python3-numpy", "python3-opencv", "python3-yaml", "python3-tqdm"} <= declared
    assert "diagnostic_msgs" in imported, "diagnostic_msgs is declared: the node publishes /diagnostics with it"
