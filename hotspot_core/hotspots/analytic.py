"""Eq. 4 hotspot maps with the backward pass written out by hand, as one plain forward graph.

Autograd cannot be exported to ONNX/TensorRT, so the gradient of each selected logit with respect to the
backbone features is spelled out: BatchNorm folded into the convs (eval statistics), ReLU masks,
convolutions with flipped, transposed weights for the conv backward, the pooling (L2 or mean) derivative and the
single-step LSTM derivative. Cost is (1 + K) x F_ant for K actions. ``tests/test_model.py`` checks it
equals autograd. Functions take a ``HotspotModel`` (typed ``nn.Module``: this lower layer never
imports the model module, which imports it).

Reduced precision (``HotspotGraph(..., precision='fp16'|'bf16')``) runs the backbone and every F_ant
convolution (forward and backward) in that dtype with explicit casts, and the rest (pooling, LSTM,
normalisation, the final channel sum) in float32, so the exported ONNX carries its own precision (what
a strongly typed TensorRT network needs). Each action's gradient seed is scaled to unit max-abs before
the backward convs and the map scaled back after them (maps are positively homogeneous in the seed),
so small gradients do not underflow in float16.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "FoldedHead",
    "HotspotGraph",
    "PRECISION_DTYPES",
    "analytic_forward",
    "analytic_logits_and_maps",
    "analytic_maps",
    "fold_batchnorm",
    "fold_head",
    "input_grad_weight",
]


PRECISION_DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of conv followed by eval-mode BatchNorm, as a single conv."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale[:, None, None, None]
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight, (bias - bn.running_mean) * scale + bn.bias


def input_grad_weight(weight: torch.Tensor) -> torch.Tensor:
    """conv2d weight whose 'same' 3x3 convolution is the input gradient of ``weight``'s convolution.

    conv_transpose2d(g, w, padding=1) == conv2d(g, w.transpose(0, 1).flip(2, 3), padding=1) for 3x3,
    stride 1; the plain convolution is as fast or faster on CPU and maps to one Conv node on export.
    """
    return weight.transpose(0, 1).flip(2, 3).contiguous()


def gradient_to_map(grad: torch.Tensor, x: torch.Tensor, form: str = "eq4") -> torch.Tensor:
    """Hotspot maps from gradients (...,C,h,w) and features x (broadcastable): sums out the channel axis.

    'eq4': sum_c ReLU(g * x) (paper Eq. 4); 'cam' (ours): ReLU(sum_c mean_hw(g)_c * x_c), Grad-CAM's channel
    weighting; 'located' (ours) starts from Eq. 4 (``HotspotModel.locate`` weights it afterwards). All are
    positively homogeneous in g, which the reduced-precision seed scaling relies on.
    """
    if form in ("eq4", "located"):
        return F.relu(grad * x).sum(-3)
    if form == "cam":
        return F.relu((grad.mean((-2, -1), keepdim=True) * x).sum(-3))
    raise ValueError(f"unknown map form {form!r}")


class FoldedHead(NamedTuple):
    """F_ant with BatchNorm folded in, plus the weights of its input-gradient convolutions."""

    w1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    b2: torch.Tensor
    w1_back: torch.Tensor
    w2_back: torch.Tensor


def fold_head(model: nn.Module, dtype: torch.dtype | None = None) -> FoldedHead | None:
    """F_ant's folded weights (in ``dtype`` when given), or None for the no-anticipation variant."""
    if not model.config.use_anticipation:
        return None
    conv1, bn1, _, conv2, bn2, _ = model.project
    w1, b1 = fold_batchnorm(conv1, bn1)
    w2, b2 = fold_batchnorm(conv2, bn2)
    head = FoldedHead(w1, b1, w2, b2, input_grad_weight(w1), input_grad_weight(w2))
    return FoldedHead(*(t.to(dtype) for t in head)) if dtype is not None else head


class _ForwardParts(NamedTuple):
    """Forward intermediates that the hand-written backward reuses."""

    x: torch.Tensor
    a1: torch.Tensor | None  # pre-ReLU activations of F_ant's two layers (None without anticipation)
    a2: torch.Tensor | None
    head: FoldedHead | None
    z: torch.Tensor  # anticipated features
    pooled: torch.Tensor
    c0: torch.Tensor
    si: torch.Tensor  # LSTM gate activations
    sf: torch.Tensor
    tg: torch.Tensor
    so: torch.Tensor
    tc1: torch.Tensor
    logits: torch.Tensor


def analytic_forward(model: nn.Module, x: torch.Tensor, head: FoldedHead | None = None) -> _ForwardParts:
    """Logits of backbone features x (N,C,h,w), keeping what ``analytic_maps`` needs.

    Uses BatchNorm running statistics (eval semantics) whatever the module's mode. ``head``: F_ant's
    folded weights precomputed by ``fold_head`` (folded here when None); its dtype sets the dtype of
    the F_ant convolutions.
    """
    c = x.shape[1]
    a1 = a2 = None
    if model.config.use_anticipation:
        head = head if head is not None else fold_head(model)
        xc = x.to(head.w1.dtype)
        a1 = F.conv2d(xc, head.w1, head.b1, padding=1)
        a2 = F.conv2d(F.relu(a1), head.w2, head.b2, padding=1)
        z = F.relu(a2).float()
    else:
        head = None
        z = x.float()
    if model.config.pool == "l2":
        pooled = torch.linalg.vector_norm(z.flatten(2), ord=2, dim=2)  # (N,C), spec 1.3
    else:
        pooled = z.flatten(2).mean(2)

    # One LSTM step from the learned state; PyTorch gate order is input, forget, cell, output.
    rnn = model.rnn
    h0 = model.h0.reshape(1, c)
    c0 = model.c0.reshape(1, c)
    gates = pooled @ rnn.weight_ih_l0.t() + rnn.bias_ih_l0 + (h0 @ rnn.weight_hh_l0.t() + rnn.bias_hh_l0)
    gi, gf, gg, go = gates.chunk(4, dim=1)
    si, sf, tg, so = torch.sigmoid(gi), torch.sigmoid(gf), torch.tanh(gg), torch.sigmoid(go)
    tc1 = torch.tanh(sf * c0 + si * tg)
    logits = (so * tc1) @ model.fc.weight.t() + model.fc.bias
    return _ForwardParts(x, a1, a2, head, z, pooled, c0, si, sf, tg, so, tc1, logits)


def analytic_maps(model: nn.Module, p: _ForwardParts, idx: torch.Tensor) -> torch.Tensor:
    """Raw Eq. 4 maps (N,K,h,w), float32, for action indices ``idx`` (N,K), from ``analytic_forward``."""
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
    tiny = torch.finfo(d_pooled.dtype).tiny
    seed_scale = d_pooled.abs().amax(dim=2, keepdim=True).clamp_min(tiny)  # (N,K,1)
    d_pooled = d_pooled / seed_scale

    if model.config.pool == "l2":
        # d ||z_c|| / d z_c = z_c / ||z_c||, taken as 0 for an all-zero channel (as vector_norm's backward).
        pooled = p.pooled
        safe = pooled.clamp_min(tiny)
        inv = torch.where(pooled > 0, 1.0 / safe, torch.zeros_like(pooled))
        unit = p.z * inv[:, :, None, None]  # (N,C,h,w)
        grad = d_pooled[:, :, :, None, None] * unit[:, None]  # (N,K,C,h,w)
    else:
        # d mean(z_c) / d z_c = 1 / (h w) at every position.
        grad = (d_pooled / (h * w))[:, :, :, None, None].expand(n, k, c, h, w)

    if p.a1 is not None:
        dtype = p.head.w1.dtype
        grad = grad.to(dtype) * (p.a2 > 0).to(dtype)[:, None]
        grad = F.conv2d(grad.reshape(n * k, c, h, w), p.head.w2_back, padding=1).view(n, k, c, h, w)
        grad = grad * (p.a1 > 0).to(dtype)[:, None]
        grad = F.conv2d(grad.reshape(n * k, c, h, w), p.head.w1_back, padding=1).view(n, k, c, h, w)

    maps = gradient_to_map(grad.float(), p.x.float()[:, None], model.config.map_form)
    return model.locate(maps * seed_scale[..., None], p.x, idx)


def analytic_logits_and_maps(model: nn.Module, x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (N,A) and raw hotspot maps (N,K,h,w) for action indices ``idx`` (N,K)."""
    parts = analytic_forward(model, x)
    return parts.logits, analytic_maps(model, parts, idx)


class HotspotGraph(nn.Module):
    """Images -> (logits, action indices, maps) as one plain forward graph, for export and fast backends.

    top_k: compute maps only for the k most likely actions of each crop (None or k = A: all actions,
    returned in model order).
    precision: 'fp32', or 'fp16'/'bf16' for the backbone and F_ant convolutions (see the module doc).
    The folded F_ant weights are a snapshot taken here: build a new graph after changing the weights.
    Outputs are always float32 logits, int64 action indices and float32 maps.
    """

    def __init__(self, model: nn.Module, top_k: int | None = None, precision: str = "fp32") -> None:
        super().__init__()
        a = model.config.num_actions
        if top_k is not None and not 1 <= top_k <= a:
            raise ValueError(f"top_k must be in 1..{a}, got {top_k}")
        if precision not in PRECISION_DTYPES:
            raise ValueError(f"precision must be one of {sorted(PRECISION_DTYPES)}, got {precision!r}")
        self.model = model
        self.top_k = None if top_k is None or top_k == a else int(top_k)
        self.precision = precision
        self.dtype = PRECISION_DTYPES[precision]
        # A reduced-precision copy of the frozen backbone; the model's own stays float32.
        self.backbone = None if precision == "fp32" else copy.deepcopy(model.backbone).to(self.dtype)
        with torch.no_grad():
            head = fold_head(model, self.dtype)
        self._head_names = ()
        if head is not None:
            for name, t in head._asdict().items():
                self.register_buffer(f"head_{name}", t.detach().clone(), persistent=False)
            self._head_names = tuple(f"head_{name}" for name in head._fields)

    def head(self) -> FoldedHead | None:
        """The cached folded F_ant weights (on the graph's device and memory format)."""
        return FoldedHead(*(getattr(self, n) for n in self._head_names)) if self._head_names else None

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if self.backbone is None:
            return self.model.features(images)
        return self.backbone(images.to(self.dtype))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = analytic_forward(self.model, self.features(images), self.head())
        logits = parts.logits
        if self.top_k is None:
            a = self.model.config.num_actions
            idx = torch.arange(a, device=logits.device)[None].expand(logits.shape[0], a)
        else:
            idx = logits.topk(self.top_k, dim=1).indices  # maps only for each crop's top-k actions
        return logits, idx, analytic_maps(self.model, parts, idx)
