"""Image and clip preprocessing (reference spec 1.2) with explicit, seeded randomness.

Every random draw comes from a ``numpy.random.Generator`` passed in by the caller (the datasets derive
one per sample from ``(seed, epoch, index)``), never from Python's global ``random`` or torch's global
RNG, so a run is reproducible and DataLoader workers never repeat each other's draws.

* ``ClipTransform``: resize the shorter side to ``resize`` (256), one ``crop``x``crop`` (224) crop shared
  by all frames (random in training, centred in validation), one clip-wide horizontal flip with p=0.5
  (training only), ToTensor + ImageNet Normalize.
* ``ImageTransform``: the same for a single inactive image (its draws are independent of the clip's).
* ``EvalTransform``: resize straight to ``size``x``size`` (aspect ratio not kept, no crop) + Normalize.
* ``CropPerturb``: EPIC inactive-object crop around a box with random padding and shift (spec 4.2), with
  the reference's zero-size edge bug fixed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CropParams",
    "ClipTransform",
    "ImageTransform",
    "EvalTransform",
    "CropPerturb",
    "to_normalized_tensor",
    "pad_clip",
]


def to_normalized_tensor(
    img: Image.Image, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
) -> torch.Tensor:
    """PIL RGB image -> float32 (3,H,W) tensor, scaled to [0,1] then normalised."""
    t = F.to_dtype(F.to_image(img), torch.float32, scale=True)
    return F.normalize(t, mean=list(mean), std=list(std))


@dataclass(frozen=True)
class CropParams:
    """Where to crop (top, left) in the resized image and whether to flip afterwards."""

    top: int
    left: int
    flip: bool


def _check_sizes(resize: int, crop: int) -> None:
    if crop < 1 or resize < crop:
        raise ValueError(f"need 1 <= crop <= resize, got resize={resize}, crop={crop}")


class _ResizeCropFlip:
    """Shared logic: shorter side -> ``resize``, ``crop`` square crop, optional flip, normalise."""

    def __init__(
        self,
        train: bool,
        resize: int = 256,
        crop: int = 224,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        _check_sizes(resize, crop)
        self.train = bool(train)
        self.resize = int(resize)
        self.crop = int(crop)
        self.mean = tuple(mean)
        self.std = tuple(std)

    def _resize(self, img: Image.Image) -> Image.Image:
        # A one-element size resizes the shorter side, as torchvision's Resize(256) in the reference.
        return F.resize(img.convert("RGB"), [self.resize], interpolation=F.InterpolationMode.BILINEAR)

    def sample_params(self, height: int, width: int, rng: np.random.Generator | None) -> CropParams:
        """Crop/flip parameters for a resized image of ``height`` x ``width``."""
        if self.train:
            if rng is None:
                raise ValueError("training transforms need a numpy Generator")
            top = int(rng.integers(0, height - self.crop + 1))
            left = int(rng.integers(0, width - self.crop + 1))
            flip = bool(rng.random() < 0.5)
        else:
            # Same rounding as torchvision's center_crop.
            top = int(round((height - self.crop) / 2.0))
            left = int(round((width - self.crop) / 2.0))
            flip = False
        return CropParams(top, left, flip)

    def _apply(self, img: Image.Image, p: CropParams) -> torch.Tensor:
        img = F.crop(img, p.top, p.left, self.crop, self.crop)
        if p.flip:
            img = F.hflip(img)
        return to_normalized_tensor(img, self.mean, self.std)


class ClipTransform(_ResizeCropFlip):
    """Clip transform: one crop and one flip decision shared by every frame of the clip."""

    def __call__(self, frames: Sequence[Image.Image], rng: np.random.Generator | None = None) -> torch.Tensor:
        """Frames (PIL) -> float32 tensor (T,3,crop,crop). ``rng`` is required in training."""
        if len(frames) == 0:
            return torch.zeros(0, 3, self.crop, self.crop)
        resized = [self._resize(f) for f in frames]
        w, h = resized[0].size
        if any(r.size != (w, h) for r in resized):
            # Frames of one clip share a size in both datasets; a stray one is resized to match so the
            # shared crop stays valid.
            resized = [r if r.size == (w, h) else r.resize((w, h), Image.BILINEAR) for r in resized]
        params = self.sample_params(h, w, rng)
        return torch.stack([self._apply(r, params) for r in resized])


class ImageTransform(_ResizeCropFlip):
    """Single-image transform for inactive images (reference ``default_transform``)."""

    def __call__(self, img: Image.Image, rng: np.random.Generator | None = None) -> torch.Tensor:
        """PIL image -> float32 tensor (3,crop,crop). ``rng`` is required in training."""
        img = self._resize(img)
        w, h = img.size
        return self._apply(img, self.sample_params(h, w, rng))


class EvalTransform:
    """Evaluation transform: straight resize to ``size`` x ``size`` (aspect not kept), Normalize."""

    def __init__(
        self, size: int = 224, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
    ) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = int(size)
        self.mean = tuple(mean)
        self.std = tuple(std)

    def __call__(self, img: Image.Image) -> torch.Tensor:
        """PIL image -> float32 tensor (3,size,size)."""
        img = F.resize(img.convert("RGB"), [self.size, self.size], interpolation=F.InterpolationMode.BILINEAR)
        return to_normalized_tensor(img, self.mean, self.std)


def pad_clip(frames: torch.Tensor, max_len: int) -> torch.Tensor:
    """Zero-pad a (T,3,H,W) clip along time to ``max_len`` frames (zeros = mean colour once normalised)."""
    t = frames.shape[0]
    if t > max_len:
        raise ValueError(f"clip has {t} frames, more than max_len={max_len}")
    if t == max_len:
        return frames
    pad = frames.new_zeros((max_len - t, *frames.shape[1:]))
    return torch.cat([frames, pad], dim=0)


class CropPerturb:
    """Random crop around an object box (EPIC inactive images, reference ``epic.py:29-77``).

    With ``e ~ U(0.5, 1.5)``, each side of the box ``[x0, y0, x1, y1]`` is padded by
    ``min(floor(e*w)//2, room to the image border)`` horizontally (same vertically with h), then the
    crop is shifted by ``t*w`` / ``t*h`` with ``t ~ U(-0.2, 0.2)`` drawn independently per axis. Parts of
    the crop outside the image come out black (PIL crop semantics).

    Fix over the reference: when ``floor(e*w) == 0`` the padding is 0 instead of an UnboundLocalError,
    and a degenerate (zero-width or zero-height) box still yields a crop of at least 1x1 pixel.
    """

    def __init__(self, scale: tuple[float, float] = (0.5, 1.5), shift: float = 0.2) -> None:
        self.scale = (float(scale[0]), float(scale[1]))
        self.shift = float(shift)

    def params(
        self, box: Sequence[float], image_size: tuple[int, int], rng: np.random.Generator
    ) -> tuple[int, int, int, int]:
        """Crop box ``(left, top, right, bottom)`` for ``box`` in an image of ``(width, height)``."""
        x0, y0, x1, y1 = (float(v) for v in box)
        if x1 < x0:
            x0, x1 = x1, x0
        if y1 < y0:
            y0, y1 = y1, y0
        img_w, img_h = image_size
        w, h = x1 - x0, y1 - y0
        e = rng.uniform(*self.scale)
        # floor(e*w)//2 is 0 for tiny boxes: no padding (the reference crashes here).
        pad_w = int(math.floor(e * w)) // 2
        pad_h = int(math.floor(e * h)) // 2
        left = x0 - min(pad_w, max(0.0, x0))
        right = x1 + min(pad_w, max(0.0, img_w - x1))
        top = y0 - min(pad_h, max(0.0, y0))
        bottom = y1 + min(pad_h, max(0.0, img_h - y1))
        tx = rng.uniform(-self.shift, self.shift) * w
        ty = rng.uniform(-self.shift, self.shift) * h
        left, right, top, bottom = left + tx, right + tx, top + ty, bottom + ty
        li, ti = int(round(left)), int(round(top))
        ri = max(int(round(right)), li + 1)
        bi = max(int(round(bottom)), ti + 1)
        return li, ti, ri, bi

    def __call__(self, img: Image.Image, box: Sequence[float], rng: np.random.Generator) -> Image.Image:
        """Crop ``img`` around ``box``; returns a PIL image (black outside the source image)."""
        return img.convert("RGB").crop(self.params(box, img.size, rng))
