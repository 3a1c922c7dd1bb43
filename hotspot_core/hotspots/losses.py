"""Training losses of the anticipation model (spec 1.7-1.8): L_cls + L_aux + L_ant."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from hotspot_core.hotspots.model import HotspotModel

__all__ = [
    "Losses",
    "MSE_WEIGHT",
    "TRIPLET_MARGIN",
    "anticipation_mse",
    "anticipation_triplet",
    "compute_losses",
    "select_active_frame",
]

MSE_WEIGHT = 0.1  # the reference puts lambda_ant = 0.1 inside its MSE loss (spec 1.8)
TRIPLET_MARGIN = 0.5


@dataclass
class Losses:
    """Per-sample losses (B,), combined as mean(cls) + mean(ant) + mean(aux) (spec 1.9)."""

    cls: torch.Tensor
    aux: torch.Tensor | None = None
    ant: torch.Tensor | None = None
    clip_logits: torch.Tensor | None = None

    @property
    def total(self) -> torch.Tensor:
        total = self.cls.mean()
        for part in (self.aux, self.ant):
            if part is not None:
                total = total + part.mean()
        return total


def select_active_frame(step_logits: torch.Tensor, verbs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """t* = argmax_t log p(verb | frames 1..t), clamped to length-1 (spec 1.7).

    step_logits (B,T',A) include padded steps, which can win the argmax; the clamp then replaces them
    with the last real frame, exactly as the reference does.
    """
    logp = F.log_softmax(step_logits, dim=2).gather(2, verbs[:, None, None].expand(-1, step_logits.shape[1], 1))
    t_star = logp.squeeze(2).argmax(dim=1)
    return torch.minimum(t_star, lengths.to(t_star.device) - 1)


def anticipation_mse(anticipated: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """0.1 x mean over dims of the squared difference of pooled vectors, per sample (OPRA)."""
    return MSE_WEIGHT * ((anticipated - active) ** 2).mean(dim=1)


def anticipation_triplet(anticipated: torch.Tensor, active: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Triplet loss (margin 0.5) on L2-normalised pooled vectors, per sample (EPIC)."""
    return F.triplet_margin_loss(
        F.normalize(anticipated, dim=1),
        F.normalize(active, dim=1),
        F.normalize(negative, dim=1),
        margin=TRIPLET_MARGIN,
        reduction="none",
    )


def compute_losses(
    model: HotspotModel,
    frames: torch.Tensor | None,
    lengths: torch.Tensor,
    verbs: torch.Tensor,
    inactive: torch.Tensor | None = None,
    negative: torch.Tensor | None = None,
    pooled_frames: torch.Tensor | None = None,
    inactive_features: torch.Tensor | None = None,
    negative_pooled: torch.Tensor | None = None,
) -> Losses:
    """Losses for a batch of clips (B,T,3,S,S) with true lengths, verbs and inactive images.

    Backbone outputs may be passed precomputed (``pooled_frames`` (B,T,C), ``inactive_features``
    (B,C,h,w), ``negative_pooled`` (B,C)) -- the frozen backbone makes them cacheable across epochs.
    Without an inactive image, or for the no-anticipation variant, only L_cls is computed (aux/ant
    need the anticipated inactive feature).
    """
    if pooled_frames is None:
        pooled_frames = model.pooled_clip_features(frames)
    clip_logits, steps = model.clip_forward(pooled_frames, lengths)
    losses = Losses(cls=F.cross_entropy(clip_logits, verbs, reduction="none"), clip_logits=clip_logits)
    if not model.config.use_anticipation or (inactive is None and inactive_features is None):
        return losses

    with torch.no_grad():  # t* and its target carry no gradient (spec 1.7)
        t_star = select_active_frame(model.fc(steps), verbs, lengths)
        active = pooled_frames[torch.arange(pooled_frames.shape[0], device=pooled_frames.device), t_star]

    if inactive_features is None:
        inactive_features = model.features(inactive)
    anticipated = model.pool(model.anticipate(inactive_features))
    losses.aux = F.cross_entropy(model.fc(model.lstm_step(anticipated)), verbs, reduction="none")
    if model.config.ant_loss == "mse":
        losses.ant = anticipation_mse(anticipated, active)
    else:
        if negative_pooled is None:
            if negative is None:
                raise ValueError("the triplet anticipation loss needs a negative inactive image")
            negative_pooled = model.pool(model.features(negative))  # F_ant is not applied to the negative
        losses.ant = anticipation_triplet(anticipated, active, negative_pooled)
    return losses
