"""Eq. 4 hotspot maps with the backward pass written out by hand, as one plain forward graph.

Autograd cannot be exported to ONNX/TensorRT, so the gradient of each selected logit with respect to the
backbone features is spelled out: BatchNorm folded into the convs (eval statistics), ReLU masks,
transposed convolutions for the conv backward, the L2-pool derivative and the single-step LSTM derivative.
Cost is (1 + K) x F_ant for K actions. ``tests/test_analytic.py`` checks it equals autograd.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from .model import HotspotModel


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of conv followed by eval-mode BatchNorm, as a single conv."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale[:, None, None, None]
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight, (bias - bn.running_mean) * scale + bn.bias


class _ForwardParts(NamedTuple):
    """Forward intermediates that the hand-written backward reuses."""

    x: torch.Tensor
    a1: torch.Tensor | None  # pre-ReLU activations of F_ant's two layers (None without anticipation)
    a2: torch.Tensor | None
    w1: torch.Tensor | None  # BatchNorm-folded conv weights
    w2: torch.Tensor | None
    z: torch.Tensor  # anticipated features
    pooled: torch.Tensor
    c0: torch.Tensor
    si: torch.Tensor  # LSTM gate activations
    sf: torch.Tensor
    tg: torch.Tensor
    so: torch.Tensor
    tc1: torch.Tensor
    logits: torch.Tensor


def analytic_forward(model: "HotspotModel", x: torch.Tensor) -> _ForwardParts:
    """Logits of backbone features x (N,C,h,w), keeping what ``analytic_maps`` needs.

    Uses BatchNorm running statistics (eval semantics) whatever the module's mode.
    """
    c = x.shape[1]
    a1 = a2 = w1 = w2 = None
    if model.config.use_anticipation:
        conv1, bn1, _, conv2, bn2, _ = model.project
        w1, b1 = fold_batchnorm(conv1, bn1)
        w2, b2 = fold_batchnorm(conv2, bn2)
        a1 = F.conv2d(x, w1, b1, padding=1)
        a2 = F.conv2d(F.relu(a1), w2, b2, padding=1)
        z = F.relu(a2)
    else:
        z = x
    pooled = torch.linalg.vector_norm(z.flatten(2), ord=2, dim=2)  # (N,C), spec 1.3

    # One LSTM step from the learned state; PyTorch gate order is input, forget, cell, output.
    rnn = model.rnn
    h0 = model.h0.reshape(1, c)
    c0 = model.c0.reshape(1, c)
    gates = pooled @ rnn.weight_ih_l0.t() + rnn.bias_ih_l0 + (h0 @ rnn.weight_hh_l0.t() + rnn.bias_hh_l0)
    gi, gf, gg, go = gates.chunk(4, dim=1)
    si, sf, tg, so = torch.sigmoid(gi), torch.sigmoid(gf), torch.tanh(gg), torch.sigmoid(go)
    tc1 = torch.tanh(sf * c0 + si * tg)
    logits = (so * tc1) @ model.fc.weight.t() + model.fc.bias
    return _ForwardParts(x, a1, a2, w1, w2, z, pooled, c0, si, sf, tg, so, tc1, logits)


def analytic_maps(model: "HotspotModel", p: _ForwardParts, idx: torch.Tensor) -> torch.Tensor:
    """Raw Eq. 4 maps (N,K,h,w) for action indices ``idx`` (N,K), from ``analytic_forward``'s parts."""
    n, c, h, w = p.x.shape
    k = idx.shape[1]
    si, sf, tg, so, tc1 = p.si, p.sf, p.tg, p.so, p.tc1
    # d logit_a / d h1 is row a of the classifier: (N,K,C).
    dh = model.fc.weight[idx]
    dc = dh * (so * (1 - tc1 * tc1))[:, None]
    d_gates = torch.cat(
        [
            dc * (tg * si * (1 - si))[:, None],
            dc * (p.c0 * sf * (1 - sf))[:, None],
            dc * (si * (1 - tg * tg))[:, None],
            dh * (tc1 * so * (1 - so))[:, None],
        ],
        dim=2,
    )
    d_pooled = d_gates @ model.rnn.weight_ih_l0  # (N,K,C)

    # d ||z_c|| / d z_c = z_c / ||z_c||, taken as 0 for an all-zero channel (as vector_norm's backward).
    pooled = p.pooled
    safe = pooled.clamp_min(torch.finfo(pooled.dtype).tiny)
    inv = torch.where(pooled > 0, 1.0 / safe, torch.zeros_like(pooled))
    unit = p.z * inv[:, :, None, None]  # (N,C,h,w)
    grad = d_pooled[:, :, :, None, None] * unit[:, None]  # (N,K,C,h,w)

    if p.a1 is not None:
        grad = grad * (p.a2 > 0).to(grad.dtype)[:, None]
        grad = F.conv_transpose2d(grad.reshape(n * k, c, h, w), p.w2, padding=1).view(n, k, c, h, w)
        grad = grad * (p.a1 > 0).to(grad.dtype)[:, None]
        grad = F.conv_transpose2d(grad.reshape(n * k, c, h, w), p.w1, padding=1).view(n, k, c, h, w)

    return F.relu(grad * p.x[:, None]).sum(2)


def analytic_logits_and_maps(
    model: "HotspotModel", x: torch.Tensor, idx: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N,A) and raw hotspot maps (N,K,h,w) for action indices ``idx`` (N,K)."""
    parts = analytic_forward(model, x)
    return parts.logits, analytic_maps(model, parts, idx)


class HotspotGraph(nn.Module):
    """Images -> (logits, action indices, maps) as one plain forward graph, for export and fast backends.

    top_k: compute maps only for the k most likely actions of each crop (None or k = A: all actions,
    returned in model order).
    """

    def __init__(self, model: "HotspotModel", top_k: int | None = None) -> None:
        super().__init__()
        a = model.config.num_actions
        if top_k is not None and not 1 <= top_k <= a:
            raise ValueError(f"top_k must be in 1..{a}, got {top_k}")
        self.model = model
        self.top_k = None if top_k is None or top_k == a else int(top_k)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = analytic_forward(self.model, self.model.features(images))
        logits = parts.logits
        if self.top_k is None:
            a = self.model.config.num_actions
            idx = torch.arange(a, device=logits.device)[None].expand(logits.shape[0], a)
        else:
            idx = logits.topk(self.top_k, dim=1).indices  # maps only for each crop's top-k actions
        return logits, idx, analytic_maps(self.model, parts, idx)
