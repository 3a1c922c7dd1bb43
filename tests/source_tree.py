"""A copy of this package's source as a user's clone has it (for the install tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

# what a clone does not have (.git aside) or a build would not read: local environments, build trees, runs
NOT_SOURCE = (
    ".git",
    ".venv",
    "build",
    "install",
    "log",
    "outputs",
    "runs",
    "tests",
    "__pycache__",
    "*.pyc",
    ".gpu_wheels",
)


def copy_source(root: Path, dst: Path) -> Path:
    """``root``'s source tree copied to ``dst`` (links kept as links), without ``NOT_SOURCE``."""
    shutil.copytree(root, dst, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return dst
