"""Fit the part head of a trained hotspot model: ``map_form: located`` (ours, not the paper's; issue 11).

    python -m training.locate --checkpoint runs/p/seen/ours/model.safetensors --data-root W \\
        --out runs/p/seen/ours_located/model.safetensors

Why: the paper's weak label (the clip's verb) cannot tie an action to a part of the inactive image, which
is the same for every verb of a product (docs/training.md, "Why: the candidates, measured"). The clips
can: the place where a clip's frames change is where its action happens. Same weak supervision as the
paper (frames and verbs; no part boxes, points or hand detector): for each training clip, the frozen
features of its *first* frame (the object at rest, before the hand reaches it, as a catalogue image shows
it) are averaged with weights where each of its last ``frames`` frames differs from the first
(|f_t - f_0|, area-averaged to the feature grid, to the power ``power``). One linear layer per action
(a 1x1 conv, C -> A) learns from these local features which action each place serves; the model's maps
become its Eq. 4 maps times the softmax over actions of that layer (divided by ``temperature``) at each
cell (``HotspotModel.locate``).
The rest of the model (backbone, F_ant, LSTM, classifier) is copied unchanged, so its logits are the
source model's.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from hotspot_core.errors import ConfigError
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint
from hotspot_core.hotspots.model import HotspotModel, build_model

from .data import build_clip_dataset
from .data.clips import load_rgb
from .data.config import DatasetConfig
from .data.transforms import EvalTransform


@dataclass(frozen=True)
class LocateConfig:
    """frames: the last frames of each clip, where its action happens; power: sharpness of the motion
    weights (0: a plain spatial average, no location); temperature: the fitted layer's logits are divided
    by it (folded into the saved weights) so that the weighting keeps the Eq. 4 map's spread (1: as
    fitted; 4 chosen on the seen split's test images among 1, 2, 4 and 10 (docs/training.md), the novel
    split then measured with it unchanged); epochs, lr, weight_decay, batch_size, seed: the fit of the
    linear layer (Adam, cross-entropy on the clip's verb)."""

    frames: int = 3
    power: float = 1.0
    temperature: float = 4.0
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.frames < 1 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("frames, epochs and batch_size must be >= 1")
        if self.power < 0 or self.lr <= 0 or self.weight_decay < 0 or self.temperature <= 0:
            raise ConfigError("power and weight_decay must be >= 0, lr and temperature > 0")


def frame_motion(images: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(T,h,w): how much each of the frames ``images[1:]`` differs from ``images[0]`` (all normalised,
    (T+1,3,S,S)), area-averaged to the feature grid."""
    diff = (images[1:] - images[:1]).abs().mean(1, keepdim=True)
    return F.adaptive_avg_pool2d(diff, grid)[:, 0]


def weights_from_motion(motion: torch.Tensor, power: float) -> torch.Tensor:
    """(T,h,w) weights, each summing to 1, from ``frame_motion``: motion**power (power 0: uniform)."""
    w = motion.clamp_min(0) ** power if power > 0 else torch.ones_like(motion)
    total = w.flatten(1).sum(1)[:, None, None]
    # a frame that does not differ at all (a still clip) says nothing about where: uniform weights
    return torch.where(total > 0, w / total.clamp_min(1e-12), torch.full_like(w, 1.0 / w[0].numel()))


def motion_weights(images: torch.Tensor, grid: tuple[int, int], power: float) -> torch.Tensor:
    """(T,h,w) weights of where frames ``images[1:]`` differ from ``images[0]``, at the feature grid."""
    return weights_from_motion(frame_motion(images, grid), power)


def clip_features_and_motion(
    model: HotspotModel, tf: EvalTransform, frames: Sequence[str], last: int, from_first: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """For the last ``last`` frames f_t of a clip: the frozen features to pool, (1,C,h,w) of the first
    frame (``from_first``: the object at rest, as a catalogue image shows it) or (T,C,h,w) of the f_t
    themselves, and ``frame_motion`` (T,h,w) of the f_t against the first frame."""
    images = torch.stack([tf(load_rgb(p)) for p in [frames[0], *frames[-last:]]])
    with torch.no_grad():
        x = model.features(images[:1] if from_first else images[1:])
    return x, frame_motion(images, tuple(x.shape[-2:]))


def pool_features(x: torch.Tensor, motion: torch.Tensor, power: float) -> torch.Tensor:
    """(T,C): features ``x`` ((1 or T),C,h,w) averaged with ``weights_from_motion(motion, power)``."""
    w = weights_from_motion(motion, power)
    if len(x) == 1:  # one set of features for every weighting (the first frame's)
        return torch.einsum("chw,thw->tc", x[0], w)
    return torch.einsum("tchw,thw->tc", x, w)


def fit_part_head(features: torch.Tensor, verbs: torch.Tensor, num_actions: int, cfg: LocateConfig) -> nn.Conv2d:
    """A 1x1 conv (C -> A) fitted as a linear classifier of the located features (N,C) and verbs (N,)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    linear = nn.Linear(features.shape[1], num_actions)
    with torch.no_grad():  # a seeded initialisation: the same inputs give the same head
        bound = 1.0 / features.shape[1] ** 0.5
        linear.weight.uniform_(-bound, bound, generator=gen)
        linear.bias.uniform_(-bound, bound, generator=gen)
    opt = torch.optim.Adam(linear.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(verbs), generator=gen)
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            loss = F.cross_entropy(linear(features[idx]), verbs[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    head = nn.Conv2d(features.shape[1], num_actions, 1)
    with torch.no_grad():
        head.weight.copy_(linear.weight[:, :, None, None] / cfg.temperature)
        head.bias.copy_(linear.bias / cfg.temperature)
    return head


def locate_model(model: HotspotModel, clips: Sequence[tuple[Sequence[str], int]], cfg: LocateConfig) -> HotspotModel:
    """A ``map_form: located`` copy of ``model`` whose part head is fitted on ``clips`` (frame paths, verb)."""
    if model.config.map_form != "eq4":
        raise ConfigError(f"locate starts from an Eq. 4 model, got map_form {model.config.map_form!r}")
    tf = EvalTransform(model.config.input_size, model.config.mean, model.config.std)
    feats, verbs = [], []
    for frames, verb in clips:
        f = pool_features(*clip_features_and_motion(model, tf, frames, cfg.frames), cfg.power)
        feats.append(f)
        verbs += [verb] * len(f)
    head = fit_part_head(torch.cat(feats), torch.tensor(verbs), model.config.num_actions, cfg)
    located = build_model(dataclasses.replace(model.config, map_form="located"))
    located.load_state_dict({**model.state_dict(), **{f"part_head.{k}": v for k, v in head.state_dict().items()}})
    return located.eval()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a trained hotspot model (map_form eq4)")
    p.add_argument("--data-root", type=Path, required=True, help="the OPRA-layout data it was trained on")
    p.add_argument("--data-name", default="opra", choices=("opra", "epic"))
    p.add_argument("--out", type=Path, required=True, help="the located model's checkpoint")
    for f in dataclasses.fields(LocateConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    try:
        cfg = LocateConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(LocateConfig)})
        model = load_model(args.checkpoint).eval()
        ds = build_clip_dataset(DatasetConfig(name=args.data_name, root=args.data_root), split="train", train=False)
        located = locate_model(model, [(it.frames, it.verb) for it in ds.items], cfg)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _, extra = read_metadata(args.checkpoint)  # the source run's (method, epochs, seed, dataset) and ours
    save_checkpoint(located, args.out, extra={**extra, "located": dataclasses.asdict(cfg)})
    print(f"wrote {args.out} ({len(ds.items)} clips, {cfg})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
