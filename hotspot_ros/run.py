"""Run the hotspot node as a process: parameters file, optional autostart (configure + activate), spin.

Process behaviour that launch files, systemd and shells rely on:
- Ctrl-C (SIGINT) or SIGTERM in any state - importing torch, loading the model, spinning - ends the
  process within a fraction of a second with exit code 0 and no traceback;
- a failed configure or activate under autostart ends it with exit code 1 (launch reports the node as
  died, systemd restarts it), instead of leaving an unconfigured node behind that exits 0 later.

The signal handlers are installed before anything else is imported (rclpy, torch and the model come
inside ``run_node``), so a Ctrl-C while the node imports or loads is handled too. Only a Ctrl-C during
the Python interpreter's own start-up (the first fraction of a second) still gets Python's default.
"""

from __future__ import annotations

import sys

from hotspot_ros import stop_signals

if __name__ == "__main__":  # `python -m hotspot_ros.run`, the installed hotspot_node: before any import
    stop_signals.install()

from pathlib import Path  # noqa: E402

EXIT_OK, EXIT_START_FAILED = 0, 1
SPIN_PERIOD_S = 0.25  # the main thread returns to Python this often, so a pending signal is seen promptly

USAGE_EPILOG = """\
ROS arguments go after --ros-args, as for any ROS 2 node:
  -p NAME:=VALUE                 set a parameter (overrides --params-file), e.g. -p device:=cuda
  --params-file FILE             another YAML file of parameters
  -r FROM:=TO                    remap a topic, e.g. -r image:=/camera/color/image_raw
  -r __ns:=/NAMESPACE            run in a namespace (one node per camera)
  -r __node:=NAME                rename the node
  --log-level LEVEL              debug | info | warn | error
Example:
  hotspot-node --ros-args -r image:=/camera/color/image_raw -r detections:=/detector/detections -p device:=cpu
Ctrl-C ends the node (exit code 0); a failed autostart configure/activate exits with code 1.
"""


def default_params_file() -> Path | None:
    """config/hotspot.yaml from the installed share folder or this checkout."""
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory("interaction_hotspots")) / "config" / "hotspot.yaml"
        if share.is_file():
            return share
    except Exception:  # not installed as a ROS package (PyPI set-up): use the checkout
        pass
    local = Path(__file__).resolve().parents[1] / "config" / "hotspot.yaml"
    return local if local.is_file() else None


def parse_args(argv: list[str]) -> tuple:
    """Our options, and the ROS arguments (from --ros-args on) for rclpy.init."""
    import argparse

    ros_args: list[str] = []
    if "--ros-args" in argv:
        i = argv.index("--ros-args")
        argv, ros_args = argv[:i], argv[i:]
    parser = argparse.ArgumentParser(
        prog="hotspot-node",
        description="Interaction hotspots lifecycle node.",
        epilog=USAGE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--params-file",
        type=Path,
        default=default_params_file(),
        help="parameters YAML (default: the shipped config/hotspot.yaml)",
    )
    parser.add_argument(
        "--no-autostart",
        action="store_true",
        help="start unconfigured and wait for lifecycle transitions (a lifecycle manager)",
    )
    args = parser.parse_args(argv)
    if args.params_file is not None and not args.params_file.is_file():
        parser.error(f"parameters file not found: {args.params_file}")
    init_args = ["--ros-args", "--params-file", str(args.params_file)] if args.params_file else []
    if ros_args:
        init_args += ros_args if not init_args else ros_args[1:]
    return args, init_args


def run_node(node_class: type | None = None, argv: list[str] | None = None) -> int:
    """Console entry point: the same node and YAML file as the launch file, for set-ups without launch."""
    # Signals become KeyboardInterrupt in the main thread, whatever it is doing (see stop_signals).
    stop_signals.install()
    node = executor = None
    code = EXIT_OK
    try:
        args, init_args = parse_args(list(sys.argv[1:] if argv is None else argv))
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.lifecycle import TransitionCallbackReturn
        from rclpy.signals import SignalHandlerOptions

        if node_class is None:
            from .node import HotspotNode as node_class
        rclpy.init(args=[sys.argv[0]] + init_args, signal_handler_options=SignalHandlerOptions.NO)
        node = node_class()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if not args.no_autostart:
            for name, trigger in (("configure", node.trigger_configure), ("activate", node.trigger_activate)):
                if trigger() != TransitionCallbackReturn.SUCCESS:
                    node.get_logger().fatal(
                        f"autostart: {name} failed (see above); exiting with code {EXIT_START_FAILED}"
                    )
                    return (code := EXIT_START_FAILED)
        while rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except KeyboardInterrupt:
        pass  # Ctrl-C / SIGTERM: a requested stop
    except Exception:
        # An interrupt inside an import or a C extension's initialisation can surface as another error
        # (an ImportError "initialization failed"): still a requested stop, not a failure.
        if not stop_signals.stop_requested():
            raise
    finally:
        stop_signals.ignore()  # a Ctrl-C must not interrupt the clean-up
        _close(node, executor)
    return code


def _close(node, executor) -> None:
    if "rclpy" not in sys.modules:
        return  # interrupted before ROS was even imported
    import rclpy

    if node is not None:
        node.shutdown_io()  # worker joined, timers and subscriptions destroyed, model freed
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
    rclpy.try_shutdown()


def node_command(params: dict[str, object], python: str | None = None) -> list[str]:
    """The command line that runs this node on the shipped YAML with ``params`` set on top (-p NAME:=VALUE),
    for the demo and the benchmarks."""
    cmd = [python or sys.executable, "-m", "hotspot_ros.run", "--ros-args"]
    for name, value in params.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        cmd += ["-p", f"{name}:={text}"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    return run_node(None, argv)


if __name__ == "__main__":
    raise SystemExit(main())
