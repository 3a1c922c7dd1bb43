"""Dual Attention Network for action and object recognition (Xiao et al., ICCV 2019), plain PyTorch.

    frames --frozen backbone--> f_k (d,h,w) --dropout, 1x1 perceptron--> (512,N)
      average pool --> temporal heads --> 1st prediction p_a, p_o              (baseline / multitask)
      h_a = MLP(p_a), h_o = MLP(p_o)
      alpha_k = softmax(w_a^T tanh(W_a f_k + W_ota h_o 1^T))   object prior -> action attention (Eqs. 6, 8)
      beta_k  = softmax(w_o^T tanh(W_o f_k + W_ato h_a 1^T))   action prior -> object attention (Eqs. 7, 9)
      sum_i alpha_ki f_k[:,i], sum_i beta_ki f_k[:,i]  --> new temporal heads --> 2nd prediction (Eqs. 10-11)

The self-attention variant drops the prior terms; the 'gt' prior feeds one-hot ground truth instead of
the first prediction. Objects: two softmax classifiers, the second with a null class for single-object
actions; p_o is their two probability vectors side by side.

Everything after the backbone runs on backbone features (B,T,d,h,w), so training can read cached ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hotspot_core.backbones import build_backbone
from hotspot_core.dan.config import DANConfig

__all__ = [
    "DANOutput",
    "DualAttention",
    "DualAttentionNetwork",
    "FeatureProjection",
    "GuidedAttention",
    "PriorEmbedding",
    "RecognitionHeads",
    "TRNHead",
    "TSNHead",
    "attend",
    "build_dan",
    "dan_losses",
    "mlp",
    "one_hot_priors",
    "relation_tuples",
    "temporal_head",
]


# ------------------------------------------------------------------------------------ building blocks
def mlp(in_dim: int, hidden: int, out_dim: int, final_relu: bool = False) -> nn.Sequential:
    """Two linear layers with a ReLU between them (and optionally after)."""
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim)]
    if final_relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class FeatureProjection(nn.Module):
    """[k x k average pool,] dropout on backbone features, then a single-layer perceptron per cell."""

    def __init__(self, in_dim: int, out_dim: int, dropout: float, pool: int = 1) -> None:
        super().__init__()
        self.pool = pool
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(in_dim, out_dim)

    def grid(self, x: torch.Tensor) -> tuple[int, int]:
        """(h, w) of the attention grid for backbone features x (...,d,H,W)."""
        return x.shape[-2] // self.pool, x.shape[-1] // self.pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,T,d,H,W) -> (B,T,N,out_dim), N = h*w cells in row-major order."""
        if self.pool > 1:
            b, t = x.shape[:2]
            x = F.avg_pool2d(x.flatten(0, 1), self.pool).view(b, t, x.shape[2], *self.grid(x))
        cells = x.flatten(3).transpose(2, 3)
        return F.relu(self.linear(self.dropout(cells)))


class PriorEmbedding(nn.Module):
    """h = MLP(p): a probability vector to a 512-d prior (two layers of 512 with ReLU)."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.net = mlp(in_dim, dim, dim, final_relu=True)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.net(p)


class GuidedAttention(nn.Module):
    """alpha = softmax_i(w^T tanh(W f_i + W_p h)) over the N cells of each frame (Eqs. 6-9).

    ``prior_dim=None`` gives self attention (no W_p h term). ``hidden`` replaces the paper's N, which
    only type-checks as a hidden size.
    """

    def __init__(self, feat_dim: int, hidden: int, prior_dim: int | None) -> None:
        super().__init__()
        self.feat = nn.Linear(feat_dim, hidden)
        self.prior = nn.Linear(prior_dim, hidden, bias=False) if prior_dim else None
        self.score = nn.Linear(hidden, 1, bias=False)

    def forward(self, f: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """f (B,T,N,C), h (B,P) -> attention weights (B,T,N), summing to 1 over N."""
        x = self.feat(f)
        if self.prior is not None:
            if h is None:
                raise ValueError("guided attention needs a prior")
            x = x + self.prior(h)[:, None, None, :]
        return self.score(torch.tanh(x)).squeeze(-1).softmax(-1)


class DualAttention(nn.Module):
    """Action attention guided by the object prior and object attention guided by the action prior."""

    def __init__(self, feat_dim: int, hidden: int, prior_dim: int | None) -> None:
        super().__init__()
        self.action = GuidedAttention(feat_dim, hidden, prior_dim)  # W_a, W_ota, w_a
        self.object = GuidedAttention(feat_dim, hidden, prior_dim)  # W_o, W_ato, w_o

    def forward(
        self, f: torch.Tensor, h_action: torch.Tensor | None, h_object: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(alpha, beta), each (B,T,N): alpha from the object prior, beta from the action prior."""
        return self.action(f, h_object), self.object(f, h_action)


def attend(f: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eqs. 10-11: (B,T,N,C) features weighted by (B,T,N) attention -> (B,T,C)."""
    return torch.einsum("btn,btnc->btc", weights, f)


class TSNHead(nn.Module):
    """TSN-style consensus: average the frames, then a two-layer MLP."""

    def __init__(self, in_dim: int, num_classes: int, hidden: int) -> None:
        super().__init__()
        self.mlp = mlp(in_dim, hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,T,C) -> (B,num_classes)."""
        return self.mlp(x.mean(1))


def relation_tuples(num_frames: int, scale: int, count: int) -> list[tuple[int, ...]]:
    """``count`` ordered frame tuples of length ``scale``, evenly spread over all of them (deterministic)."""
    combos = list(itertools.combinations(range(num_frames), scale))
    if scale == num_frames or len(combos) <= count:
        return combos
    step = len(combos) / count
    return [combos[int(i * step + step / 2)] for i in range(count)]


class TRNHead(nn.Module):
    """Multi-scale TRN (Zhou et al., ECCV 2018): sum over scales n of h_n(sum over tuples g_n(frames)).

    g_n: two layers of ``relation_dim`` with ReLU; h_n: two layers ending in the classes.
    """

    def __init__(self, in_dim: int, num_classes: int, num_frames: int, relation_dim: int, tuples: int) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.scales = list(range(num_frames, 1, -1))
        self.tuples = [relation_tuples(num_frames, n, tuples) for n in self.scales]
        self.g = nn.ModuleList(mlp(n * in_dim, relation_dim, relation_dim, final_relu=True) for n in self.scales)
        self.h = nn.ModuleList(mlp(relation_dim, relation_dim, num_classes) for _ in self.scales)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B,T,C) with T = num_frames -> (B,num_classes)."""
        if x.shape[1] != self.num_frames:
            raise ValueError(f"TRN head built for {self.num_frames} frames, got {x.shape[1]}")
        out = 0
        for tuples, g, h in zip(self.tuples, self.g, self.h):
            idx = torch.tensor(tuples, device=x.device)  # (K,n)
            rel = x[:, idx].flatten(2)  # (B,K,n*C)
            out = out + h(g(rel).sum(1))
        return out


def temporal_head(cfg: DANConfig, num_classes: int) -> nn.Module:
    if cfg.temporal_head == "tsn":
        return TSNHead(cfg.embed_dim, num_classes, cfg.head_hidden)
    return TRNHead(cfg.embed_dim, num_classes, cfg.num_frames, cfg.relation_dim, cfg.trn_tuples)


class RecognitionHeads(nn.Module):
    """One prediction: an action head and an object head (two object classifiers side by side)."""

    def __init__(self, cfg: DANConfig) -> None:
        super().__init__()
        self.num_objects = cfg.num_objects
        self.action = temporal_head(cfg, cfg.num_actions) if "action" in cfg.tasks else None
        n_obj = cfg.num_objects + (cfg.num_objects + 1 if cfg.second_object else 0)
        self.object = temporal_head(cfg, n_obj) if "object" in cfg.tasks else None

    def forward(
        self, action_feats: torch.Tensor, object_feats: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(action logits, first-object logits, second-object logits incl. null), None where absent."""
        a = self.action(action_feats) if self.action is not None else None
        o1 = o2 = None
        if self.object is not None:
            o = self.object(object_feats)
            o1 = o[:, : self.num_objects]
            o2 = o[:, self.num_objects :] if o.shape[1] > self.num_objects else None
        return a, o1, o2


# ------------------------------------------------------------------------------------------- model
@dataclass
class DANOutput:
    """Logits of the final prediction, the first prediction (attention variants) and attention maps.

    action/object/object2: final logits (B,A), (B,O), (B,O+1) or None for an absent head.
    first: the pre-attention (action, object, object2) logits of the attention variants, else None.
    action_attention, object_attention: (B,T,h,w) alpha and beta, or None without attention.
    """

    action: torch.Tensor | None
    object: torch.Tensor | None
    object2: torch.Tensor | None
    first: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None] | None = None
    action_attention: torch.Tensor | None = None
    object_attention: torch.Tensor | None = None


def one_hot_priors(cfg: DANConfig, action: torch.Tensor, objects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground-truth priors: one-hot action (B,A) and one-hot objects (B,O[+O+1]); objects (B,2), -1 = null."""
    p_a = F.one_hot(action.long(), cfg.num_actions).float()
    p_o = F.one_hot(objects[:, 0].long(), cfg.num_objects).float()
    if cfg.second_object:
        second = objects[:, 1].long().clone()
        second[second < 0] = cfg.num_objects
        p_o = torch.cat([p_o, F.one_hot(second, cfg.num_objects + 1).float()], 1)
    return p_a, p_o


class DualAttentionNetwork(nn.Module):
    """Frozen backbone + projection + first heads [+ (dual | self) attention + second heads]."""

    def __init__(self, config: DANConfig | Mapping[str, Any]) -> None:
        super().__init__()
        self.config = cfg = DANConfig.from_dict(config)
        self.backbone = build_backbone(cfg.backbone, cfg.backbone_weights)
        self.project = FeatureProjection(cfg.feature_dim, cfg.embed_dim, cfg.dropout, cfg.feature_pool)
        self.first = RecognitionHeads(cfg)
        if cfg.attends:
            guided = cfg.variant == "dual"
            n_obj = cfg.num_objects + (cfg.num_objects + 1 if cfg.second_object else 0)
            self.action_prior = PriorEmbedding(cfg.num_actions, cfg.embed_dim) if guided else None
            self.object_prior = PriorEmbedding(n_obj, cfg.embed_dim) if guided else None
            self.attention = DualAttention(cfg.embed_dim, cfg.attention_dim, cfg.embed_dim if guided else None)
            self.second = RecognitionHeads(cfg)

    # ---------------------------------------------------------------------------------- pieces
    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """(B,T,3,S,S) normalised RGB -> frozen backbone features (B,T,d,h,w)."""
        b, t = frames.shape[:2]
        x = self.backbone(frames.flatten(0, 1))
        return x.view(b, t, *x.shape[1:])

    def priors(
        self,
        first: tuple,
        gt_action: torch.Tensor | None = None,
        gt_objects: torch.Tensor | None = None,
        prior: str | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Probability vectors (p_a, p_o) that guide the attention: the first prediction or ground truth."""
        cfg = self.config
        if (prior or cfg.prior) == "gt":
            if gt_action is None or gt_objects is None:
                raise ValueError("prior='gt' needs gt_action and gt_objects")
            return one_hot_priors(cfg, gt_action, gt_objects)
        a, o1, o2 = first
        p_a = a.softmax(-1)
        p_o = o1.softmax(-1) if o2 is None else torch.cat([o1.softmax(-1), o2.softmax(-1)], 1)
        if cfg.detach_priors:
            p_a, p_o = p_a.detach(), p_o.detach()
        return p_a, p_o

    def attention_maps(
        self, cells: torch.Tensor, p_action: torch.Tensor | None, p_object: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """alpha, beta (B,T,N) for projected cells (B,T,N,C); any T (e.g. every frame of a clip)."""
        if self.config.variant == "dual":
            return self.attention(cells, self.action_prior(p_action), self.object_prior(p_object))
        return self.attention(cells, None, None)

    # ---------------------------------------------------------------------------------- forward
    def forward(
        self,
        features: torch.Tensor,
        gt_action: torch.Tensor | None = None,
        gt_objects: torch.Tensor | None = None,
        prior: str | None = None,
    ) -> DANOutput:
        """Backbone features (B,T,d,h,w) -> logits and attention maps.

        gt_action (B,) and gt_objects (B,2) (second -1 = null) are needed only for ``prior='gt'``
        (default: the config's prior).
        """
        cfg = self.config
        cells = self.project(features)  # (B,T,N,C)
        pooled = cells.mean(2)  # Eq. 1
        first = self.first(pooled, pooled)
        if not cfg.attends:
            return DANOutput(*first)
        p_a, p_o = self.priors(first, gt_action, gt_objects, prior)
        alpha, beta = self.attention_maps(cells, p_a, p_o)
        second = self.second(attend(cells, alpha), attend(cells, beta))
        shape = (*alpha.shape[:2], *self.project.grid(features))
        return DANOutput(*second, first=first, action_attention=alpha.view(shape), object_attention=beta.view(shape))

    def forward_frames(self, frames: torch.Tensor, **kwargs: Any) -> DANOutput:
        """(B,T,3,S,S) normalised frames -> ``forward`` of their backbone features."""
        return self(self.features(frames), **kwargs)


def dan_losses(
    out: DANOutput, action: torch.Tensor, objects: torch.Tensor, first_weight: float = 1.0
) -> dict[str, torch.Tensor]:
    """Cross-entropy of every head that exists: objects (B,2) with -1 for the null second object.

    The first prediction of the attention variants is weighted by ``first_weight`` (the paper does not
    state a weighting; 1.0 trains both predictions alike). Returns the parts and their sum as 'total'.
    """

    def heads(a: torch.Tensor | None, o1: torch.Tensor | None, o2: torch.Tensor | None) -> dict[str, torch.Tensor]:
        parts = {}
        if a is not None:
            parts["action"] = F.cross_entropy(a, action.long())
        if o1 is not None:
            parts["object"] = F.cross_entropy(o1, objects[:, 0].long())
        if o2 is not None:
            second = objects[:, 1].long().clone()
            second[second < 0] = o2.shape[1] - 1  # the null class is the last one
            parts["object2"] = F.cross_entropy(o2, second)
        return parts

    losses = heads(out.action, out.object, out.object2)
    total = sum(losses.values())
    if out.first is not None:
        for k, v in heads(*out.first).items():
            losses["first_" + k] = v
            total = total + first_weight * v
    losses["total"] = total
    return losses


def build_dan(config: DANConfig | Mapping[str, Any]) -> DualAttentionNetwork:
    """Build a DAN from a ``DANConfig`` or a plain dict (needs 'backbone', 'actions', 'objects')."""
    return DualAttentionNetwork(config)
