"""Shared pytest set-up: import the project from this checkout, one ROS domain per test worker, and
GPU-test skipping."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def worker_domain_id(base: int, worker: str | None) -> int:
    """The ROS_DOMAIN_ID of a pytest-xdist worker ('gw0', 'gw1', ...; None: no workers) given the run's
    ``base`` (1..100): each worker its own, still in 1..100 (domain ids above 101 run out of ports), so that
    the nodes of tests running side by side never see each other's topics."""
    index = int(worker[2:]) if worker and worker.startswith("gw") and worker[2:].isdigit() else 0
    return (base - 1 + index) % 100 + 1


# Set at import, before any test starts a participant: ros_env (tests/ros_env.py) keeps a value already set.
# Without one (pytest run directly) the workers share a base drawn from the run's id, not each their own draw.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _given = os.environ.get("ROS_DOMAIN_ID", "")
    _from_run = int(os.environ.get("PYTEST_XDIST_TESTRUNUID", "0")[:8] or "0", 16) % 100 + 1
    _base = int(_given) if _given.isdigit() else _from_run
    os.environ["ROS_DOMAIN_ID"] = str(worker_domain_id(_base, os.environ["PYTEST_XDIST_WORKER"]))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (skipped cleanly without one)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
