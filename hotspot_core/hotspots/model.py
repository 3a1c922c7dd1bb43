"""The interaction-hotspot anticipation model (paper Sec. 3, spec sections 1-2), as plain PyTorch modules.

clip frames --backbone--> L2 pool --LSTM--> fc --> action logits            (L_cls; pool: config.pool)
inactive image --backbone--> x_I --F_ant--> L2 pool --1 LSTM step--> fc      (L_aux)
L_ant: anticipated inactive feature vs the pooled feature of the most confident frame t*
hotspot map H_a = sum_c ReLU(d y_a / d x_I * x_I)                            (paper Eq. 4; config map_form)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from hotspot_core.backbones import build_backbone
from hotspot_core.hotspots.analytic import analytic_logits_and_maps
from hotspot_core.hotspots.config import ModelConfig

__all__ = [
    "FrozenFeatureModel",
    "HOTSPOT_METHODS",
    "HotspotModel",
    "anticipation_module",
    "avg_pool",
    "build_model",
    "l2_pool",
    "spatial_pool",
]

HOTSPOT_METHODS = ("analytic", "autograd", "loop")


def l2_pool(x: torch.Tensor) -> torch.Tensor:
    """sqrt of the *sum* of squares over the spatial map (spec 1.3): (N,C,h,w) -> (N,C).

    vector_norm gives the same value as sqrt(sum x^2) without an eps, and its backward is 0 (not NaN)
    for an all-zero channel, where sqrt's derivative would be 0/0.
    """
    return torch.linalg.vector_norm(x.flatten(2), ord=2, dim=2)


def avg_pool(x: torch.Tensor) -> torch.Tensor:
    """Spatial mean (the reference's unused 'avg' pool_fn, spec 1.3): (N,C,h,w) -> (N,C)."""
    return x.flatten(2).mean(2)


_POOL_FNS = {"l2": l2_pool, "avg": avg_pool}


def spatial_pool(x: torch.Tensor, kind: str) -> torch.Tensor:
    """Pool (N,C,h,w) -> (N,C) by ``kind``, one of ``hotspot_core.config.POOLS``."""
    try:
        fn = _POOL_FNS[kind]
    except KeyError:
        raise ValueError(f"unknown pool {kind!r}; choose from {sorted(_POOL_FNS)}") from None
    return fn(x)


def anticipation_module(channels: int) -> nn.Sequential:
    """F_ant: 2 x (conv3x3 -> BN -> ReLU) at the feature width (spec 1.6; indices match the reference)."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=False),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        nn.ReLU(inplace=False),
    )


class FrozenFeatureModel(nn.Module):
    """A ``ModelConfig`` and its frozen backbone: what every hotspot method (ours, DIRECT CLS) is built on."""

    def __init__(self, config: ModelConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = ModelConfig.from_dict(config)
        self.backbone = build_backbone(self.config.backbone, self.config.backbone_weights)

    @property
    def actions(self) -> tuple[str, ...]:
        return self.config.actions

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Frozen backbone features x_I: (N,3,S,S) normalised RGB -> (N,C,S/stride,S/stride)."""
        return self.backbone(images)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """The configured spatial pool (L2 in the reference): (N,C,h,w) -> (N,C)."""
        return spatial_pool(x, self.config.pool)


class HotspotModel(FrozenFeatureModel):
    """Backbone + F_ant + LSTM + action classifier, with Eq. 4 hotspot maps.

    State-dict names follow the authors' code (``project``, ``rnn``, ``fc``, ``h0``, ``c0``) so their
    checkpoints map one-to-one (see ``hotspot_core.hotspots.reference_import``).
    """

    def __init__(self, config: ModelConfig | Mapping[str, Any]) -> None:
        super().__init__(config)
        c = self.config.feature_dim
        self.project = anticipation_module(c)
        self.rnn = nn.LSTM(c, c, batch_first=True)
        self.h0 = nn.Parameter(torch.empty(1, 1, c))
        self.c0 = nn.Parameter(torch.empty(1, 1, c))
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_normal_(self.h0, gain=gain)
        nn.init.xavier_normal_(self.c0, gain=gain)
        self.fc = nn.Linear(c, self.config.num_actions)
        # Ours, not the paper's (map_form 'located'): which action each place looks like, a 1x1 conv on the
        # backbone features fitted where the training clips move (training.locate); it weights the Eq. 4 maps.
        self.part_head = nn.Conv2d(c, self.config.num_actions, 1) if self.config.map_form == "located" else None

    # ----------------------------------------------------------------------------------------- pieces
    def anticipate(self, x: torch.Tensor) -> torch.Tensor:
        """F_ant, or the identity for the no-anticipation (LSTM+Grad-CAM) variant."""
        return self.project(x) if self.config.use_anticipation else x

    def _initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config.feature_dim
        return self.h0.expand(1, n, c).contiguous(), self.c0.expand(1, n, c).contiguous()

    def lstm_step(self, pooled: torch.Tensor) -> torch.Tensor:
        """One LSTM step from the learned initial state: (N,C) -> h_1 (N,C)."""
        _, (h, _) = self.rnn(pooled[:, None], self._initial_state(pooled.shape[0]))
        return h[-1]

    def inactive_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Raw action logits of inactive-image features: F_ant -> pool -> one LSTM step -> fc."""
        return self.fc(self.lstm_step(self.pool(self.anticipate(x))))

    def clip_forward(self, pooled_frames: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the LSTM over pooled clip frames (B,T,C) with true lengths (B,).

        Returns the clip logits from the hidden state at the last real frame, and the per-step
        outputs (B,T',C) (zeros past each clip's length, T' = longest length), as the reference.
        """
        n = pooled_frames.shape[0]
        packed = pack_padded_sequence(pooled_frames, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, (h, _) = self.rnn(packed, self._initial_state(n))
        steps, _ = pad_packed_sequence(out, batch_first=True)
        return self.fc(h[-1]), steps

    def pooled_clip_features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,T,3,S,S) -> (B,T,C) pooled backbone features of every frame (padding frames too)."""
        b, t = frames.shape[:2]
        return self.pool(self.features(frames.flatten(0, 1))).view(b, t, -1)

    # ------------------------------------------------------------------------------------ hotspots
    @contextlib.contextmanager
    def _eval_batchnorm(self) -> Iterator[None]:
        # Hotspot maps always use BatchNorm running statistics, so each crop's map is its own.
        was_training = self.project.training
        self.project.eval()
        try:
            yield
        finally:
            self.project.train(was_training)

    def action_indices(
        self, actions: Sequence[int | str] | torch.Tensor | None, n: int, device: torch.device
    ) -> torch.Tensor:
        """Normalise an action selection to a (N,K) long tensor of action indices."""
        a = self.config.num_actions
        if actions is None:
            idx = torch.arange(a, device=device).expand(n, a)
        elif isinstance(actions, torch.Tensor):
            idx = actions.to(device=device, dtype=torch.long)
            if idx.dim() == 1:
                idx = idx.expand(n, idx.shape[0])
        else:
            resolved = []
            for act in actions:
                if isinstance(act, str):
                    if act not in self.config.actions:
                        raise KeyError(f"unknown action {act!r}; model actions: {list(self.config.actions)}")
                    resolved.append(self.config.actions.index(act))
                else:
                    resolved.append(int(act))
            idx = torch.tensor(resolved, dtype=torch.long, device=device).expand(n, len(resolved))
        if idx.shape[0] != n or idx.dim() != 2:
            raise ValueError(f"action indices must be (N,K) with N={n}, got {tuple(idx.shape)}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= a):
            raise IndexError(f"action index out of range 0..{a - 1}")
        return idx

    def hotspot_maps(
        self,
        x: torch.Tensor,
        actions: Sequence[int | str] | torch.Tensor | None = None,
        method: str = "analytic",
    ) -> torch.Tensor:
        """Raw Eq. 4 maps (N,K,h,w) for the chosen actions (all by default), before any normalisation.

        method: 'analytic' (one forward graph, exportable), 'autograd' (one batched backward pass) or
        'loop' (one backward pass per action, as the reference code does; a baseline for benchmarks).
        """
        idx = self.action_indices(actions, x.shape[0], x.device)
        if method == "analytic":
            return analytic_logits_and_maps(self, x, idx)[1]
        if method == "autograd":
            return self._autograd_maps(x, idx)
        if method == "loop":
            return self._loop_maps(x, idx)
        raise ValueError(f"unknown hotspot method {method!r}; choose from {HOTSPOT_METHODS}")

    def locate(self, maps: torch.Tensor, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """'located' maps (N,K,h,w): the Eq. 4 maps times the softmax over actions of ``part_head(x)`` at each
        cell, for action indices ``idx`` (N,K); other map forms are returned as they are."""
        if self.part_head is None:
            return maps
        where = torch.softmax(self.part_head(x.to(self.part_head.weight.dtype)).float(), dim=1)  # (N,A,h,w)
        return maps * where.gather(1, idx[:, :, None, None].expand(-1, -1, *where.shape[2:]))

    def _autograd_maps(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        n, k = idx.shape
        with torch.enable_grad(), self._eval_batchnorm():
            # One replica of x per (crop, action): a single backward of the summed selected logits gives
            # every replica the gradient of its own logit, exactly as K separate backward passes would.
            xr = x.detach()[:, None].expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:]).requires_grad_(True)
            logits = self.inactive_logits(xr).view(n, k, -1)
            selected = logits.gather(2, idx[..., None]).sum()
            (grad,) = torch.autograd.grad(selected, xr)
        from .analytic import gradient_to_map

        maps = gradient_to_map(grad, xr.detach(), self.config.map_form).view(n, k, *x.shape[2:])
        return self.locate(maps, x.detach(), idx)

    def _loop_maps(self, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        from .analytic import gradient_to_map

        maps = []
        with torch.enable_grad(), self._eval_batchnorm():
            xg = x.detach().requires_grad_(True)
            logits = self.inactive_logits(xg)
            for j in range(idx.shape[1]):
                one_hot = torch.zeros_like(logits).scatter_(1, idx[:, j : j + 1], 1.0)
                (grad,) = torch.autograd.grad(logits, xg, grad_outputs=one_hot, retain_graph=True)
                maps.append(gradient_to_map(grad, xg.detach(), self.config.map_form))
        return self.locate(torch.stack(maps, 1), x.detach(), idx)


def build_model(config: ModelConfig | Mapping[str, Any]) -> HotspotModel:
    """Build a model from a ``ModelConfig`` or a plain dict (needs at least 'backbone' and 'actions')."""
    return HotspotModel(config)
