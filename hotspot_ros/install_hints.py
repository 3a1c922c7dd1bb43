"""What to install when the model's backend cannot import a Python module, and when a running backend
cannot follow a parameter change (the node logs/returns these)."""

from __future__ import annotations

# module -> what provides it on a robot (scripts/setup_robot.sh) or a development checkout
_HINTS = {
    "onnx": "requirements/robot-onnx.txt (scripts/setup_robot.sh --with onnx; in a checkout: requirements/core.txt)",
    "onnxruntime": "requirements/robot-onnx.txt (scripts/setup_robot.sh --with onnx; in a checkout: requirements/core.txt)",
    "tensorrt": "NVIDIA TensorRT's wheel matching the driver's CUDA (pip install tensorrt-cu12 or tensorrt-cu13)",
    "torch": "requirements/robot.txt (scripts/setup_robot.sh), then activate its venv before ros2 run/launch",
    "torchvision": "requirements/robot.txt (scripts/setup_robot.sh), then activate its venv before ros2 run/launch",
}


def missing_module_message(exc: ImportError, backend: str) -> str:
    """One log line naming the module that failed to import and the requirement that provides it."""
    name = (exc.name or "").split(".")[0] or str(exc)
    hint = _HINTS.get(name, "pip install it into the Python that runs the node")
    return f"the {backend} backend needs the Python module '{name}', which is not installed ({exc}); install {hint}"


def batch_profile_refusal(backend: str, max_batch: int | None, max_objects: int) -> str | None:
    """Why a running backend cannot take ``max_objects`` crops per call, or None: a TensorRT engine's batch
    profile is fixed when it is built at configure."""
    if backend != "tensorrt" or max_batch is None or max_objects <= max_batch:
        return None
    return (
        f"max_objects {max_objects} exceeds the TensorRT engine's batch profile (at most {max_batch} crops, built "
        f"at configure from max_objects): deactivate, cleanup, set max_objects, configure and activate to rebuild it"
    )
