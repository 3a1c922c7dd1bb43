"""Fit the part head of a trained hotspot model: ``map_form: located`` (ours, not the paper's; issue 11).

    python -m training.locate --checkpoint runs/p/seen/ours/model.safetensors --data-root W \\
        --out runs/p/seen/ours_located/model.safetensors

Why: the paper's weak label (the clip's verb) cannot tie an action to a part of the inactive image, which
is the same for every verb of a product (docs/training.md, "Why: the candidates, measured"). The clips
can: where the hand meets the object is where the clip's action happens. Same weak supervision as the
paper (frames, verbs and each clip's product image; no part boxes, points or hand detector). The model's
maps become its Eq. 4 maps times the softmax over actions of a 1x1 conv ``part_head`` (C -> A) at each
cell, its logits divided by ``temperature`` (folded into the saved weights; ``HotspotModel.locate``). The
rest of the model (backbone, F_ant, LSTM, classifier) is copied unchanged, so its logits are the source's.

Two ways to fit the part head (``method``):

* ``contact`` (default): for each training clip, ``training.contact.contact_region`` (a disc where the hand
  is when it arrives), times the source model's action-agnostic Eq. 4 map of the clip's first frame (the object), is
  carried over to the clip's *product image* by feature correspondence (each first-frame cell's weight spread
  over the product image's cells by a softmax of the cosine similarity of their frozen features, divided by
  ``match_temperature``); per (product image, verb) the carried maps are averaged and scaled to a maximum of
  1. These soft targets train one logistic map per action on the product images' features (the channel of
  the target's verb only; positive cells weighted by the negative/positive ratio), like a part probe
  trained with pseudo-boxes. Fitting on product images, not on clip frames, is what makes it carry to new
  product photos (docs/training.md, "The fix, second step").
* ``motion`` (the first fix): the first frame's features averaged with weights where each of its last
  ``frames`` frames differs from it (|f_t - f_0|, area-averaged to the feature grid, to the power
  ``power``), and one linear classifier of the verb on them (Adam, ``epochs``, ``lr``, ``batch_size``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hotspot_core import cli
from hotspot_core.errors import ConfigError
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint
from hotspot_core.hotspots.model import HotspotModel, build_model

from .contact import ContactConfig, contact_region
from .data import build_clip_dataset
from .data.clips import load_rgb
from .data.config import DatasetConfig
from .data.transforms import EvalTransform

log = logging.getLogger(__name__)

METHODS = ("contact", "motion")
# What a 'contact' target covers on the product image: 'none' (the carried contact region as it is) or
# 'grow' (the part's extent: grown from it by feature similarity, ``grow_extent``; issue 21).
EXTENTS = ("none", "grow")


@dataclass(frozen=True)
class LocateConfig:
    """method: 'contact' or 'motion' (module docstring). temperature: the fitted layer's logits are divided
    by it (folded into the saved weights) so that the weighting keeps the Eq. 4 map's spread; 4, chosen for
    each method on the seen split's test images among 1, 2, 4 and 10 (docs/training.md), the novel split then
    measured with it unchanged. seed: every random draw of the fit.

    contact: cue_size, change_threshold, opening, border_band, arm_tolerance, reach, tip_radius:
    ``training.contact.ContactConfig``;
    match_temperature: the softmax temperature of the feature correspondence (cosine similarity);
    extent: 'none' or 'grow' (EXTENTS; ``grow_extent`` with ``grow_similarity``, a cosine in (-1, 1); 0.7,
    chosen on the seen split's small-part peaks, docs/training.md, issue 21);
    steps, step_lr: full-batch Adam steps of the logistic maps.
    motion: frames: the last frames of each clip, where its action happens; power: sharpness of the motion
    weights (0: a plain spatial average, no location); epochs, lr, weight_decay, batch_size: the fit of the
    linear classifier (Adam, cross-entropy on the clip's verb)."""

    method: str = "contact"
    temperature: float = 4.0
    seed: int = 0
    cue_size: int = 128
    change_threshold: float = 20.0
    opening: int = 9
    border_band: int = 3
    arm_tolerance: float = 40.0
    reach: float = 0.9
    tip_radius: int = 16
    match_temperature: float = 0.05
    extent: str = "none"
    grow_similarity: float = 0.7
    steps: int = 300
    step_lr: float = 1e-2
    frames: int = 3
    power: float = 1.0
    epochs: int = 100
    lr: float = 1e-3
    weight_decay: float = 5e-4
    batch_size: int = 64

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"locate method {self.method!r} is not one of {METHODS}")
        if self.extent not in EXTENTS:
            raise ConfigError(f"locate extent {self.extent!r} is not one of {EXTENTS}")
        if not -1 < self.grow_similarity < 1:
            raise ConfigError(f"grow_similarity must be a cosine in (-1, 1), got {self.grow_similarity}")
        if self.frames < 1 or self.epochs < 1 or self.batch_size < 1 or self.steps < 1:
            raise ConfigError("frames, epochs, batch_size and steps must be >= 1")
        if self.power < 0 or self.weight_decay < 0:
            raise ConfigError("power and weight_decay must be >= 0")
        if min(self.lr, self.step_lr, self.temperature, self.match_temperature) <= 0:
            raise ConfigError("lr, step_lr, temperature and match_temperature must be > 0")
        self.contact  # noqa: B018 -- builds the ContactConfig, which validates the contact fields

    @property
    def contact(self) -> ContactConfig:
        return ContactConfig(
            size=self.cue_size,
            threshold=self.change_threshold,
            opening=self.opening,
            border_band=self.border_band,
            arm_tolerance=self.arm_tolerance,
            reach=self.reach,
            tip_radius=self.tip_radius,
        )


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


def _seeded_linear(c_in: int, c_out: int, gen: torch.Generator) -> nn.Linear:
    """nn.Linear's default initialisation drawn from ``gen``: the same inputs give the same head."""
    linear = nn.Linear(c_in, c_out)
    with torch.no_grad():
        bound = 1.0 / c_in**0.5
        linear.weight.uniform_(-bound, bound, generator=gen)
        linear.bias.uniform_(-bound, bound, generator=gen)
    return linear


def _part_head(linear: nn.Linear, temperature: float) -> nn.Conv2d:
    """The fitted layer as the model's 1x1 conv ``part_head``, its logits divided by ``temperature``."""
    head = nn.Conv2d(linear.in_features, linear.out_features, 1)
    with torch.no_grad():
        head.weight.copy_(linear.weight[:, :, None, None] / temperature)
        head.bias.copy_(linear.bias / temperature)
    return head


def fit_part_head(features: torch.Tensor, verbs: torch.Tensor, num_actions: int, cfg: LocateConfig) -> nn.Conv2d:
    """'motion': a 1x1 conv (C -> A) fitted as a linear classifier of the located features (N,C) and verbs (N,)."""
    gen = torch.Generator().manual_seed(cfg.seed)
    linear = _seeded_linear(features.shape[1], num_actions, gen)
    opt = torch.optim.Adam(linear.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(verbs), generator=gen)
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            loss = F.cross_entropy(linear(features[idx]), verbs[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return _part_head(linear, cfg.temperature)


def object_prior(maps: torch.Tensor) -> torch.Tensor:
    """(h,w): the action-agnostic map of Eq. 4 maps (A,h,w) -- the mean over actions, clamped at 0 -- scaled
    to a maximum of 1 (all zeros stay zeros). Where the object is."""
    m = maps.clamp_min(0).mean(0)
    return m / m.max().clamp_min(1e-12)


def object_map(model: HotspotModel, x: torch.Tensor) -> torch.Tensor:
    """(h,w): ``object_prior`` of the model's Eq. 4 maps of features ``x`` (1,C,h,w)."""
    with torch.no_grad():
        return object_prior(model.hotspot_maps(x)[0])


def carry_to_image(
    image_x: torch.Tensor, frame_x: torch.Tensor, weights: torch.Tensor, temperature: float
) -> torch.Tensor:
    """(h,w): ``weights`` (h',w') on a frame's cells carried to an image's cells by feature correspondence.
    Each frame cell's weight is spread over the image cells by the softmax over image cells of the cosine
    similarity of their features (C,h,w) / (C,h',w'), divided by ``temperature``; the total is kept."""
    a = F.normalize(image_x.flatten(1).float(), dim=0)
    b = F.normalize(frame_x.flatten(1).float(), dim=0)
    spread = torch.softmax((a.T @ b) / temperature, dim=0)  # (image cells, frame cells), columns sum to 1
    return (spread @ weights.flatten().float()).view(image_x.shape[1:])


def grow_extent(image_x: torch.Tensor, target: torch.Tensor, similarity: float) -> torch.Tensor:
    """(h,w) of 0/1: the part's extent on an image grown from a carried contact ``target`` (h,w, maximum 1).
    The prototype is the mean of the image's unit-length cell features (C,h,w) over the target's cells of
    at least half its maximum, weighted by the target; the extent is the 8-connected region of cells whose
    cosine similarity to it is >= ``similarity`` around the target's peak (only the peak cell where the peak
    itself is less similar).
    Why: the hand says where the part is, not how far it reaches (docs/training.md, issue 21); a part is
    drawn alike over its extent, so the product image's own features carry the rest."""
    x = F.normalize(image_x.flatten(1).float(), dim=0)  # (C, cells)
    t = target.flatten().float()
    proto = F.normalize((x * (t * (t >= 0.5))).sum(1), dim=0)
    same = ((proto @ x).view(target.shape) >= similarity).numpy().astype(np.uint8)
    peak = np.unravel_index(int(t.argmax()), target.shape)
    if not same[peak]:  # the peak unlike the rest of its own target: nothing to grow from but the peak
        region = np.zeros(target.shape, np.float32)
        region[peak] = 1.0
        return torch.from_numpy(region)
    _, labels = cv2.connectedComponents(same, connectivity=8)
    return torch.from_numpy((labels == labels[peak]).astype(np.float32))


@dataclass(frozen=True)
class LocateClip:
    """A training clip: its frame files in order, its verb and its product image (None where the data has none)."""

    frames: Sequence[str]
    verb: int
    image: Path | None = None


@dataclass
class ContactTargets:
    """The product images' features (N,C,h,w), soft targets (N,h,w) and verbs (N,), one per (image, verb);
    ``no_contact``: clips whose cue was empty (no change reaching the border), given the object map alone."""

    features: torch.Tensor
    targets: torch.Tensor
    verbs: torch.Tensor
    no_contact: int


def contact_targets(
    model: HotspotModel,
    clips: Sequence[LocateClip],
    cfg: LocateConfig,
    cue: Callable[[LocateClip, list[np.ndarray]], np.ndarray | None] | None = None,
) -> ContactTargets:
    """'contact': each clip's contact region times its first frame's object map, carried to its product image;
    averaged per (product image, verb) and scaled to a maximum of 1 (``cfg.extent`` 'grow': then grown to the
    part's extent on the product image, ``grow_extent``). ``cue(clip, frames)`` replaces
    ``training.contact.contact_region`` (diagnostics: ``scripts/probes/contact_probe.py`` gives the true part box)."""
    tf = EvalTransform(model.config.input_size, model.config.mean, model.config.std)
    image_x: dict[Path, torch.Tensor] = {}
    carried: dict[tuple[Path, int], list[torch.Tensor]] = {}
    no_contact = 0
    for clip in clips:
        if clip.image is None:
            raise ConfigError("locate method 'contact' needs each clip's product image (OPRA layout); use 'motion'")
        frames = [np.asarray(load_rgb(p)) for p in clip.frames]
        with torch.no_grad():
            x = model.features(tf(load_rgb(clip.frames[0]))[None])
            if clip.image not in image_x:
                image_x[clip.image] = model.features(tf(load_rgb(clip.image))[None])[0]
        found = contact_region(frames, cfg.contact) if cue is None else cue(clip, frames)
        if found is None:
            no_contact += 1
            where = torch.ones(x.shape[-2:])
        else:
            where = F.adaptive_avg_pool2d(torch.from_numpy(found).float()[None, None], x.shape[-2:])[0, 0]
        w = where * object_map(model, x)
        w = w / w.sum().clamp_min(1e-12)
        carried.setdefault((clip.image, clip.verb), []).append(
            carry_to_image(image_x[clip.image], x[0], w, cfg.match_temperature)
        )
    feats, targets, verbs = [], [], []
    for (image, verb), maps in carried.items():
        t = torch.stack(maps).mean(0)
        t = t / t.max().clamp_min(1e-12)
        if cfg.extent == "grow":
            t = grow_extent(image_x[image], t, cfg.grow_similarity)
        feats.append(image_x[image])
        targets.append(t)
        verbs.append(verb)
    return ContactTargets(torch.stack(feats), torch.stack(targets), torch.tensor(verbs), no_contact)


def fit_part_maps(data: ContactTargets, num_actions: int, cfg: LocateConfig) -> nn.Conv2d:
    """'contact': one logistic map per action (a 1x1 conv C -> A) on the product images' features; each
    (image, verb) target trains its verb's channel at every cell (positives weighted by the negative/positive
    ratio of the targets), full-batch Adam."""
    gen = torch.Generator().manual_seed(cfg.seed)
    x, t, v = data.features.float(), data.targets.float(), data.verbs
    linear = _seeded_linear(x.shape[1], num_actions, gen)
    positive = t.mean().clamp(1e-6, 1 - 1e-6)
    opt = torch.optim.Adam(linear.parameters(), lr=cfg.step_lr)
    cells = x.permute(0, 2, 3, 1)  # (N,h,w,C): the linear layer applied at every cell
    for _ in range(cfg.steps):
        logits = linear(cells)[torch.arange(len(v)), :, :, v]  # (N,h,w): each target's verb
        loss = F.binary_cross_entropy_with_logits(logits, t, pos_weight=(1 - positive) / positive)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return _part_head(linear, cfg.temperature)


def locate_model(
    model: HotspotModel,
    clips: Sequence[LocateClip],
    cfg: LocateConfig,
    cue: Callable[[LocateClip, list[np.ndarray]], np.ndarray | None] | None = None,
) -> HotspotModel:
    """A ``map_form: located`` copy of ``model`` whose part head is fitted on ``clips``. ``cue`` ('contact'
    only): where the hand touches in a clip, replacing the frame-difference cue (``contact_targets``; the
    demonstrations' recorded hand boxes, ``training.demonstrations.pipeline``)."""
    if model.config.map_form != "eq4":
        raise ConfigError(f"locate starts from an Eq. 4 model, got map_form {model.config.map_form!r}")
    if cfg.method == "contact":
        targets = contact_targets(model, clips, cfg, cue)
        if targets.no_contact:  # counted, not dropped: such a clip's object map stands in for the region
            log.warning(
                "locate: %d of %d clips had no contact cue (no change reaching the image border); their "
                "first frame's object map was used instead",
                targets.no_contact,
                len(clips),
            )
        head = fit_part_maps(targets, model.config.num_actions, cfg)
    else:
        tf = EvalTransform(model.config.input_size, model.config.mean, model.config.std)
        feats, verbs = [], []
        for clip in clips:
            f = pool_features(*clip_features_and_motion(model, tf, clip.frames, cfg.frames), cfg.power)
            feats.append(f)
            verbs += [clip.verb] * len(f)
        head = fit_part_head(torch.cat(feats), torch.tensor(verbs), model.config.num_actions, cfg)
    located = build_model(dataclasses.replace(model.config, map_form="located"))
    located.load_state_dict({**model.state_dict(), **{f"part_head.{k}": v for k, v in head.state_dict().items()}})
    return located.eval()


def training_clips(cfg: DatasetConfig) -> list[LocateClip]:
    """The training split's clips with their product images (OPRA; EPIC has none: ``image`` None)."""
    ds = build_clip_dataset(cfg, split="train", train=False)
    image = getattr(ds, "image_path", None)
    return [
        LocateClip(it.frames, it.verb, image(it.extra["image"]) if image and "image" in it.extra else None)
        for it in ds.items
    ]


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
        clips = training_clips(DatasetConfig(name=args.data_name, root=args.data_root))
        located = locate_model(model, clips, cfg)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _, extra = read_metadata(args.checkpoint)  # the source run's (method, epochs, seed, dataset) and ours
    save_checkpoint(located, args.out, extra={**extra, "located": dataclasses.asdict(cfg)})
    print(f"wrote {args.out} ({len(clips)} clips, {cfg})")
    return 0


if __name__ == "__main__":
    cli.run(main)
