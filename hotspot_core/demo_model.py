"""Where the shipped demo checkpoint lives (trained on the synthetic world; see README)."""
from __future__ import annotations

import os
from pathlib import Path

DEMO_MODEL_NAME = "demo_synthetic_resnet18.safetensors"


def demo_model_path() -> Path:
    """$HOTSPOT_DEMO_MODEL, else models/<DEMO_MODEL_NAME> in the checkout (or installed share folder)."""
    env = os.environ.get("HOTSPOT_DEMO_MODEL")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1] / "models" / DEMO_MODEL_NAME
