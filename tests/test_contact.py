"""The contact cue and feature correspondence of training.locate's 'contact' fit, on hand-made frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from hotspot_core.errors import ConfigError
from training.contact import ContactConfig, contact_cue, contact_region, geodesic_distance
from training.locate import LocateConfig, carry_to_image, grow_extent

SIZE = 128  # frames drawn at the cue's own size: pixel positions are the cue's


def scene(arm_to: int | None, object_dx: int = 0, object_dy: int = 0) -> np.ndarray:
    """A grey table with a red box (the object, shifted by ``object_dx``, ``object_dy``) and, when ``arm_to``
    is set, a skin-coloured arm from the left border to column ``arm_to`` at row 64."""
    img = np.full((SIZE, SIZE, 3), 120, np.uint8)
    cv2.rectangle(img, (70 + object_dx, 40 + object_dy), (110 + object_dx, 90 + object_dy), (200, 40, 40), -1)
    if arm_to is not None:
        cv2.rectangle(img, (0, 58), (arm_to, 70), (230, 180, 150), -1)
    return img


def test_the_cue_peaks_at_the_hand_on_arrival_not_at_a_shifted_object_edge():
    # The arm reaches the object's left side (column 74) at frame 3 and stays; then the object is nudged
    # 2 px to the right: thin changes along its left edge, joined to the arm, that would lead the reach 25 px
    # up and down the edge if the opening did not remove them.
    frames = [scene(None), scene(20), scene(50), scene(74), scene(74, object_dx=2), scene(74, object_dx=2)]
    cue = contact_cue(frames, ContactConfig())
    assert cue is not None and cue.shape == (SIZE, SIZE) and cue.max() == 1.0
    r, c = np.unravel_index(np.argmax(cue), cue.shape)
    assert 58 <= r <= 70 and 68 <= c <= 74, (r, c)  # the tip of the arm, on the object's edge
    assert cue[30:40].max() == 0 and cue[95:].max() == 0  # nothing at the object's top/bottom edges


def test_the_contact_frame_is_the_arrival_before_the_hand_moves_on():
    # The arm arrives at column 74 (frame 2) and later pushes on to 78 (more than 0.9 of the final reach,
    # so the arrival frame is the first to count) -- then a cue from the first frame that reaches 0.9.
    frames = [scene(None), scene(40), scene(74), scene(74), scene(78)]
    r, c = np.unravel_index(np.argmax(contact_cue(frames, ContactConfig())), (SIZE, SIZE))
    assert 68 <= c <= 74, c
    frames = [scene(None), scene(40), scene(60), scene(100)]  # 60 < 0.9 * 100: the last frame
    r, c = np.unravel_index(np.argmax(contact_cue(frames, ContactConfig())), (SIZE, SIZE))
    assert c >= 94, c


def test_the_contact_region_is_a_disc_at_the_cue_peak():
    frames = [scene(None), scene(20), scene(50), scene(74)]
    r, c = np.unravel_index(np.argmax(contact_cue(frames, ContactConfig())), (SIZE, SIZE))
    region = contact_region(frames, ContactConfig(tip_radius=10))
    assert region.dtype == np.float32 and set(np.unique(region)) == {0.0, 1.0}
    ys, xs = np.nonzero(region)
    assert ys.min() == r - 10 and ys.max() == r + 10 and xs.min() == c - 10 and xs.max() == min(c + 10, SIZE - 1)
    assert region.sum() == pytest.approx(np.pi * 100, rel=0.1)
    assert np.array_equal(contact_region(frames, ContactConfig(tip_radius=0)), contact_cue(frames, ContactConfig()))
    assert contact_region([scene(None)] * 3, ContactConfig()) is None


def test_a_still_clip_or_a_change_away_from_the_border_has_no_cue():
    assert contact_cue([scene(None)] * 4, ContactConfig()) is None
    assert contact_cue([scene(None)], ContactConfig()) is None
    moved = [scene(None), scene(None, object_dy=20)]  # a filled change, but not reaching the border
    assert contact_cue(moved, ContactConfig()) is None


def test_geodesic_distance_follows_the_mask():
    mask = np.zeros((5, 7), bool)
    mask[0, :] = True  # a corridor along the top, then down the right-hand column
    mask[:, 6] = True
    seeds = np.zeros_like(mask)
    seeds[0, 0] = True
    d = geodesic_distance(mask, seeds)
    # 8-connected steps along the corridor (9), not straight across (6)
    assert d[0, 0] == 0 and d[0, 6] == 6 and d[4, 6] == 9
    assert (d[~mask] == -1).all()
    assert (geodesic_distance(mask, np.zeros_like(mask)) == -1).all()


def test_carry_to_image_moves_weight_to_the_matching_cells():
    torch.manual_seed(0)
    frame = torch.randn(16, 4, 4)
    image = frame.flip(2)  # the same object, mirrored: cell (r, c) of the frame is (r, 3 - c) of the image
    w = torch.zeros(4, 4)
    w[1, 0] = 1.0
    out = carry_to_image(image, frame, w, temperature=0.05)
    assert out.shape == (4, 4) and torch.isclose(out.sum(), torch.tensor(1.0))
    assert out.argmax() == 1 * 4 + 3 and out[1, 3] > 0.9


def test_locate_config_rejects_bad_values():
    bad_values = ({"method": "boxes"}, {"reach": 0.0}, {"opening": 0}, {"arm_tolerance": -1.0}, {"tip_radius": -1})
    bad_values = (*bad_values, {"steps": 0})
    bad_values = (*bad_values, {"extent": "box"}, {"grow_similarity": 1.0}, {"grow_similarity": -1.0})
    for bad in (*bad_values, {"match_temperature": 0.0}):
        with pytest.raises(ConfigError):
            LocateConfig(**bad)


def test_the_arm_colour_keeps_a_lifted_object_from_being_taken_for_the_hand():
    # The hand arrives at the object (column 74) and then lifts it by 20 and 30 px: the moved object is a
    # filled change joined to the arm, which the opening keeps; the arm's colour test drops it.
    frames = [scene(None), scene(40), scene(74), scene(74, object_dy=-20), scene(74, object_dy=-30)]
    r, c = np.unravel_index(np.argmax(contact_cue(frames, ContactConfig())), (SIZE, SIZE))
    assert 58 <= r <= 70 and 68 <= c <= 74, (r, c)
    r, c = np.unravel_index(np.argmax(contact_cue(frames, ContactConfig(arm_tolerance=0))), (SIZE, SIZE))
    assert not (58 <= r <= 70 and 68 <= c <= 74), (r, c)  # without it, the reach runs on into the object


def product_features() -> torch.Tensor:
    """(8,10,10) cell features of a hand-made product image: background, a body (rows 3-8, columns 1-5) and a
    handle bar (rows 4-5, columns 6-9) each drawn alike (one direction plus small noise), and a patch of
    the handle's look away from it (rows 0-1, columns 0-1: a distractor of the same colour)."""
    gen = torch.Generator().manual_seed(0)
    looks = torch.eye(8)[:3] * 3  # background, body, handle: orthogonal directions
    kind = torch.zeros(10, 10, dtype=torch.long)
    kind[3:9, 1:6] = 1
    kind[4:6, 6:10] = 2
    kind[0:2, 0:2] = 2
    return looks[kind].permute(2, 0, 1) + 0.3 * torch.randn(8, 10, 10, generator=gen)


def test_grow_extent_covers_the_part_the_contact_touches_and_nothing_else():
    x = product_features()
    target = torch.zeros(10, 10)  # the carried contact: a blob at the handle's far end, spilling onto the body
    target[4, 9], target[5, 9], target[4, 8], target[5, 5] = 1.0, 0.8, 0.6, 0.3
    region = grow_extent(x, target, similarity=0.8)
    handle = torch.zeros(10, 10)
    handle[4:6, 6:10] = 1
    assert torch.equal(region, handle)  # the whole bar, not the body cell, not the look-alike patch
    # with no similarity test the region is every 8-connected cell of the image
    assert torch.equal(grow_extent(x, target, similarity=-0.99), torch.ones(10, 10))


def test_grow_extent_keeps_only_the_peak_when_the_peak_is_unlike_its_target():
    x = product_features()
    target = torch.zeros(10, 10)
    target[4, 9] = 1.0  # the peak, on the handle
    target[3:9, 1:6] = 0.9  # most of the target's weight on the body: the prototype is the body's look
    region = grow_extent(x, target, similarity=0.8)
    assert region.sum() == 1 and region[4, 9] == 1
