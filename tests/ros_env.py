"""Isolated ROS 2 environment for tests that start real rclpy participants.

Import the fixture into a test module (``from ros_env import ros_env``) and request
it. For the whole session it sets:

- ``ROS_DOMAIN_ID``: random per run (1..100), so parallel test runs on one machine
  don't see each other's topics. A value already set by the caller is kept.
- ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (and drops the deprecated
  ``ROS_LOCALHOST_ONLY``): discovery traffic never leaves the machine.
- ``ROS_LOG_DIR``: a temporary directory, removed afterwards (nothing in ~/.ros/log).
- ``AMENT_PREFIX_PATH``: defaults to this interpreter's prefix (the venv that
  ``scripts/setup_ros.sh`` set up) when unset.

Child processes started by tests inherit these. Fast DDS shared-memory files
(``/dev/shm/fastdds_*``, ``/dev/shm/sem.fastdds_*``) that appeared during the
session and that no live process uses are removed at the end (a killed participant
leaves them behind). Best run inside a private network namespace:
``unshare -n bash -c 'ip link set lo up; ...'``.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import sys
import tempfile

import pytest

_SHM_GLOBS = ("/dev/shm/fastdds_*", "/dev/shm/sem.fastdds_*")


def _set(env, key: str, value: str | None) -> None:
    if value is None:
        env.pop(key, None)
    else:
        env[key] = value


def _shm_files() -> set[str]:
    return {p for g in _SHM_GLOBS for p in glob.glob(g)}


def _shm_stem(path: str) -> str:
    """fastdds_X, fastdds_X_el and sem.fastdds_X_mutex all belong to segment fastdds_X."""
    name = os.path.basename(path)
    if name.startswith("sem.") and name.endswith("_mutex"):
        name = name[len("sem.") : -len("_mutex")]
    if name.endswith("_el"):
        name = name[: -len("_el")]
    return name


def _shm_in_use() -> set[str]:
    """Stems of Fast DDS segments some live process has open or mapped."""
    used: set[str] = set()
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            for fd in os.listdir(proc + "/fd"):
                try:
                    target = os.readlink(f"{proc}/fd/{fd}")
                except OSError:
                    continue
                if "/dev/shm/" in target and "fastdds_" in target:
                    used.add(_shm_stem(target))
            with open(proc + "/maps") as maps:
                for line in maps:
                    if "/dev/shm/" in line and "fastdds_" in line:
                        used.add(_shm_stem(line.split()[-1]))
        except OSError:
            continue
    return used


def _clean_new_shm(before: set[str]) -> None:
    """Remove Fast DDS shared-memory files that appeared during the session and that
    no live process uses any more (left behind by killed participants). Files that
    existed at session start are never touched.
    """
    new = _shm_files() - before
    if not new:
        return
    used = _shm_in_use()
    for path in new:
        if _shm_stem(path) in used:
            continue
        try:
            os.remove(path)
        except OSError:
            pass


@pytest.fixture(scope="session")
def ros_env():
    """Set the ROS 2 test environment variables for the session; yield them as a dict."""
    keys = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY", "ROS_LOG_DIR", "AMENT_PREFIX_PATH")
    saved = {k: os.environ.get(k) for k in keys}
    shm_before = _shm_files()
    log_dir = tempfile.mkdtemp(prefix="ros_test_log_")

    env = os.environ
    env.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env.pop("ROS_LOCALHOST_ONLY", None)
    env["ROS_LOG_DIR"] = log_dir
    if not env.get("AMENT_PREFIX_PATH"):
        env["AMENT_PREFIX_PATH"] = sys.prefix
    try:
        yield {k: env.get(k) for k in keys if env.get(k) is not None}
    finally:
        for k, v in saved.items():
            _set(env, k, v)
        shutil.rmtree(log_dir, ignore_errors=True)
        _clean_new_shm(shm_before)
