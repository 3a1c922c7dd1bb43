"""Where a clip's hand meets the object: the contact cue of ``training.locate`` (ours, not the paper's; issue 11).

Weak supervision only (the clip's frames; no hand detector, boxes or points). A hand enters the view from
the image border and stops on the part its action needs; then the part or the whole object may move. So:

1. *changed regions*: each frame against the clip's first frame (the object at rest, no hand), grey-level
   change above ``threshold``, then a morphological opening of ``opening`` px, which keeps filled blobs (the
   arm and hand) and removes thin changes (the edges of an object that shifts by a few pixels);
2. *the arm*: the median colour of the changed pixels within ``border_band`` px of the image border (where
   the arm enters the view); only the changed pixels within ``arm_tolerance`` of it (largest difference
   over the colour channels) are kept -- so a lifted object or a pulled drawer, of other colours, is not
   taken for the hand (``arm_tolerance`` 0: keep the whole changed region);
3. *reach*: the geodesic distance, inside the arm, from the image border -- the hand's tip is the arm's
   pixel farthest from the border along it;
4. *contact frame*: the first frame whose largest reach is at least ``reach`` of the clip's largest, i.e.
   the moment the hand arrives, before a pulled part or a lifted object has moved away from where it rests;
   its reach map, divided by its maximum, is the cue (largest at the tip);
5. *the contact region* (``contact_region``, what ``training.locate`` uses): a disc of ``tip_radius`` px
   around the cue's peak -- where the hand touches, not the arm that brought it there.

How often its peak lies on the action's part, against the plain frame difference, is
measured in docs/training.md ("The fix, second step").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hotspot_core.errors import ConfigError

__all__ = [
    "ContactConfig",
    "resized",
    "changed_regions",
    "arm_region",
    "geodesic_distance",
    "contact_cue",
    "contact_region",
]


@dataclass(frozen=True)
class ContactConfig:
    """size: frames are compared at size x size; threshold: grey-level change (0-255, mean over colour
    channels) that counts as changed; opening: the opening's disc diameter in px at ``size``; border_band,
    arm_tolerance: the arm's colour is sampled within border_band px of the border and kept within
    arm_tolerance (0-255; 0: no colour test); reach: the contact frame's share of the clip's largest reach;
    tip_radius: the contact region's radius in px at ``size`` (0: the whole reach map)."""

    size: int = 128
    threshold: float = 20.0
    opening: int = 9
    border_band: int = 3
    arm_tolerance: float = 40.0
    reach: float = 0.9
    tip_radius: int = 16

    def __post_init__(self) -> None:
        if self.size < 8 or self.opening < 1 or self.border_band < 1 or self.threshold <= 0:
            raise ConfigError("contact cue: size >= 8, opening >= 1, border_band >= 1 and threshold > 0 are required")
        if not 0 < self.reach <= 1 or self.arm_tolerance < 0 or self.tip_radius < 0:
            raise ConfigError("contact cue: 0 < reach <= 1, arm_tolerance >= 0 and tip_radius >= 0 are required")


def resized(frames: Sequence[np.ndarray], cfg: ContactConfig) -> list[np.ndarray]:
    """The frames (H,W,3 uint8) at ``cfg.size`` x ``cfg.size``, float32 (area interpolation)."""
    return [cv2.resize(f, (cfg.size, cfg.size), interpolation=cv2.INTER_AREA).astype(np.float32) for f in frames]


def changed_regions(small: Sequence[np.ndarray], cfg: ContactConfig) -> list[np.ndarray]:
    """Boolean (size, size) masks of where each of ``small[1:]`` differs from ``small[0]`` (frames already
    at ``cfg.size``, float32 H,W,3: ``resized``)."""
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (cfg.opening, cfg.opening))
    out = []
    for f in small[1:]:
        changed = (np.abs(f - small[0]).mean(2) > cfg.threshold).astype(np.uint8)
        out.append(cv2.morphologyEx(changed, cv2.MORPH_OPEN, disc).astype(bool))
    return out


def arm_region(frame: np.ndarray, changed: np.ndarray, cfg: ContactConfig) -> np.ndarray:
    """The part of ``changed`` (a mask of ``frame``, both at ``cfg.size``) that has the colour of the arm
    where it enters the view; ``changed`` itself when fewer than 3 changed pixels touch the border band or
    the colour test is off."""
    band = np.ones_like(changed)
    b = cfg.border_band
    band[b:-b, b:-b] = False
    entry = changed & band
    if cfg.arm_tolerance <= 0 or entry.sum() < 3:
        return changed
    frame = frame.astype(np.float32)
    arm = np.median(frame[entry], axis=0)
    same = (changed & (np.abs(frame - arm).max(2) < cfg.arm_tolerance)).astype(np.uint8)
    # the arm's outline is a darker shade: a small opening drops its stray pixels
    return cv2.morphologyEx(same, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))).astype(bool)


def geodesic_distance(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Steps of 8-connected growth inside ``mask`` from ``seeds & mask`` (int32; -1 where not reached)."""
    dist = np.full(mask.shape, -1, np.int32)
    reached = seeds & mask
    dist[reached] = 0
    front, step, ring = reached, 0, np.ones((3, 3), np.uint8)
    while front.any():
        step += 1
        front = cv2.dilate(reached.astype(np.uint8), ring).astype(bool) & mask & ~reached
        dist[front] = step
        reached |= front
    return dist


def contact_cue(frames: Sequence[np.ndarray], cfg: ContactConfig) -> np.ndarray | None:
    """(size, size) float32 in [0, 1], largest where the hand touches the object at the contact frame; None
    when no changed region reaches the image border (a still clip, or no arm in view)."""
    if len(frames) < 2:
        return None
    border = np.zeros((cfg.size, cfg.size), bool)
    border[[0, -1], :] = border[:, [0, -1]] = True
    small = resized(frames, cfg)
    arms = [arm_region(f, m, cfg) for f, m in zip(small[1:], changed_regions(small, cfg))]
    reaches = [geodesic_distance(m, border) for m in arms]
    extent = np.array([r.max() for r in reaches])
    if extent.max() <= 0:
        return None
    contact = int(np.flatnonzero(extent >= cfg.reach * extent.max())[0])
    reach = reaches[contact].clip(min=0).astype(np.float32)
    return reach / reach.max()


def contact_region(frames: Sequence[np.ndarray], cfg: ContactConfig) -> np.ndarray | None:
    """(size, size) float32: 1 within ``tip_radius`` px of the contact cue's peak, else 0 (``tip_radius`` 0:
    the cue itself); None where ``contact_cue`` is None."""
    cue = contact_cue(frames, cfg)
    if cue is None or cfg.tip_radius == 0:
        return cue
    r, c = np.unravel_index(np.argmax(cue), cue.shape)
    yy, xx = np.mgrid[0 : cfg.size, 0 : cfg.size]
    return (((yy - r) ** 2 + (xx - c) ** 2) <= cfg.tip_radius**2).astype(np.float32)
