"""One optimisation step's forward pass, for raw-image batches and for cached-feature batches alike.

``TrainStep`` is the module DDP wraps: its ``forward`` runs the whole loss computation, so DDP's
gradient hooks see every step. The frozen backbone runs through ``BackboneRunner``, which applies
autocast (bf16/fp16) and channels-last on CUDA only: the backbone gets no gradients, so lower precision
there needs no loss scaling, while the trained head stays in fp32 (TF32 matmuls/convs on Ampere+).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from hotspot_core.hotspots.losses import compute_losses
from hotspot_core.hotspots.model import HotspotModel, spatial_pool

from .direct_cls import DirectCLSModel

__all__ = ["BackboneRunner", "TrainStep", "amp_dtype_for"]


def amp_dtype_for(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for the backbone: None on CPU or with 'off'; 'auto' is bf16 where supported."""
    if device.type != "cuda" or mode == "off":
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


class BackboneRunner:
    """Calls the frozen backbone with this run's device, autocast dtype and memory format."""

    def __init__(
        self, model: nn.Module, device: torch.device, amp_dtype: torch.dtype | None = None, channels_last: bool = False
    ) -> None:
        self.model = model
        self.pool_kind = model.config.pool
        self.device = device
        self.amp_dtype = amp_dtype
        self.channels_last = channels_last and device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """(N,3,S,S) normalised images -> (N,C,h,w) float32 backbone features (no gradient)."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), self.autocast():
            x = self.model.features(images)
        return x.float()

    def pooled_real_frames(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B,T,3,S,S) zero-padded clips -> (B,T,C) pooled features; padding frames are skipped (zeros)."""
        b, t = frames.shape[:2]
        lengths = lengths.tolist()
        real = torch.cat([frames[i, :n] for i, n in enumerate(lengths)])
        pooled = spatial_pool(self(real), self.pool_kind)
        out = pooled.new_zeros(b, t, pooled.shape[1])
        start = 0
        for i, n in enumerate(lengths):
            out[i, :n] = pooled[start : start + n]
            start += n
        return out


class TrainStep(nn.Module):
    """Batch dict -> dict of scalar losses (``total`` is what gets back-propagated)."""

    def __init__(self, model: HotspotModel | DirectCLSModel, runner: BackboneRunner) -> None:
        super().__init__()
        self.model = model
        self.runner = runner

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        m = self.model
        device = self.runner.device
        lengths = batch["length"].to(device)
        verbs = batch["verb"].to(device)
        pooled = batch.get("pooled_frames")
        pooled = self.runner.pooled_real_frames(batch["frames"], lengths.cpu()) if pooled is None else pooled.to(device)
        direct = isinstance(m, DirectCLSModel)
        inactive = batch.get("inactive_features")
        if (direct or m.config.use_anticipation) and inactive is None:
            inactive = self.runner(batch["inactive"])
        elif inactive is not None:
            inactive = inactive.to(device)
        if inactive is not None and self.runner.channels_last:
            inactive = inactive.contiguous(memory_format=torch.channels_last)
        if direct:
            losses = m.losses(pooled, lengths, verbs, None if inactive is None else m.pool(inactive))
        else:
            negative = batch.get("negative_pooled")
            if m.config.ant_loss == "triplet" and negative is None:
                negative = m.pool(self.runner(batch["negative"]))
            losses = compute_losses(
                m,
                None,
                lengths,
                verbs,
                pooled_frames=pooled,
                inactive_features=inactive,
                negative_pooled=None if negative is None else negative.to(device),
            )
        zero = losses.cls.new_zeros(())
        return {
            "total": losses.total,
            "cls": losses.cls.mean(),
            "aux": losses.aux.mean() if losses.aux is not None else zero,
            "ant": losses.ant.mean() if losses.ant is not None else zero,
        }
