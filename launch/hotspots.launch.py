"""Launch the interaction-hotspots node (real ROS 2 installs with `launch`/`launch_ros`).

    ros2 launch interaction_hotspots hotspots.launch.py image:=/camera/color/image_raw \
        detections:=/detector/detections device:=cuda model_path:=/path/model.safetensors

Set-ups without `launch` (PyPI): `hotspot-node --params-file config/hotspot.yaml --ros-args -r image:=...`
starts the same node with the same YAML file.
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("interaction_hotspots"))
    args = {
        "namespace": ("", "Namespace of the node and its topics (one per camera)"),
        "params_file": (str(share / "config" / "hotspot.yaml"), "Node parameters (YAML)"),
        "image": ("image", "Colour image topic (sensor_msgs/Image)"),
        "detections": ("detections", "Detections topic (vision_msgs/Detection2DArray)"),
        "depth": ("depth", "Aligned depth image topic (with use_depth)"),
        "camera_info": ("camera_info", "CameraInfo of the colour camera (with use_depth)"),
        "hand_detections": ("hand_detections", "Hand detections topic (with use_hand_topic)"),
        "device": ("auto", "auto | cpu | cuda"),
        "backend": ("torch", "Inference backend"),
        "model_path": ("", "Checkpoint (.safetensors); empty: the shipped demo model"),
        "autostart": ("true", "Configure and activate at start"),
    }
    cfg = {name: LaunchConfiguration(name) for name in args}
    node = LifecycleNode(
        package="interaction_hotspots",
        executable="hotspot_node",
        name="hotspot_node",
        namespace=cfg["namespace"],
        parameters=[cfg["params_file"], {"device": cfg["device"], "backend": cfg["backend"], "model_path": cfg["model_path"]}],
        remappings=[(topic, cfg[topic]) for topic in ("image", "detections", "depth", "camera_info", "hand_detections")],
        arguments=[],
        output="screen",
        autostart=cfg["autostart"],
    )
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=desc) for name, (default, desc) in args.items()]
        + [node]
    )
