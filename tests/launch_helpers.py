"""Run this checkout's launch files for tests: with `ros2 launch` as a user does, or a LaunchService.

`package_overlay` makes a throw-away install prefix whose share/interaction_hotspots holds per-file
symlinks to this checkout's launch/, config/, models/ and samples/, and whose hotspot_node executable
is scripts/hotspot_node, so `ros2 launch interaction_hotspots FILE` runs the files under test (not a
copy installed into the venv by an older set-up). `launch_env` puts it first on AMENT_PREFIX_PATH, the
venv's bin/ first on PATH (the executable runs `python3`) and the checkout first on PYTHONPATH.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
PKG = "interaction_hotspots"
T = TypeVar("T")


def package_overlay(prefix: Path) -> Path:
    share = prefix / "share" / PKG
    for sub in ("launch", "config"):
        (share / sub).mkdir(parents=True, exist_ok=True)
        for f in (ROOT / sub).iterdir():
            if f.is_file() and not (share / sub / f.name).exists():
                (share / sub / f.name).symlink_to(f)
    for sub in ("models", "samples"):
        if not (share / sub).exists():
            (share / sub).symlink_to(ROOT / sub)
    shutil.copy(ROOT / "package.xml", share / "package.xml")
    index = prefix / "share" / "ament_index" / "resource_index" / "packages"
    index.mkdir(parents=True, exist_ok=True)
    (index / PKG).touch()
    lib = prefix / "lib" / PKG
    lib.mkdir(parents=True, exist_ok=True)
    for exe in (
        "hotspot_node",
        "hotspot_recorder",
        "hotspot_sample_source",
        "hotspot_bag_record",
        "hotspot_bag_play",
    ):  # CMakeLists.txt installs these
        if not (lib / exe).exists():
            (lib / exe).symlink_to(ROOT / "scripts" / exe)
    return prefix


def launch_env(prefix: Path, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join(p for p in (str(prefix), env.get("AMENT_PREFIX_PATH", sys.prefix)) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.prefix) / "bin"), env.get("PATH", "")))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def problem_lines(lines: list[str]) -> list[str]:
    """Error lines and tracebacks in launch output (warnings are fine)."""
    bad = ("[ERROR]", "[FATAL]", "Traceback", "process has died", "Exception")
    return [ln for ln in lines if any(b in ln for b in bad)]


class RosLaunchCli:
    """`ros2 launch ARGS...` in its own process group (as a terminal runs it), output collected by line."""

    def __init__(self, args: list[str], env: dict, cwd: Path) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            ["ros2", "launch", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(text in ln for ln in self.lines):
                return True
            time.sleep(0.05)
        return any(text in ln for ln in self.lines)

    def ctrl_c(self) -> None:
        """What Ctrl-C in a terminal does: SIGINT to the whole foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self._reader.join(timeout=5)

    def kill(self) -> None:
        """Stop a launch still running: Ctrl-C first, so launch ends the processes it started (a SIGKILL to
        `ros2 launch` alone orphans them: seen as node processes left behind by a launch that hung), then
        SIGKILL the group if it does not end."""
        if self.proc.poll() is None:
            self.ctrl_c()
            try:
                self.proc.wait(timeout=30)
                return
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


@dataclass
class LaunchRecord:
    lines: list[str] = field(default_factory=list)
    exit_codes: dict[str, int] = field(default_factory=dict)


def run_launch_service(
    launch_file: Path, arguments: dict[str, str], checks: Callable[[], T], timeout: float
) -> tuple[T, LaunchRecord]:
    """Start ``launch_file`` with a LaunchService in this (main) thread, run ``checks`` in a worker thread
    while it runs, then shut the launch down as Ctrl-C does; return the checks' result and the output.
    """
    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessExit, OnProcessIO
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    from launch import LaunchDescription, LaunchService

    record = LaunchRecord()

    def on_io(event) -> None:
        record.lines.extend(f"[{event.action.name}] {ln}" for ln in event.text.decode(errors="replace").splitlines())

    def on_exit(event, context) -> None:
        record.exit_codes[event.action.name] = event.returncode

    ld = LaunchDescription(
        [
            RegisterEventHandler(OnProcessIO(on_stdout=on_io, on_stderr=on_io)),
            RegisterEventHandler(OnProcessExit(on_exit=on_exit)),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(launch_file)), launch_arguments=list(arguments.items())
            ),
        ]
    )
    service = LaunchService(noninteractive=True)
    service.include_launch_description(ld)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    run = loop.create_task(service.run_async())
    try:
        result = loop.run_until_complete(asyncio.wait_for(loop.run_in_executor(None, checks), timeout))
    finally:
        stop = service.shutdown()  # from the loop's own thread it returns the coroutine to run
        if stop is not None:
            loop.run_until_complete(stop)
        loop.run_until_complete(asyncio.wait_for(run, 60))
        loop.close()
        asyncio.set_event_loop(None)
    return result, record
