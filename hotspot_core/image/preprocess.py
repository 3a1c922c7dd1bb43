"""Image crops to normalised model input tensors (the reference's eval transform, spec 1.2)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from hotspot_core.image.boxes import Roi

__all__ = ["crop_resize", "to_input_batch"]


def crop_resize(image_rgb: np.ndarray, roi: Roi, size: int) -> np.ndarray:
    """Crop ``roi`` from an HxWx3 uint8 RGB image and resize it straight to size x size.

    Aspect ratio is not kept, as in the reference's evaluation transform.
    """
    crop = image_rgb[roi.y0 : roi.y1, roi.x0 : roi.x1]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)


def to_input_batch(
    crops: Sequence[np.ndarray], mean: Sequence[float], std: Sequence[float], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Stack uint8 RGB crops (S,S,3) into a normalised (N,3,S,S) float tensor."""
    batch = torch.from_numpy(np.ascontiguousarray(np.stack(crops))).to(device)
    batch = batch.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, device=batch.device).view(1, 3, 1, 1)
    s = torch.tensor(std, device=batch.device).view(1, 3, 1, 1)
    return (batch - m) / s
