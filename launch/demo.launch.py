"""The bundled demo under `ros2 launch`: sample source + hotspot node + recorder.

    ros2 launch interaction_hotspots demo.launch.py output_dir:=/tmp/hotspots_demo

The node comes from hotspots.launch.py with the shipped config/hotspot.yaml (or `params_file:=...`);
the sample source publishes samples/demo once the recorder is matched to the node's outputs; the recorder writes an MCAP, the
overlay PNGs and summary.json into `output_dir` and exits after the last frame's hotspots (or once
nothing new arrived for `idle_sec`), which ends the whole launch. Ctrl-C ends it at any time.
Without `launch` (PyPI set-ups), `make demo` runs the same three processes.
"""

import json
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    IncludeLaunchDescription,
    RegisterEventHandler,
)
from launch.event_handlers import OnProcessExit, OnProcessIO
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.substitutions import ExecutableInPackage

from launch import LaunchDescription


def _start_camera_when_ready(camera: ExecuteProcess):
    started = []

    def on_stdout(event) -> list:
        if started or b"[recorder] ready" not in event.text:
            return []
        started.append(True)
        return [camera]

    return on_stdout


def _end_when_recorded(event, context) -> list:
    if context.is_shutdown:  # Ctrl-C: launch is ending everything already (a second Shutdown would fail)
        return []
    return [EmitEvent(event=Shutdown(reason="recorder finished"))]


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("interaction_hotspots"))
    samples = share / "samples" / "demo"
    frames = len(json.loads((samples / "detections.json").read_text())["frames"])
    # The helpers start as the node does: the package's executables (scripts/hotspot_*), which run the
    # python3 on PATH, i.e. the venv with torch and mcap once it is activated. Not sys.executable: under
    # `ros2 launch` on a robot that is the distribution's Python, which has neither.
    camera = ExecuteProcess(
        cmd=[
            ExecutableInPackage("hotspot_sample_source", "interaction_hotspots"),
            "--samples",
            str(samples),
            "--rate",
            LaunchConfiguration("rate_hz"),
        ],
        name="sample_source",
        output="screen",
    )
    recorder = ExecuteProcess(
        cmd=[
            ExecutableInPackage("hotspot_recorder", "interaction_hotspots"),
            "--output",
            LaunchConfiguration("output_dir"),
            "--expect",
            str(frames),
            "--idle",
            LaunchConfiguration("idle_sec"),
        ],
        name="recorder",
        output="screen",
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                "output_dir",
                default_value="hotspots_demo_output",
                description="Where the MCAP, overlay PNGs and summary.json go",
            ),
            DeclareLaunchArgument("rate_hz", default_value="5.0", description="Sample camera rate"),
            DeclareLaunchArgument(
                "idle_sec",
                default_value="15.0",
                description="The recorder stops once no hotspots arrived for this long",
            ),
            DeclareLaunchArgument(
                "params_file",
                default_value=str(share / "config" / "hotspot.yaml"),
                description="Node parameters (YAML)",
            ),
            IncludeLaunchDescription(
                PythonLaunchDescriptionSource(str(share / "launch" / "hotspots.launch.py")),
                launch_arguments={"params_file": LaunchConfiguration("params_file")}.items(),
            ),
            recorder,
            # The camera starts once the recorder is matched to the node's outputs (it says so on stdout): the
            # first frames' hotspots would otherwise be published before the node's side of the match.
            RegisterEventHandler(OnProcessIO(target_action=recorder, on_stdout=_start_camera_when_ready(camera))),
            # The demo is over when the recorder has everything: end the node and the source with it.
            RegisterEventHandler(OnProcessExit(target_action=recorder, on_exit=_end_when_recorded)),
        ]
    )
