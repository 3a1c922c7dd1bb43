"""Robot-side defects of issue 20: a configure that fails on a missing Python module says which module and
what to install; a TensorRT engine's batch profile refuses a max_objects it cannot take."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ros_env import ros_env  # noqa: F401  (session fixture)

from hotspot_ros.install_hints import batch_profile_refusal

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = '''"""`import onnx` fails as if onnx were not installed (tests/test_robot_defects.py)."""
import importlib.abc, importlib.machinery, sys


class _Missing(importlib.abc.Loader):
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

    def exec_module(self, module):
        pass


class _NoOnnx(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):  # a spec that fails on import (find_spec callers go on)
        if name.split(".")[0] == "onnx":
            return importlib.machinery.ModuleSpec(name, _Missing())
        return None


sys.meta_path.insert(0, _NoOnnx())
'''


def test_configure_without_onnx_names_the_module_and_its_requirement(ros_env, tmp_path):  # noqa: F811
    """A real node process (autostart) with the onnxruntime backend where `import onnx` fails: configure
    fails, and the log line says which module and which requirement file provides it."""
    (tmp_path / "_no_onnx.py").write_text(BLOCKER)
    code = "import _no_onnx, runpy, sys; runpy.run_module('hotspot_ros.run', run_name='__main__')"
    args = ["--ros-args", "-p", "backend:=onnxruntime", "-p", f"cache_dir:={tmp_path / 'cache'}"]
    env = dict(ros_env, PYTHONPATH=f"{tmp_path}:{ROOT}")
    import os

    r = subprocess.run(
        [sys.executable, "-c", code, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=180
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-3000:]
    line = next((ln for ln in out.splitlines() if "configure failed" in ln), "")
    assert "the onnxruntime backend needs the Python module 'onnx'" in line, out[-3000:]
    assert "requirements/robot-onnx.txt" in line and "setup_robot.sh --with onnx" in line, line
    assert "Traceback" not in out, out[-3000:]


def test_tensorrt_profile_refuses_a_larger_max_objects_with_the_way_to_rebuild():
    why = batch_profile_refusal("tensorrt", 16, 32)
    assert why and "max_objects 32" in why and "at most 16" in why and "configure" in why
    assert batch_profile_refusal("tensorrt", 16, 16) is None  # within the profile
    assert batch_profile_refusal("tensorrt", 16, 4) is None
    assert batch_profile_refusal("torch", None, 200) is None  # any batch size in one call
    assert batch_profile_refusal("onnxruntime", None, 200) is None
