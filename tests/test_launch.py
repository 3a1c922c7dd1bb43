"""The launch files, run as a user runs them: `ros2 launch interaction_hotspots FILE` and a LaunchService.

Needs launch/launch_ros/ros2launch (installed by scripts/setup_ros.sh from ../shared/vendor/ros2-tools
where that folder exists, or from the ROS distribution); skipped cleanly without them. Every launch
uses the shipped config/hotspot.yaml unless the test is about a user's params file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("launch")
pytest.importorskip("launch_ros")
pytest.importorskip("ros2launch")

from launch_helpers import ROOT, RosLaunchCli, launch_env, package_overlay, problem_lines, run_launch_service  # noqa: E402
from ros_env import ros_env  # noqa: E402,F401

pytestmark = pytest.mark.slow
LAUNCH_DIR = ROOT / "launch"
START_S = 120.0  # torch import + model load on a loaded 2-core machine
STOP_S = 30.0  # hang detector for Ctrl-C (normally a second or two)


@pytest.fixture
def overlay(tmp_path, ros_env, monkeypatch):  # noqa: F811
    """This checkout's package first on AMENT_PREFIX_PATH (for the launch files and their children)."""
    prefix = package_overlay(tmp_path / "prefix")
    env = launch_env(prefix)
    for key in ("AMENT_PREFIX_PATH", "PATH", "PYTHONPATH"):
        monkeypatch.setenv(key, env[key])
    return env


def catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a SIGTERM handler (the node installs its handlers first thing)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(ln.split()[1] for ln in text.splitlines() if ln.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (15 - 1)))


def wait_until(condition, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def get_parameter(client, name: str):
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    req = GetParameters.Request(names=[name])
    return parameter_value_to_python(client._call(GetParameters, f"{client.target}/get_parameters", req).values[0])


@pytest.mark.parametrize("launch_file", ["hotspots.launch.py", "demo.launch.py", "record_demonstrations.launch.py"])
def test_ros2_launch_finds_every_file_in_the_dev_venv(launch_file, ros_env):  # noqa: F811
    """`ros2 launch interaction_hotspots FILE` searches share/ with os.walk, which skips symlinked dirs."""
    from ament_index_python.packages import PackageNotFoundError
    from ros2launch.api import get_share_file_path_from_package

    try:
        path = get_share_file_path_from_package(package_name="interaction_hotspots", file_name=launch_file)
    except PackageNotFoundError:
        pytest.skip("interaction_hotspots is not installed in this venv (scripts/setup_ros.sh)")
    assert Path(path).name == launch_file and Path(path).is_file()


def _user_params(tmp_path: Path, **changes) -> Path:
    """The shipped YAML with some values changed: what a user's params file looks like."""
    import yaml

    data = yaml.safe_load((ROOT / "config" / "hotspot.yaml").read_text())
    data["/**"]["ros__parameters"].update(changes)
    path = tmp_path / "my_hotspots.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_hotspots_launch_runs_with_a_users_params_file(overlay, tmp_path):
    """Node active with no error lines, hotspots published, the user's YAML not overridden by launch
    defaults, and shutdown (what Ctrl-C does) ends every process with exit code 0."""
    from ros_client import Client, detections, rgb_image

    params = _user_params(tmp_path, device="cpu", backend="torch")

    def checks():
        client = Client("launch_test_client")
        try:
            assert client.wait_for_node(START_S), "node never subscribed"
            state = client.get_state()
            device = get_parameter(client, "device")
            img = rgb_image(480, 640, (1, 0))
            out = client.send_until_output(img, detections(img.header, [("a", "mug", 0.9, (320, 240, 120, 100))]))
            return state, device, out
        finally:
            client.node.destroy_node()

    (state, device, out), rec = run_launch_service(
        LAUNCH_DIR / "hotspots.launch.py", {"params_file": str(params)}, checks, timeout=START_S + 90
    )
    assert state == "active"
    assert device == "cpu", "a launch-argument default overrode the user's params file"
    assert out is not None and len(out.objects) == 1
    assert rec.exit_codes and all(code == 0 for code in rec.exit_codes.values()), rec.exit_codes
    assert not problem_lines(rec.lines), "\n".join(rec.lines[-60:])


def test_hotspots_launch_explicit_args_win_and_autostart_false_waits(overlay, tmp_path):
    from ros_client import Client

    params = _user_params(tmp_path, device="cpu")

    def checks():
        client = Client("launch_test_client2")
        try:
            # unconfigured: no subscriptions yet, so wait on the lifecycle service instead
            assert client.spin_until(lambda: "hotspot_node" in client.node.get_node_names(), START_S)
            return client.get_state(), get_parameter(client, "device")
        finally:
            client.node.destroy_node()

    (state, device), rec = run_launch_service(
        LAUNCH_DIR / "hotspots.launch.py",
        {"params_file": str(params), "device": "auto", "autostart": "false"},
        checks,
        timeout=START_S + 60,
    )
    assert state == "unconfigured", "autostart:=false must leave the node for a lifecycle manager"
    assert device == "auto", "an argument given on the command line must override the params file"
    assert all(code == 0 for code in rec.exit_codes.values()), rec.exit_codes
    assert not problem_lines(rec.lines), "\n".join(rec.lines[-60:])


def test_demo_launch_under_ros2_launch(overlay, tmp_path):
    """`ros2 launch interaction_hotspots demo.launch.py`: every sample frame's hotspots recorded (or the
    node's counters say why not), no error lines, and the launch ends by itself with exit code 0."""
    out = tmp_path / "demo"
    cli = RosLaunchCli(["interaction_hotspots", "demo.launch.py", f"output_dir:={out}"], overlay, tmp_path)
    try:
        rc = cli.wait(timeout=START_S + 120)
    finally:
        cli.kill()
    assert rc == 0, "\n".join(cli.lines[-60:])
    assert not problem_lines(cli.lines), "\n".join(problem_lines(cli.lines))
    summary = json.loads((out / "summary.json").read_text())
    frames = len(json.loads((ROOT / "samples" / "demo" / "detections.json").read_text())["frames"])
    node = summary["node"]
    # Reliable input, shipped QoS: every frame arrives. Each one is published or counted by reason: a frame
    # replaced while the model was busy (a slow first inference on a loaded 2-core machine) is by design.
    assert node["frames_received"] == frames, summary
    assert summary["hotspot_messages"] == node["frames_processed"], summary
    assert node["frames_processed"] + node["frames_dropped_busy"] + node["frames_dropped_stale"] == frames, summary
    assert node["frames_processed"] >= frames - 2, summary


def test_record_demonstrations_launch_as_shipped_records_the_camera(overlay, tmp_path):
    """`ros2 launch interaction_hotspots record_demonstrations.launch.py` with every default: it records the
    node's default topics into demonstrations_<date>-<time>/ in the working directory until Ctrl-C; the
    synthetic scene played onto them is in the bag, message for message, and `find` reads it."""
    from training.demonstrations.bag import iter_messages
    from training.demonstrations.find import find_demonstrations
    from training.demonstrations.scene import SCENE_BAG, SceneConfig, make_scene

    make_scene(tmp_path / "scene", SceneConfig(demos=2, seed=1))
    scene = tmp_path / "scene" / SCENE_BAG
    work = tmp_path / "robot"
    work.mkdir()
    cli = RosLaunchCli(["interaction_hotspots", "record_demonstrations.launch.py"], overlay, work)
    try:
        assert cli.wait_for_line("waiting for publishers of /image, /detections, /hand_detections", 60), "\n".join(
            cli.lines
        )
        play = subprocess.run(
            [sys.executable, "-m", "hotspot_ros.bag_play", str(scene), "--rate", "3", "--wait-for-subscribers", "60"],
            env=overlay,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert play.returncode == 0, play.stdout + play.stderr
        assert cli.wait_for_line("every topic subscribed", 5), "\n".join(cli.lines)
        cli.ctrl_c()
        rc = cli.wait(timeout=STOP_S)
    finally:
        cli.kill()
    assert rc == 0, "\n".join(cli.lines[-40:])
    assert not problem_lines(cli.lines), "\n".join(cli.lines[-60:])
    (bag,) = work.glob("demonstrations_*")
    assert sorted(p.name for p in bag.iterdir()) == [f"{bag.name}_0.mcap"]
    topics = ["/image", "/detections", "/hand_detections"]
    played, recorded = (Counter(topic for topic, _, _ in iter_messages(path, topics)) for path in (scene, bag))
    assert recorded == played and all(played[t] > 0 for t in topics), (recorded, played)
    find_demonstrations(bag, tmp_path / "found")
    assert len(json.loads((tmp_path / "found" / "interactions.json").read_text())["interactions"]) == 2


@pytest.mark.parametrize(
    "launch_file,when",
    [("hotspots.launch.py", "starting"), ("hotspots.launch.py", "active"), ("demo.launch.py", "active")],
)
def test_ctrl_c_ends_ros2_launch_cleanly(overlay, tmp_path, launch_file, when):
    """Ctrl-C (SIGINT to the process group) while the node starts or runs: every process ends, no
    error line or traceback, `ros2 launch` exits 0."""
    args = [f"output_dir:={tmp_path / 'demo'}", "rate_hz:=1.0"] if launch_file == "demo.launch.py" else []
    cli = RosLaunchCli(["interaction_hotspots", launch_file, *args], overlay, tmp_path)
    try:
        if when == "starting":  # importing rclpy/torch, loading the model: once the node handles signals
            assert cli.wait_for_line("process started with pid", 60), "\n".join(cli.lines)
            line = next(ln for ln in cli.lines if "hotspot_node" in ln and "process started with pid" in ln)
            pid = int(line.rsplit("[", 1)[1].rstrip("]"))
            assert wait_until(lambda: catches_sigterm(pid), 60), "the node never installed its signal handlers"
        else:
            from ros_client import Client

            client = Client("ctrl_c_client")
            try:
                assert client.wait_for_node(START_S), "\n".join(cli.lines[-40:])  # subscribed: active
            finally:
                client.node.destroy_node()
        cli.ctrl_c()
        rc = cli.wait(timeout=STOP_S)
    finally:
        cli.kill()
    assert rc is not None, "ros2 launch did not end after Ctrl-C:\n" + "\n".join(cli.lines[-40:])
    assert rc == 0, "\n".join(cli.lines[-40:])
    assert not problem_lines(cli.lines), "\n".join(cli.lines[-60:])
    assert any("process has finished cleanly" in ln for ln in cli.lines), "\n".join(cli.lines[-40:])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
