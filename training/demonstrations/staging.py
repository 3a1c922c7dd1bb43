"""Output folders that appear whole or not at all.

``find``, ``build`` and the synthetic scene write many files; a run that fails or is interrupted must not
leave a folder that looks like a finished result. Each writes into a hidden temporary folder beside its
output and renames it at the end.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotspot_core.errors import ConfigError

__all__ = ["check_empty", "staged_folder"]


def check_empty(out: Path) -> None:
    """Refuse an output that exists and is not an empty folder (before any work is done)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out}: exists and is not an empty folder (choose another -o)")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write into; renamed to ``out`` when the block ends, removed
    when it raises. ``out`` must be absent or an empty folder."""
    check_empty(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0o700 would stay on the renamed folder
        yield tmp
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
