"""Launch the interaction-hotspots node (ROS 2 installs with `launch`/`launch_ros`).

    ros2 launch interaction_hotspots hotspots.launch.py image:=/camera/color/image_raw \
        detections:=/detector/detections params_file:=/path/my_hotspots.yaml device:=cuda

Lifecycle authority: the node. It configures and activates itself at start (its own autostart)
unless `autostart:=false`, which starts it with `--no-autostart` and leaves it unconfigured for an
external lifecycle manager (`ros2 lifecycle set /hotspot_node configure`, nav2's lifecycle manager).
The launch file never asks launch_ros to drive transitions, so it loads on launch_ros releases with
and without `LifecycleNode(autostart=...)`, and no transition is requested twice.

Parameters: `params_file` (default: the shipped config/hotspot.yaml) holds them all. `device`,
`backend` and `model_path` override the file only when given on the command line: left empty they
pass nothing, so a user's YAML is never silently overridden by a launch default.

Topic arguments remap the node's inputs; left empty the node's names stay (`image`, `detections`,
...). `camera_info` follows the image topic (<image namespace>/camera_info) unless remapped.

RViz: `rviz:=true` also starts rviz2 with config/hotspots.rviz (or `rviz_config:=...`) in the node's
namespace, with the node's topic remaps, and `rviz_fixed_frame` (default camera_color_optical_frame: set
it to your camera's optical frame) as its fixed frame. The config names the topics relative
(`hotspots/overlay`, `hotspots/markers`, `hotspots/points`, `image`), so they resolve to the node's own.
rviz2 is not a dependency: it is only looked for when asked.

Set-ups without `launch` (PyPI): `hotspot-node --params-file config/hotspot.yaml --ros-args -r image:=...`
starts the same node with the same YAML file.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from launch import LaunchContext, LaunchDescription

TOPICS = {
    "image": "Colour image topic (sensor_msgs/Image)",
    "detections": "Detections topic (vision_msgs/Detection2DArray)",
    "depth": "Aligned depth image topic (with use_depth)",
    "camera_info": "CameraInfo of the colour camera (default: <image namespace>/camera_info)",
    "hand_detections": "Hand detections topic (with use_hand_topic)",
}
# Launch arguments that override the params file only when given (empty: the file's value stays).
OVERRIDES = {
    "device": "auto | cpu | cuda (empty: the params file's value)",
    "backend": "torch | onnxruntime | tensorrt (empty: the params file's value)",
    "model_path": "Checkpoint (.safetensors) (empty: the params file's value)",
}


def _is_true(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError(f"autostart must be true or false, got {text!r}")
    return value in ("true", "1", "yes", "on")


def _is_true_arg(name: str, text: str) -> bool:
    try:
        return _is_true(text)
    except ValueError:
        raise ValueError(f"{name} must be true or false, got {text!r}") from None


def _node(context: LaunchContext) -> list:
    def get(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    parameters: list = [get("params_file")]
    overrides = {name: get(name) for name in OVERRIDES if get(name)}
    if overrides:
        parameters.append(overrides)  # after the file: explicit arguments win
    remappings = [(topic, get(topic)) for topic in TOPICS if get(topic)]
    rviz = []
    if _is_true_arg("rviz", get("rviz")):
        # same namespace and remaps as the node: the config's relative topics resolve to the node's topics
        rviz.append(
            Node(
                package="rviz2",
                executable="rviz2",
                name="hotspots_rviz",
                namespace=get("namespace"),
                arguments=["-d", get("rviz_config"), "-f", get("rviz_fixed_frame")],
                remappings=remappings,
                output="screen",
            )
        )
    return [
        LifecycleNode(
            package="interaction_hotspots",
            executable="hotspot_node",
            name=get("node_name"),
            namespace=get("namespace"),
            parameters=parameters,
            remappings=remappings,
            arguments=[] if _is_true(get("autostart")) else ["--no-autostart"],
            output="screen",
        )
    ] + rviz


def generate_launch_description() -> LaunchDescription:
    share = Path(get_package_share_directory("interaction_hotspots"))
    args = {
        "namespace": ("", "Namespace of the node and its topics (one per camera)"),
        "node_name": ("hotspot_node", "Name of the node"),
        "params_file": (str(share / "config" / "hotspot.yaml"), "Node parameters (YAML)"),
        "autostart": ("true", "true: the node configures and activates itself; false: it waits unconfigured"),
        "rviz": ("false", "true: also start rviz2 with rviz_config (overlay, markers, hotspot points)"),
        "rviz_config": (str(share / "config" / "hotspots.rviz"), "RViz config used with rviz:=true"),
        "rviz_fixed_frame": ("camera_color_optical_frame", "RViz fixed frame: the camera's optical frame"),
        **{topic: ("", desc + "; empty: not remapped") for topic, desc in TOPICS.items()},
        **{name: ("", desc) for name, desc in OVERRIDES.items()},
    }
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=desc) for name, (default, desc) in args.items()]
        + [OpaqueFunction(function=_node)]
    )
