"""Ctrl-C and SIGTERM as one requested stop, for every process this package starts.

A terminal's Ctrl-C reaches the whole process group, and ``ros2 launch`` then forwards SIGINT to each
of its processes again, so a process typically sees two signals in quick succession. The first one
becomes ``KeyboardInterrupt`` in the main thread; every later one is ignored, so it cannot interrupt
the clean-up (an uncaught second KeyboardInterrupt makes Python die by SIGINT, exit code -2, which
launch reports as "process has died").

rclpy must then be initialised with ``signal_handler_options=SignalHandlerOptions.NO``: its own
handlers would shut the context down under our feet instead, and spin in short slices, so that a
pending interrupt is seen promptly. Only the standard library is imported here: ``install()`` runs
before rclpy, torch and the model are imported, so a Ctrl-C while they load is handled too.
"""

from __future__ import annotations

import signal

_stop_requested = False


def _on_signal(signum: int, frame: object) -> None:
    global _stop_requested
    _stop_requested = True
    ignore()  # later signals must not interrupt the clean-up
    raise KeyboardInterrupt


def install() -> None:
    """Turn the first SIGINT/SIGTERM into KeyboardInterrupt in the main thread, ignore the rest."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def stop_requested() -> bool:
    """True once SIGINT or SIGTERM arrived: an error raised from inside an interrupted import or C
    extension (an ImportError "initialization failed") is then part of the stop, not a failure."""
    return _stop_requested


def ignore() -> None:
    """Ignore SIGINT/SIGTERM from now on (the clean-up after a stop that came some other way)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
