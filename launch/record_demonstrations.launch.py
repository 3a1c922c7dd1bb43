"""Record demonstrations for `training.demonstrations` (docs/demonstrations.md): camera, detections, hands.

    ros2 launch interaction_hotspots record_demonstrations.launch.py image:=/camera/color/image_raw \
        detections:=/detector/detections hand_detections:=/hand_detector/detections output:=my_demos

Starts the package's recorder (`hotspot_ros.bag_record`: a rosbag2-layout MCAP, on the ROS 2 distribution and
on the PyPI set-up alike) on the three topics; the defaults are the node's own topic names. Ctrl-C ends the
recording and closes the file. `ros2 bag record -o my_demos <the three topics>` records the same on a robot.
"""

from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.substitutions import ExecutableInPackage

from launch import LaunchDescription

ARGS = {
    "image": ("/image", "The camera's image topic (sensor_msgs/Image or CompressedImage)"),
    "detections": ("/detections", "The object detector's vision_msgs/Detection2DArray topic"),
    "hand_detections": ("/hand_detections", "The hand detector's Detection2DArray topic; empty: none"),
    "output": ("", "The bag folder to create; empty: demonstrations_<date>-<time> in the working directory"),
    "duration": ("0", "Stop after this many seconds; 0: at Ctrl-C"),
}


def _recorder(context) -> list:
    get = {name: LaunchConfiguration(name).perform(context) for name in ARGS}
    topics = [get[t] for t in ("image", "detections", "hand_detections") if get[t]]
    output = ["--output", get["output"]] if get["output"] else []
    return [
        ExecuteProcess(
            # The python3 on PATH (the venv's once it is activated), as the node's executable does.
            cmd=[
                ExecutableInPackage("hotspot_bag_record", "interaction_hotspots"),
                *topics,
                *output,
                "--duration",
                get["duration"],
            ],
            name="bag_record",
            output="screen",
        )
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=desc) for name, (default, desc) in ARGS.items()]
        + [OpaqueFunction(function=_recorder)]
    )
