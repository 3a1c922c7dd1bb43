"""DIRECT CLS baseline (supplement Table S1): a per-image classifier instead of our video model.

The supplement: "a CNN (not LSTM) variant of our model that is trained to directly predict affordance
classes from individual images. It has access to all the data our model uses during training -- video
frames and the inactive images used by our anticipation module". So it keeps our frozen dilated
backbone and pooling (L2 unless configured otherwise), replaces the LSTM by a two-layer classifier applied to each image on its own,
and is trained with cross-entropy on every real frame of each clip window and on the clip's inactive
image, all labelled with the clip's verb. Its hotspot maps use the same activation mapping as ours
(paper Eq. 4, ``sum_c ReLU(d y_a / d A * A)`` on the backbone features), through its own classifier.

Checkpoints use our format with ``extra["method"] == "direct_cls"``; load them with ``load_direct_cls``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hotspot_core.errors import CheckpointError
from hotspot_core.hotspots.checkpoint import read_metadata
from hotspot_core.hotspots.config import ModelConfig
from hotspot_core.hotspots.losses import Losses
from hotspot_core.hotspots.model import FrozenFeatureModel
from hotspot_core.weights import build_and_load

METHOD = "direct_cls"

__all__ = ["DirectCLSModel", "load_direct_cls", "METHOD"]


class DirectCLSModel(FrozenFeatureModel):
    """Frozen backbone -> pool (config.pool) -> Linear(C,C) -> ReLU -> Linear(C,A), one image at a time."""

    def __init__(self, config: ModelConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config.feature_dim
        self.hidden = nn.Linear(c, c)
        self.fc = nn.Linear(c, self.config.num_actions)

    def classify_pooled(self, pooled: torch.Tensor) -> torch.Tensor:
        """(N,C) pooled features -> (N,A) logits."""
        return self.fc(F.relu(self.hidden(pooled)))

    def image_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N,C,h,w) backbone features -> (N,A) logits."""
        return self.classify_pooled(self.pool(x))

    def losses(
        self,
        pooled_frames: torch.Tensor,
        lengths: torch.Tensor,
        verbs: torch.Tensor,
        inactive_pooled: torch.Tensor | None,
    ) -> Losses:
        """CE over every real frame (per-clip mean, ``cls``) plus CE on the inactive image (``aux``)."""
        b, t, _ = pooled_frames.shape
        logits = self.classify_pooled(pooled_frames.reshape(b * t, -1)).view(b, t, -1)
        ce = F.cross_entropy(logits.transpose(1, 2), verbs[:, None].expand(b, t), reduction="none")  # (B,T)
        valid = torch.arange(t, device=ce.device)[None] < lengths.to(ce.device)[:, None]
        cls = (ce * valid).sum(1) / valid.sum(1).clamp_min(1)
        losses = Losses(cls=cls)
        if inactive_pooled is not None:
            losses.aux = F.cross_entropy(self.classify_pooled(inactive_pooled), verbs, reduction="none")
        return losses

    def hotspot_maps(self, x: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Raw Eq. 4 maps (N,K,h,w) of backbone features x (N,C,h,w) for action indices (N,K)."""
        n, k = actions.shape
        with torch.enable_grad():
            xr = x.detach()[:, None].expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:]).requires_grad_(True)
            logits = self.image_logits(xr).view(n, k, -1)
            selected = logits.gather(2, actions.to(logits.device)[..., None]).sum()
            (grad,) = torch.autograd.grad(selected, xr)
        return F.relu(grad * xr.detach()).sum(1).view(n, k, *x.shape[2:])


def load_direct_cls(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> DirectCLSModel:
    """Load a DIRECT CLS checkpoint written by ``training.train --method direct_cls``; eval mode."""
    config, extra = read_metadata(path)
    if extra.get("method") != METHOD:
        raise CheckpointError(f"{path} is not a DIRECT CLS checkpoint (method {extra.get('method', 'hotspots')!r})")
    return build_and_load(path, config, DirectCLSModel, map_location)
