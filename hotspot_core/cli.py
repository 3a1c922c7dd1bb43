"""Command-line entry points: a user's mistake ends in one line on stderr and exit code 2, never a traceback.

Every ``python -m training.*`` / ``hotspot_ros.*`` tool and ``scripts/*.py`` ends in ``cli.run(main)``
instead of ``sys.exit(main())``. The errors a user causes - a bad option value or config (the core's
``HotspotError`` family: ConfigError, CheckpointError, ...), a missing or unreadable file - are reported
the way argparse reports a bad option (``prog: error: message``, exit code 2). Anything else is a bug and
keeps its traceback. (``hotspot_ros.run``, the node's process, has its own: signals, exit code 1 on a failed
autostart; its bad options go through argparse.)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from hotspot_core.errors import HotspotError

__all__ = ["EXIT_USAGE", "USER_ERRORS", "describe", "fail", "program_name", "report", "run"]

EXIT_USAGE = 2  # what argparse exits with on a bad command line
USER_ERRORS: tuple[type[BaseException], ...] = (
    HotspotError,
    FileNotFoundError,
    FileExistsError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)


def program_name() -> str:
    """``training.train`` for ``python -m training.train``, ``bench_node.py`` for a script."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        return spec.name.removesuffix(".__main__")
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"


def describe(exc: BaseException) -> str:
    """One line naming the problem: an OSError's reason and file, otherwise the message with line breaks folded."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return text or type(exc).__name__


def report(exc: BaseException) -> int:
    """For a ``main`` that catches an error itself (its callers get a return code): the one line, and 2."""
    print(f"{program_name()}: error: {describe(exc)}", file=sys.stderr)
    return EXIT_USAGE


def fail(message: str) -> NoReturn:
    """End the program as argparse does on a bad option: ``prog: error: message`` on stderr, exit code 2."""
    print(f"{program_name()}: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def run(main: Callable[[], int | None]) -> NoReturn:
    """Run a CLI's ``main`` and exit with its code; a user error (``USER_ERRORS``) exits 2 with one line."""
    try:
        code = main()
    except USER_ERRORS as exc:
        fail(describe(exc))
    except KeyboardInterrupt:
        raise SystemExit(130) from None  # Ctrl-C: the shell's convention (128 + SIGINT), no traceback
    raise SystemExit(code)
