"""The bundled demo on a real ROS 2 install: sample source + hotspot node + recorder.

    ros2 launch interaction_hotspots demo.launch.py output_dir:=/tmp/hotspots_demo

Without `launch` (PyPI set-ups), `make demo` runs the same three processes.
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("interaction_hotspots"))
    out = LaunchConfiguration("output_dir")
    return LaunchDescription([
        DeclareLaunchArgument("output_dir", default_value="hotspots_demo_output", description="Where the MCAP and PNGs go"),
        DeclareLaunchArgument("rate_hz", default_value="10.0", description="Sample camera rate"),
        LifecycleNode(
            package="interaction_hotspots", executable="hotspot_node", name="hotspot_node", namespace="",
            parameters=[str(share / "config" / "hotspot.yaml")], output="screen", autostart=True,
        ),
        ExecuteProcess(cmd=["python3", "-m", "hotspot_ros.sample_source", "--rate", LaunchConfiguration("rate_hz")], output="screen"),
        ExecuteProcess(cmd=["python3", "-m", "hotspot_ros.recorder", "--output", out], output="screen"),
    ])
