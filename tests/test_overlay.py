"""The picture a person sees (hotspot_core.image: overlay, overlay_grid, label_placement), on real images with the
shipped demo model: blobs in the action's colour at the peak, labels by their peaks and never overlapping,
grid panels, contact sheets."""

from __future__ import annotations

import itertools
import os
import sys

import cv2
import numpy as np
import pytest

from hotspot_core.demo_model import demo_model_path
from hotspot_core.hotspots.checkpoint import load_model
from hotspot_core.image.boxes import Roi, pad_and_clamp
from hotspot_core.image.label_placement import LabelRequest, PlacementConfig, Rect, place_labels
from hotspot_core.image.overlay import (
    OKABE_ITO,
    ObjectMaps,
    OverlayConfig,
    OverlayPicture,
    Style,
    action_colour,
    chosen_actions,
    render_overlay,
)
from hotspot_core.image.overlay_grid import TileConfig, contact_sheet, render_grid
from hotspot_core.predictor import HotspotPredictor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crowded_scene import crowded_scene  # noqa: E402

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples", "demo")


@pytest.fixture(scope="module")
def predictor() -> HotspotPredictor:
    path = demo_model_path()
    assert path.is_file(), f"demo checkpoint missing: {path}"
    return HotspotPredictor(load_model(path), device="cpu")


def demo_frame(index: int) -> tuple[np.ndarray, list[tuple[str, Roi]]]:
    import json

    entry = json.load(open(os.path.join(SAMPLES, "detections.json")))["frames"][index]
    rgb = cv2.cvtColor(cv2.imread(os.path.join(SAMPLES, entry["file"])), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    return rgb, [(d["class_id"], pad_and_clamp(tuple(d["bbox"]), 0.1, w, h)) for d in entry["detections"]]


def predict(predictor: HotspotPredictor, rgb: np.ndarray, objects: list[tuple[str, Roi]]):
    return [(name, res) for (name, _), res in zip(objects, predictor.predict(rgb, [r for _, r in objects]))]


def assert_labels_apart_and_inside(pic: OverlayPicture, gap: int = 2) -> None:
    h, w = pic.image.shape[:2]
    rects = pic.label_rects + ([pic.legend] if pic.legend else [])
    assert all(r.inside(w, h) for r in rects), [r for r in rects if not r.inside(w, h)]
    for a, b in itertools.combinations(rects, 2):
        assert not a.intersects(b, gap), f"{a} and {b} overlap"


# ------------------------------------------------------------------------------------------ placement
def test_placement_keeps_labels_apart_inside_and_near_their_anchors():
    rng = np.random.default_rng(0)
    width, height = 320, 240
    # 40 labels whose anchors crowd into one corner, some of them right at the image edge.
    anchors = np.concatenate([rng.uniform(0, 80, (36, 2)), [[0, 0], [319.5, 239.5], [319.5, 0], [0, 239.5]]])
    requests = [LabelRequest((float(x), float(y)), int(rng.integers(30, 90)), 12) for x, y in anchors]
    legend = Rect(250, 5, 315, 60)
    cfg = PlacementConfig(clearance=4, gap=2, anchor_radius=3)
    rects = place_labels(requests, width, height, [legend], cfg)
    placed = [r for r in rects if r is not None]
    assert len(placed) == len(requests), "there is room for all of them"
    assert all(r.inside(width, height) for r in placed)
    for a, b in itertools.combinations(placed + [legend], 2):
        assert not a.intersects(b, cfg.gap)
    for req, r in zip(requests, rects):
        assert (r.width, r.height) == (req.width, req.height)
        assert r.distance_to(*req.anchor) >= cfg.clearance  # never on its own marker
    # No label hides another label's anchor (the peak marker) while there is room elsewhere.
    for (i, req), (j, r) in itertools.product(enumerate(requests), enumerate(rects)):
        assert i == j or r.distance_to(*req.anchor) >= cfg.anchor_radius
    # Looking near the anchor first is only a shortcut: a whole-image search for every label agrees.
    whole = place_labels(
        requests, width, height, [legend], PlacementConfig(clearance=4, gap=2, anchor_radius=3, near_labels=0.0)
    )
    assert whole == rects
    # Labels are as near as the crowd allows: a lone label far from the crowd is next to its anchor too.
    lone = place_labels(requests + [LabelRequest((200.0, 200.0), 40, 12)], width, height, [legend], cfg)[-1]
    assert lone is not None and lone.distance_to(200.0, 200.0) <= cfg.clearance * 1.5


def test_placement_keeps_labels_off_the_blobs_when_it_can():
    avoid = np.zeros((100, 160), bool)
    avoid[42:58, 72:88] = True  # a small blob around the anchor
    req = LabelRequest((80.0, 50.0), 40, 12)
    blob = Rect(72, 42, 88, 58)
    plain = place_labels([req], 160, 100)[0]
    assert plain.intersects(blob)  # the classic spot right by the anchor overlaps the blob
    kept_off = place_labels([req], 160, 100, avoid=avoid)[0]
    assert not kept_off.intersects(blob) and kept_off.distance_to(80.0, 50.0) <= 12


def test_placement_leaves_out_what_cannot_fit():
    # A label wider than the image, and a full image: None, never an overlapping or clipped rectangle.
    assert place_labels([LabelRequest((10.0, 10.0), 200, 10)], 100, 100) == [None]
    full = place_labels([LabelRequest((50.0, 2.0), 90, 60)] * 4, 100, 100)
    assert full[0] is not None and full[1:] == [None, None, None]


# ---------------------------------------------------------------------------------------- the overlay
def test_palette_is_okabe_ito_and_text_reads_on_every_colour():
    assert [action_colour(i) for i in range(7)] == list(OKABE_ITO)
    assert action_colour(7) == action_colour(0)  # cycled; labels name the action anyway
    # No two colours are near-duplicates (the old crimson/purple/magenta problem): distance in RGB.
    for a, b in itertools.combinations(OKABE_ITO, 2):
        assert np.linalg.norm(np.subtract(a, b)) > 60, (a, b)


# frame 9 (synthetic objects): the shipped model's blobs there are all about marker-sized, so no blended
# pixel is left to check -- the blend is checked on frame 0 and, pixel by pixel, on hand-made large blobs.
@pytest.mark.parametrize("frame, min_checked", [(0, 1), (9, 0)])
def test_blob_in_the_action_colour_at_the_peak_and_label_beside_it(predictor, frame, min_checked):
    rgb, objects = demo_frame(frame)
    results = predict(predictor, rgb, objects)
    config = OverlayConfig()  # the shipped defaults
    pic = render_overlay(rgb, results, predictor.actions, config)
    style = Style.for_image(config, *rgb.shape[:2])
    assert pic.image.shape == rgb.shape and pic.image.dtype == np.uint8
    assert len(pic.hotspots) == len(objects) == config.top_k * len(objects)
    assert_labels_apart_and_inside(pic)
    covered = np.zeros(rgb.shape[:2], bool)  # labels, legend and markers are drawn over the blobs
    for r in pic.label_rects + ([pic.legend] if pic.legend else []):
        covered[r.y0 : r.y1, r.x0 : r.x1] = True
    for h in pic.hotspots:
        x, y = h.peak
        m = style.marker + 3  # the marker and its anti-aliased rim
        covered[max(0, y - m) : y + m + 1, max(0, x - m) : x + m + 1] = True
    checked = 0
    for h in pic.hotspots:
        name, res = results[h.object_index]
        # The object's most likely action (among those with maps) is the one drawn.
        assert h.action == chosen_actions(res, 1)[0][1] == int(np.argmax(res.scores))
        assert h.text == f"{name}: {predictor.actions[h.action]} {h.score:.0%}"
        # The peak is the map's peak, and lies in the blob.
        assert h.mask[h.peak[1] - h.roi.y0, h.peak[0] - h.roi.x0]
        k = list(res.action_indices).index(h.action)
        published = res.peaks[k, :2]  # what the planner gets (HotspotArray peak), in the same pixel cell
        assert np.hypot(*(np.array(h.peak) + 0.5 - published)) <= max(h.roi.width, h.roi.height) / res.maps.shape[-1]
        # Inside the blob, away from its outline and from whatever is drawn over it, each pixel is the
        # image blended with the action's colour: check those nearest the peak.
        full = np.zeros(rgb.shape[:2], bool)
        full[h.roi.y0 : h.roi.y1, h.roi.x0 : h.roi.x1] = h.mask
        outlines = np.zeros(rgb.shape[:2], np.uint8)
        for other in pic.hotspots:
            if other is not h:
                full[other.roi.y0 : other.roi.y1, other.roi.x0 : other.roi.x1] &= ~other.mask
            contours, _ = cv2.findContours(
                other.mask.astype(np.uint8),
                cv2.RETR_EXTERNAL,
                cv2.CHAIN_APPROX_SIMPLE,
                offset=(other.roi.x0, other.roi.y0),
            )
            cv2.polylines(outlines, contours, True, 1, style.line + 6)
            if other.label is not None:  # its leader line, if it has one
                cv2.line(outlines, other.peak, other.label.nearest_point(*other.peak), 1, style.line + 4)
            cv2.rectangle(outlines, (other.roi.x0, other.roi.y0), (other.roi.x1 - 1, other.roi.y1 - 1), 1, 3)
        full &= outlines == 0
        # (A blob no larger than its own marker and outline has no such pixel; the frame as a whole must.)
        ys, xs = np.nonzero(full & ~covered)
        checked += min(len(ys), 50)
        near = np.argsort(np.hypot(xs - h.peak[0], ys - h.peak[1]))[:50]
        colour = np.array(action_colour(h.action), np.float32)
        expected = rgb[ys[near], xs[near]].astype(np.float32) * (1 - config.fill_alpha) + colour * config.fill_alpha
        bad = np.abs(pic.image[ys[near], xs[near]].astype(np.float32) - expected).max(-1) > 2
        assert not bad.any(), (h.peak, list(zip(xs[near][bad], ys[near][bad])))
        # The peak marker's centre is in the action's colour; the label is filled with it and sits by the peak.
        assert tuple(pic.image[h.peak[1], h.peak[0]]) == action_colour(h.action)
        assert h.label is not None
        # Beside the blob, not on it: no farther from the peak than the blob reaches, plus a line of text.
        by, bx = np.nonzero(h.mask)
        reach = np.hypot(bx + h.roi.x0 - h.peak[0], by + h.roi.y0 - h.peak[1]).max()
        assert h.label.distance_to(*h.peak) <= reach + style.text_px, "label not by its peak (uncrowded)"
        on_blob = h.mask[
            max(0, h.label.y0 - h.roi.y0) : max(0, h.label.y1 - h.roi.y0),
            max(0, h.label.x0 - h.roi.x0) : max(0, h.label.x1 - h.roi.x0),
        ]
        assert on_blob.sum() <= 0.05 * h.mask.sum(), "the label hides its own blob"
        corner = pic.image[h.label.y0 + 1 : h.label.y0 + 3, h.label.x0 + 1 : h.label.x0 + 3].reshape(-1, 3)
        assert all(tuple(p) == action_colour(h.action) for p in corner)
    # The shipped (located) model's blobs are small: some blended pixels where the frame has any; a large
    # blob's blending is checked pixel by pixel in test_flat_and_empty_maps_draw_no_blob_and_boxes_stay_in_their_roi.
    assert checked >= min_checked
    # Outside every box (its 1-px anti-aliased outline), label and legend the image is only dimmed: blob
    # outlines stay inside their box.
    untouched = np.ones(rgb.shape[:2], bool) & ~covered
    m = 2
    for h in pic.hotspots:
        untouched[max(0, h.roi.y0 - m) : h.roi.y1 + m, max(0, h.roi.x0 - m) : h.roi.x1 + m] = False
    ys, xs = np.nonzero(untouched)
    if len(ys):
        expected = rgb[ys, xs].astype(np.float32) * (1 - config.dim_background)
        assert np.abs(pic.image[ys, xs].astype(np.float32) - expected).max() <= 1


def test_top_k_draws_that_many_actions_per_object_most_likely_first(predictor):
    rgb, objects = demo_frame(0)
    results = predict(predictor, rgb, objects)
    pic = render_overlay(rgb, results, predictor.actions, OverlayConfig(top_k=3))
    assert len(pic.hotspots) == 3 * len(objects)
    assert_labels_apart_and_inside(pic)
    for i, (_, res) in enumerate(results):
        drawn = [h.action for h in pic.hotspots if h.object_index == i]
        assert drawn == [int(a) for a in np.argsort(-res.scores, kind="stable")[:3]]
    legend_actions = {h.action for h in pic.hotspots}
    # The legend lists exactly the drawn actions: one swatch row per action.
    style = Style.for_image(OverlayConfig(), *rgb.shape[:2])
    assert pic.legend is not None
    assert pic.legend.height == len(legend_actions) * (style.text_px + 2 * style.padding) + 2 * style.padding


@pytest.mark.parametrize("rows,cols,top_k", [(3, 4, 1), (4, 5, 3)])
def test_crowded_scene_labels_never_overlap_nor_leave_the_image(predictor, rows, cols, top_k):
    rgb, objects = crowded_scene(rows, cols)
    h, w = rgb.shape[:2]
    boxed = [(name, pad_and_clamp(box, 0.1, w, h)) for name, box in objects]

    def overlap(a: Roi, b: Roi) -> bool:
        return a.x1 > b.x0 and b.x1 > a.x0 and a.y1 > b.y0 and b.y1 > a.y0

    assert all(any(overlap(a, b) for _, b in boxed if b is not a) for _, a in boxed), "the scene is not crowded"
    pic = render_overlay(rgb, predict(predictor, rgb, boxed), predictor.actions, OverlayConfig(top_k=top_k))
    assert len(pic.hotspots) == top_k * rows * cols
    assert_labels_apart_and_inside(pic)
    labelled = sum(x.label is not None for x in pic.hotspots)
    if top_k == 1:
        assert labelled == rows * cols, "twelve labels fit a 640x480 frame"
    else:  # 60 labels do not all fit: the most likely action of every object is labelled before any other
        assert labelled >= rows * cols
        firsts = [next(x for x in pic.hotspots if x.object_index == i) for i in range(rows * cols)]
        assert all(x.label is not None for x in firsts)


def test_flat_and_empty_maps_draw_no_blob_and_boxes_stay_in_their_roi():
    img = np.full((60, 80, 3), 100, np.uint8)
    maps = np.zeros((2, 4, 4), np.float32)
    maps[1] = 1.0  # flat: the whole box is the blob
    scores = np.array([0.1, 0.0, 0.0, 0.9])
    roi = Roi(20, 20, 50, 50)
    pic = render_overlay(
        img, [("box", ObjectMaps(roi, scores, np.array([0, 3]), maps))], ["a", "b", "c", "d"], OverlayConfig(top_k=0)
    )
    assert [h.action for h in pic.hotspots] == [3]  # the all-zero map of action 0 has no part to show
    assert pic.hotspots[0].mask.all()
    blend = 100 * (1 - OverlayConfig.fill_alpha) + np.array(action_colour(3)) * OverlayConfig.fill_alpha
    spot, label = pic.hotspots[0], pic.hotspots[0].label
    free = np.zeros((60, 80), bool)
    free[24:46, 24:46] = True  # inside the box, off its outline
    # OpenCV 4.x's Hershey text is ~25 % wider than 5.x's: in 80 px the label has no room (the legend names
    # the action) and the wider legend reaches into the box
    for rect in (label, pic.legend):
        if rect is not None:
            free[rect.y0 : rect.y1, rect.x0 : rect.x1] = False
    yy, xx = np.mgrid[:60, :80]
    free &= np.hypot(xx - spot.peak[0], yy - spot.peak[1]) > 10  # off the peak marker
    assert free.sum() > 20
    assert np.abs(pic.image[free].astype(float) - blend).max() <= 1
    assert tuple(pic.image[5, 78]) == (65, 65, 65)  # outside: dimmed by 35 %


# ------------------------------------------------------------------------------------------- the grid
def test_grid_has_one_panel_per_action_with_its_peak_marked(predictor):
    rgb, objects = demo_frame(0)
    name, res = predict(predictor, rgb, objects[:1])[0]
    grid = render_grid(rgb, res, predictor.actions)
    assert len(grid.tiles) == len(predictor.actions) == 7 and grid.keys == list(range(7))
    gh, gw = grid.image.shape[:2]
    assert all(t.inside(gw, gh) for t in grid.tiles)
    assert not any(a.intersects(b) for a, b in itertools.combinations(grid.tiles, 2))
    for tile, a in zip(grid.tiles, grid.keys):
        k = list(res.action_indices).index(a)
        up = cv2.resize(res.maps[k], (tile.width, tile.height), interpolation=cv2.INTER_LINEAR)
        r, c = np.unravel_index(int(np.argmax(up)), up.shape)
        assert tuple(grid.image[tile.y0 + r, tile.x0 + c]) == action_colour(a)
        # The header strip above the panel is in the action's colour.
        assert tuple(grid.image[tile.y0 - 2, tile.x1 - 3]) == action_colour(a)
    # Only the actions that have maps get panels (a predictor with top_k computes fewer).
    top3 = HotspotPredictor(predictor.model, device="cpu", top_k=3)
    res3 = top3.predict(rgb, [objects[0][1]])[0]
    grid3 = render_grid(rgb, res3, predictor.actions)
    assert sorted(grid3.keys) == grid3.keys and set(grid3.keys) == set(int(a) for a in res3.action_indices)
    assert len(grid3.tiles) == 3


def test_contact_sheet_has_one_tile_per_frame_in_order():
    paths = [os.path.join(SAMPLES, f"frame_{i:03d}.jpg") for i in range(18)]
    frames = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths]
    assert len({f.shape for f in frames}) == 2  # the photo (3:2) and the table-top scenes (4:3)
    config = TileConfig(tile_px=120, columns=6)
    sheet = contact_sheet(frames, [str(i) for i in range(18)], config)
    assert len(sheet.tiles) == 18 and sheet.keys == list(range(18))
    h, w = sheet.image.shape[:2]
    assert all(t.inside(w, h) for t in sheet.tiles)
    assert not any(a.intersects(b) for a, b in itertools.combinations(sheet.tiles, 2))
    centres = [((t.x0 + t.x1) / 2, (t.y0 + t.y1) / 2) for t in sheet.tiles]
    for row in range(3):  # six per row, left to right, centred in their cells
        cy = [c[1] for c in centres[6 * row : 6 * row + 6]]
        assert max(cy) - min(cy) <= 1
        assert all(a[0] < b[0] for a, b in zip(centres[6 * row : 6 * row + 5], centres[6 * row + 1 : 6 * row + 6]))
    assert centres[6][1] > centres[5][1] + 50 and centres[12][1] > centres[11][1] + 50
    for frame, tile in zip(frames, sheet.tiles):
        assert max(tile.width, tile.height) == 120
        assert abs(tile.width / tile.height - frame.shape[1] / frame.shape[0]) < 0.02  # not squashed
        small = cv2.resize(frame, (tile.width, tile.height), interpolation=cv2.INTER_AREA).astype(int)
        got = sheet.image[tile.y0 : tile.y1, tile.x0 : tile.x1].astype(int)
        assert np.abs(got - small).mean() < 1.0
    with pytest.raises(ValueError):
        contact_sheet([])
