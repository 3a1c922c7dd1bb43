"""pip install of the Python packages (hotspot_core, training, hotspot_ros) and their console scripts.

On a ROS 2 robot, colcon builds this repo from package.xml/CMakeLists.txt instead.
"""

from setuptools import find_packages, setup

setup(
    name="interaction-hotspots",
    version="0.1.0",
    description="Interaction hotspots (per-action affordance heatmaps) for ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(
        include=["hotspot_core", "hotspot_core.*", "training", "training.*", "hotspot_ros", "hotspot_ros.*"]
    ),
    entry_points={
        "console_scripts": [
            "hotspots-import-reference=hotspot_core.hotspots.reference_import:main",
            "hotspot-node=hotspot_ros.run:main",
        ]
    },
)
