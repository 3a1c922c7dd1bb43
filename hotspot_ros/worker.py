"""One worker thread that runs the newest submitted job; a job still waiting is replaced, never queued.

Plain Python (no ROS), so the node's callbacks only hand work over and return.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class LatestWorker:
    """Runs ``handle(job)`` on its own thread for the newest job; ``on_error`` gets whatever it raises."""

    def __init__(self, handle: Callable[[Any], None], on_error: Callable[[Exception], None], name: str) -> None:
        self._handle, self._on_error, self._name = handle, on_error, name
        self._wake = threading.Condition()
        self._pending: Any = None
        self._active = False  # a job is being handled
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._running = True
        thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        thread.start()
        # Kept only once started: a Ctrl-C inside start() must leave stop() nothing it cannot join (a thread
        # launched but not kept sees _running False and ends by itself).
        self._thread = thread

    def submit(self, job: Any) -> Any:
        """Hand over ``job``; returns the job it replaced (one still waiting, now dropped), else None."""
        with self._wake:
            replaced, self._pending = self._pending, job
            self._wake.notify()
        return replaced

    def pending(self) -> int:
        """Jobs submitted and not finished: the waiting one and the one being handled (0-2)."""
        with self._wake:
            return int(self._pending is not None) + int(self._active)

    def stop(self) -> None:
        """Drop any waiting job and join the thread (a job being handled finishes first)."""
        with self._wake:
            self._running = False
            self._pending = None
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while True:
            with self._wake:
                while self._running and self._pending is None:
                    self._wake.wait()
                if not self._running:
                    return
                job, self._pending = self._pending, None
                self._active = True
            try:
                self._handle(job)
            except Exception as exc:  # a bug must not kill the worker: report it and keep serving jobs
                self._on_error(exc)
            finally:
                with self._wake:
                    self._active = False
