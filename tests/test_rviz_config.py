"""RViz in one command: `hotspots.launch.py rviz:=true` adds rviz2 (only when asked; rviz2 itself is not
installed here, so the launch description is checked, not a running RViz), and every topic that
config/hotspots.rviz names is one the node publishes or subscribes with the shipped defaults, in the
node's namespace."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from launch_helpers import ROOT, launch_env, package_overlay  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401  (session fixture)

RVIZ = ROOT / "config" / "hotspots.rviz"
NS = "/rviz_check"


def rviz_topics() -> list[str]:
    """Every topic named by a display of the config (recursing into display groups)."""
    found = []

    def walk(displays):
        for d in displays or []:
            topic = d.get("Topic")
            if isinstance(topic, dict) and topic.get("Value"):
                found.append(topic["Value"])
            walk(d.get("Displays"))

    walk(yaml.safe_load(RVIZ.read_text())["Visualization Manager"]["Displays"])
    return found


def test_rviz_config_shows_the_overlay_markers_and_points_by_relative_names():
    topics = rviz_topics()
    assert {"hotspots/overlay", "hotspots/markers", "hotspots/points"} <= set(topics)
    classes = {d["Class"] for d in yaml.safe_load(RVIZ.read_text())["Visualization Manager"]["Displays"]}
    assert {"rviz_default_plugins/Image", "rviz_default_plugins/MarkerArray"} <= classes
    assert all(not t.startswith("/") for t in topics), "absolute topics would not follow the node's namespace"


@pytest.fixture
def launch_module(tmp_path, ros_env, monkeypatch):  # noqa: F811
    pytest.importorskip("launch")
    pytest.importorskip("launch_ros")
    env = launch_env(package_overlay(tmp_path / "prefix"))
    monkeypatch.setenv("AMENT_PREFIX_PATH", env["AMENT_PREFIX_PATH"])
    spec = importlib.util.spec_from_file_location("hotspots_launch", ROOT / "launch" / "hotspots.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _actions(module, **args):
    """The node (and rviz2) actions the launch file creates for ``args`` (everything else at its default)."""
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from launch import LaunchContext

    description = module.generate_launch_description()
    context = LaunchContext()
    declared = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    for arg in declared:
        context.launch_configurations[arg.name] = args.pop(arg.name, None) or arg.default_value[0].perform(context)
    assert not args, f"not launch arguments: {args}"
    opaque = [e for e in description.entities if isinstance(e, OpaqueFunction)]
    return [a for f in opaque for a in f.execute(context)], context, {a.name for a in declared}


def test_rviz_starts_only_when_asked_with_the_nodes_namespace_and_remaps(launch_module):
    from launch.utilities import perform_substitutions

    actions, _, names = _actions(launch_module)
    assert {"rviz", "rviz_config", "rviz_fixed_frame"} <= names
    assert [a.node_executable for a in actions] == ["hotspot_node"], "rviz2 must not start unless asked"

    actions, context, _ = _actions(launch_module, rviz="true", namespace="cam1", image="/cam1/color/image_raw")
    node, rviz = actions
    assert (rviz.node_package, rviz.node_executable) == ("rviz2", "rviz2")
    args = [perform_substitutions(context, c) for c in rviz.cmd[1:5]]  # then launch_ros' own --ros-args
    assert args[0] == "-d" and args[1].endswith("share/interaction_hotspots/config/hotspots.rviz")
    assert Path(args[1]).resolve() == RVIZ.resolve()
    assert args[2:] == ["-f", "camera_color_optical_frame"]
    for a in (node, rviz):
        a._perform_substitutions(context)  # what launch does before starting the process
    assert rviz.expanded_node_namespace == node.expanded_node_namespace == "/cam1"
    assert rviz.expanded_remapping_rules == node.expanded_remapping_rules == [("image", "/cam1/color/image_raw")]
    with pytest.raises(ValueError, match="rviz"):
        _actions(launch_module, rviz="maybe")


@pytest.mark.slow
def test_every_rviz_topic_is_one_the_node_has(ros_env, tmp_path):  # noqa: F811
    """The real node with the shipped config/hotspot.yaml, in a namespace, fed by a camera and a detector
    (input_qos auto subscribes once publishers exist): each rviz topic resolved in that namespace is one of
    its publications or subscriptions."""
    pytest.importorskip("rclpy")
    pytest.importorskip("interaction_hotspots.msg")
    from ros_client import Client, start_node, stop_node

    client = Client("rviz_topics_client", namespace=NS)
    proc = start_node({}, extra_args=["--params-file", str(ROOT / "config" / "hotspot.yaml")], namespace=NS)
    try:
        assert client.wait_for_node(), "node never subscribed"
        node = client.node
        pubs = {t for t, _ in node.get_publisher_names_and_types_by_node("hotspot_node", NS)}
        subs = {t for t, _ in node.get_subscriber_names_and_types_by_node("hotspot_node", NS)}
        missing = [t for t in rviz_topics() if f"{NS}/{t}" not in pubs | subs]
        assert not missing, f"rviz topics the node does not have: {missing}; node: {sorted(pubs | subs)}"
    finally:
        client.close()
        stop_node(proc)
