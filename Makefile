# Everything goes through .venv, created and kept up to date by scripts/setup.sh.
.PHONY: setup test test-robot demo bench clean
setup:
	bash scripts/setup.sh

test: setup
	bash scripts/run_tests.sh

# Path A of docs/ros2-install.md on a stand-in Ubuntu 24.04 + ROS 2 Jazzy robot (Python 3.12, numpy 1.26,
# OpenCV 4.6): built once into build/robot-standin (first run ~3-10 min and ~6 GB: torch for 3.12 from PyPI),
# then tests/test_robot_jazzy.py (colcon build, setup_robot.sh, ros2 launch of both launch files). CI runs it.
test-robot: setup
	bash scripts/robot_standin.sh build/robot-standin
	HOTSPOT_ROBOT_STANDIN=$(CURDIR)/build/robot-standin HOTSPOT_SKIP_LINT=1 bash scripts/run_tests.sh tests/test_robot_jazzy.py

demo: setup
	AMENT_PREFIX_PATH=$(CURDIR)/.venv .venv/bin/python -m hotspot_ros.demo --output outputs/demo

bench: setup
	.venv/bin/python scripts/bench_core.py

clean:
	rm -rf build .venv
