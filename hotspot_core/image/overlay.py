"""The picture a person sees: where to touch each object for its most likely action.

One renderer serves the node's overlay topic, ``training.visualise`` and the demo. Per object it draws the
top action (or the top ``k``) as a filled, contoured blob in that action's colour: the connected region of
the action's map at or above ``level`` of its maximum that holds the peak, i.e. the part to touch. The peak
is marked and labelled ("cup: hold 41%"); labels and the legend are placed so that none overlaps another
or leaves the image (``label_placement``). Colours are the Okabe-Ito palette, told apart under the common
colour-vision deficiencies, and every blob is named in words as well, so colour is never the only cue.

For inspecting all of one object's maps, see ``overlay_grid.render_grid``; planners read the maps
themselves (HotspotArray), this picture is for people only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from hotspot_core.image.boxes import Roi
from hotspot_core.image.label_placement import LabelRequest, PlacementConfig, Rect, place_labels
from hotspot_core.image.postprocess import peaks_in_image, upsample

__all__ = [
    "OKABE_ITO",
    "ACTION_COLOURS",
    "action_colour",
    "text_colour_on",
    "OverlayConfig",
    "Style",
    "HotspotResult",
    "ObjectMaps",
    "DrawnHotspot",
    "OverlayPicture",
    "chosen_actions",
    "blob_mask",
    "draw_marker",
    "text_box_size",
    "draw_text_box",
    "legend_size",
    "draw_legend_box",
    "label_text",
    "render_overlay",
    "FONT",
    "RGB",
]

RGB = tuple[int, int, int]

# Okabe & Ito (2008), "Color Universal Design", without its black: distinct for protan, deutan and tritan
# viewers; reddish purple is the only purple, so there is no crimson/purple/magenta triple to confuse.
OKABE_ITO: tuple[RGB, ...] = (
    (0, 114, 178),  # blue
    (230, 159, 0),  # orange
    (0, 158, 115),  # bluish green
    (204, 121, 167),  # reddish purple
    (86, 180, 233),  # sky blue
    (213, 94, 0),  # vermillion
    (240, 228, 66),  # yellow
)
ACTION_COLOURS = OKABE_ITO

# ITU-R BT.709 luma weights: which text colour (black or white) reads on a filled label.
_LUMA = (0.2126, 0.7152, 0.0722)


def action_colour(index: int, palette: Sequence[RGB] = OKABE_ITO) -> RGB:
    """The colour of action ``index`` (cycled beyond the palette; the label names it anyway)."""
    return tuple(palette[index % len(palette)])  # type: ignore[return-value]


def text_colour_on(fill: RGB, light_above: float = 140.0) -> RGB:
    """Black on light fills, white on dark ones."""
    return (0, 0, 0) if sum(w * c for w, c in zip(_LUMA, fill)) > light_above else (255, 255, 255)


@dataclass(frozen=True)
class OverlayConfig:
    """Options of the overlay picture. Sizes in "em" are multiples of the text height, which follows the
    image size (``text_fraction`` of its shorter side, at least ``min_text_px``), so a 1080p frame and a
    256 px panel look alike."""

    top_k: int = 1  # actions drawn per object, most likely first (0: every action that has a map)
    level: float = 0.5  # blob contour: this fraction of the action map's maximum
    fill_alpha: float = 0.5  # opacity of the blob fill
    dim_background: float = 0.35  # darken the image outside the blobs by this much (0: off)
    show_scores: bool = True  # "hold 41%": the action's probability in the label
    show_object_names: bool = True  # "cup: hold": say which object a blob belongs to
    show_boxes: bool = True
    show_legend: bool = True
    text_fraction: float = 0.022
    min_text_px: int = 11
    marker_em: float = 0.45  # peak marker radius
    line_em: float = 0.15  # contour and leader line width
    padding_em: float = 0.3  # space around label text
    leader_min_em: float = 1.0  # a label farther than this from its peak gets a leader line
    stroke_every_px: int = 16  # text strokes get 1 px thicker per this many px of text height
    label_gap_px: int = 2  # least space between two labels, or a label and the legend
    label_avoid_cost: float = 0.5  # px a label would rather move than cover one more blob pixel
    palette: tuple[RGB, ...] = OKABE_ITO
    outline: RGB = (0, 0, 0)  # halo behind lines and markers, so they read on any background
    box_colour: RGB = (235, 235, 235)
    legend_fill: RGB = (32, 32, 32)
    legend_text: RGB = (255, 255, 255)
    legend_alpha: float = 0.8

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        for name in ("level", "fill_alpha", "dim_background", "legend_alpha"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")
        if not 0.0 < self.text_fraction <= 0.5 or self.min_text_px < 6 or self.stroke_every_px < 1:
            raise ValueError("text_fraction must be in (0, 0.5], min_text_px >= 6 and stroke_every_px >= 1")
        if self.label_gap_px < 0 or self.label_avoid_cost < 0:
            raise ValueError("label_gap_px and label_avoid_cost must be >= 0")
        if not self.palette:
            raise ValueError("palette must not be empty")


@dataclass(frozen=True)
class Style:
    """Pixel sizes derived from an ``OverlayConfig`` for one image size."""

    text_px: int
    font_scale: float
    thickness: int
    marker: int
    line: int
    padding: int

    @classmethod
    def for_image(cls, config: OverlayConfig, height: int, width: int) -> Style:
        text_px = max(config.min_text_px, int(round(config.text_fraction * min(height, width))))
        thickness = max(1, text_px // config.stroke_every_px)
        scale = cv2.getFontScaleFromHeight(FONT, text_px, thickness)
        return cls(
            text_px,
            scale,
            thickness,
            max(2, round(config.marker_em * text_px)),
            max(1, round(config.line_em * text_px)),
            max(1, round(config.padding_em * text_px)),
        )


FONT = cv2.FONT_HERSHEY_SIMPLEX


class HotspotResult(Protocol):
    """What the renderer reads from a prediction (``hotspot_core.predictor.ObjectHotspots`` has it)."""

    roi: Roi
    scores: np.ndarray  # (A,) action probabilities
    action_indices: np.ndarray  # (K,) actions that have maps
    maps: np.ndarray  # (K,h,w) max-normalised


@dataclass
class ObjectMaps:
    """A ``HotspotResult`` for callers that compute maps without the predictor (``training.visualise``)."""

    roi: Roi
    scores: np.ndarray
    action_indices: np.ndarray
    maps: np.ndarray


@dataclass
class DrawnHotspot:
    """One blob as drawn: which object and action, its peak (x, y) and mask (in image pixels), its label."""

    object_index: int
    action: int
    score: float
    peak: tuple[int, int]
    roi: Roi
    mask: np.ndarray  # (roi.height, roi.width) bool: the filled region inside the object's box
    text: str
    label: Rect | None = None  # None: no room anywhere for the label (it is in the legend still)


@dataclass
class OverlayPicture:
    image: np.ndarray  # (H,W,3) uint8 RGB
    hotspots: list[DrawnHotspot] = field(default_factory=list)
    legend: Rect | None = None

    @property
    def label_rects(self) -> list[Rect]:
        return [h.label for h in self.hotspots if h.label is not None]


def chosen_actions(result: HotspotResult, top_k: int) -> list[tuple[int, int]]:
    """(map row, action index) of the ``top_k`` most likely actions that have maps, most likely first."""
    idx = np.asarray(result.action_indices, dtype=np.int64)
    order = np.argsort(-np.asarray(result.scores, dtype=np.float64)[idx], kind="stable")
    if top_k:
        order = order[:top_k]
    return [(int(k), int(idx[k])) for k in order]


def blob_mask(map2d: np.ndarray, height: int, width: int, level: float) -> tuple[np.ndarray, tuple[int, int]] | None:
    """(mask, (x, y) peak) of the (h,w) map ``map2d`` drawn over a height x width box: the region of the
    upsampled map at or above ``level`` x max that holds the peak; None when flat 0. The peak is the one
    the planner gets (``postprocess.peaks_in_image``, the same function), so marker and message agree even
    where a map has two near-equal maxima."""
    map_up = upsample(map2d, height, width)
    peak_value = float(map_up.max()) if map_up.size else 0.0
    if peak_value <= 0.0:
        return None
    u, v, _ = peaks_in_image(np.asarray(map2d, np.float32)[None], Roi(0, 0, width, height))[0]
    c, r = min(int(u), width - 1), min(int(v), height - 1)
    above = (map_up >= level * peak_value).astype(np.uint8)
    if not above[r, c]:  # cannot happen for a bilinear map (its peaks are grid values); keep a blob regardless
        r, c = np.unravel_index(int(np.argmax(map_up)), map_up.shape)
    _, components = cv2.connectedComponents(above, connectivity=8)
    return components == components[r, c], (int(c), int(r))


def _draw_halo_polyline(
    img: np.ndarray, pts: np.ndarray, colour: RGB, style: Style, outline: RGB, closed: bool = True
) -> None:
    cv2.polylines(img, [pts], closed, outline, style.line + 2, cv2.LINE_AA)
    cv2.polylines(img, [pts], closed, colour, style.line, cv2.LINE_AA)


def draw_marker(img: np.ndarray, xy: tuple[int, int], colour: RGB, style: Style, outline: RGB) -> None:
    """Peak marker: a dot in the action's colour in a white ring with a dark rim (reads on any background)."""
    cv2.circle(img, xy, style.marker + 1, outline, -1, cv2.LINE_AA)
    cv2.circle(img, xy, style.marker, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.circle(img, xy, max(1, style.marker - max(1, style.marker // 3)), colour, -1, cv2.LINE_AA)


def text_box_size(text: str, style: Style) -> tuple[int, int]:
    (tw, th), base = cv2.getTextSize(text, FONT, style.font_scale, style.thickness)
    return tw + 2 * style.padding, th + base + 2 * style.padding


def draw_text_box(img: np.ndarray, rect: Rect, text: str, fill: RGB, style: Style, outline: RGB) -> None:
    cv2.rectangle(img, (rect.x0, rect.y0), (rect.x1 - 1, rect.y1 - 1), fill, -1)
    cv2.rectangle(img, (rect.x0, rect.y0), (rect.x1 - 1, rect.y1 - 1), outline, 1)
    _, base = cv2.getTextSize(text, FONT, style.font_scale, style.thickness)
    cv2.putText(
        img,
        text,
        (rect.x0 + style.padding, rect.y1 - style.padding - base),
        FONT,
        style.font_scale,
        text_colour_on(fill),
        style.thickness,
        cv2.LINE_AA,
    )


def _legend_entries(actions: Sequence[int], names: Sequence[str]) -> list[tuple[int, str]]:
    return [(a, names[a]) for a in sorted(set(actions))]


def legend_size(entries: Sequence[tuple[int, str]], style: Style) -> tuple[int, int]:
    row = style.text_px + 2 * style.padding
    widest = max(cv2.getTextSize(n, FONT, style.font_scale, style.thickness)[0][0] for _, n in entries)
    return widest + style.text_px + 4 * style.padding, row * len(entries) + 2 * style.padding


def _legend_rect(size: tuple[int, int], busy: np.ndarray, peaks: Sequence[tuple[int, int]], margin: int) -> Rect | None:
    """The image corner whose legend would cover the fewest peaks, then the least blob area."""
    h, w = busy.shape
    lw, lh = size
    if lw + 2 * margin > w or lh + 2 * margin > h:
        return None
    corners = [
        Rect(margin, margin, margin + lw, margin + lh),
        Rect(w - margin - lw, margin, w - margin, margin + lh),
        Rect(margin, h - margin - lh, margin + lw, h - margin),
        Rect(w - margin - lw, h - margin - lh, w - margin, h - margin),
    ]

    def cost(r: Rect) -> tuple[int, int]:
        covered = sum(r.x0 - margin <= x < r.x1 + margin and r.y0 - margin <= y < r.y1 + margin for x, y in peaks)
        return covered, int(busy[r.y0 : r.y1, r.x0 : r.x1].sum())

    return min(corners, key=cost)


def draw_legend_box(
    img: np.ndarray, rect: Rect, entries: Sequence[tuple[int, str]], style: Style, config: OverlayConfig
) -> None:
    patch = img[rect.y0 : rect.y1, rect.x0 : rect.x1].astype(np.float32)
    fill = np.array(config.legend_fill, np.float32)
    blended = patch * (1 - config.legend_alpha) + fill * config.legend_alpha
    img[rect.y0 : rect.y1, rect.x0 : rect.x1] = blended.astype(np.uint8)
    row = style.text_px + 2 * style.padding
    for i, (a, name) in enumerate(entries):
        top = rect.y0 + style.padding + i * row
        sw = (rect.x0 + 2 * style.padding, top + style.padding)
        corner = (sw[0] + style.text_px - 1, sw[1] + style.text_px - 1)
        cv2.rectangle(img, sw, corner, action_colour(a, config.palette), -1)
        cv2.putText(
            img,
            name,
            (sw[0] + style.text_px + style.padding, top + style.padding + style.text_px - 1),
            FONT,
            style.font_scale,
            config.legend_text,
            style.thickness,
            cv2.LINE_AA,
        )


def label_text(object_name: str, action_name: str, score: float, config: OverlayConfig) -> str:
    text = f"{object_name}: {action_name}" if config.show_object_names and object_name else action_name
    return f"{text} {score:.0%}" if config.show_scores else text


def render_overlay(
    image_rgb: np.ndarray,
    objects: Sequence[tuple[str, HotspotResult]],
    action_names: Sequence[str],
    config: OverlayConfig = OverlayConfig(),
) -> OverlayPicture:
    """Draw each object's top action(s) on a copy of ``image_rgb`` (HxWx3 uint8 RGB); see the module doc."""
    height, width = image_rgb.shape[:2]
    style = Style.for_image(config, height, width)
    spots: list[DrawnHotspot] = []
    for i, (name, res) in enumerate(objects):
        roi = res.roi
        if roi.width <= 0 or roi.height <= 0:
            continue
        for k, a in chosen_actions(res, config.top_k):
            blob = blob_mask(np.asarray(res.maps[k], np.float32), roi.height, roi.width, config.level)
            if blob is None:
                continue  # a flat zero map has no part to show
            mask, (px, py) = blob
            score = float(res.scores[a])
            spots.append(
                DrawnHotspot(
                    i, a, score, (roi.x0 + px, roi.y0 + py), roi, mask, label_text(name, action_names[a], score, config)
                )
            )

    canvas = image_rgb.astype(np.float32)
    union = np.zeros((height, width), bool)
    for s in spots:
        union[s.roi.y0 : s.roi.y1, s.roi.x0 : s.roi.x1] |= s.mask
    if config.dim_background > 0:
        canvas *= np.where(union, 1.0, 1.0 - config.dim_background).astype(np.float32)[..., None]
    if config.show_boxes:
        for _, res in objects:
            r = res.roi
            cv2.rectangle(canvas, (r.x0, r.y0), (r.x1 - 1, r.y1 - 1), config.box_colour, 1, cv2.LINE_AA)
    # Less likely first, so the most likely blob of an object is on top where two overlap.
    by_score = sorted(spots, key=lambda s: s.score)
    for s in by_score:
        colour = np.array(action_colour(s.action, config.palette), np.float32)
        patch = canvas[s.roi.y0 : s.roi.y1, s.roi.x0 : s.roi.x1]
        patch[s.mask] = patch[s.mask] * (1 - config.fill_alpha) + colour * config.fill_alpha
    out = np.clip(canvas, 0, 255).astype(np.uint8)
    for s in by_score:
        # Drawn into the object's box only (a view): an outline never spills onto a neighbour.
        contours, _ = cv2.findContours(s.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        box = out[s.roi.y0 : s.roi.y1, s.roi.x0 : s.roi.x1]
        for c in contours:
            _draw_halo_polyline(box, c, action_colour(s.action, config.palette), style, config.outline)

    legend = None
    entries = _legend_entries([s.action for s in spots], action_names)
    if config.show_legend and entries:
        legend = _legend_rect(legend_size(entries, style), union, [s.peak for s in spots], style.padding)
    # Labels: every object's most likely action before any second choice, then by score.
    rank = {id(s): r for i in range(len(objects)) for r, s in enumerate(x for x in spots if x.object_index == i)}
    order = sorted(spots, key=lambda s: (rank[id(s)], -s.score))
    requests = [LabelRequest(s.peak, *text_box_size(s.text, style)) for s in order]
    # A label keeps its marker's outer rim clear, and avoids other markers whole.
    placement = PlacementConfig(
        clearance=style.marker + 2,
        gap=config.label_gap_px,
        anchor_radius=style.marker + 1,
        avoid_cost=config.label_avoid_cost,
    )
    # Labels keep off the blobs where they can: the blob is the part the picture is about.
    rects = place_labels(requests, width, height, [legend] if legend else [], placement, avoid=union)
    for s, rect in zip(order, rects):
        s.label = rect

    leader_min = config.leader_min_em * style.text_px
    for s in order:
        if s.label is not None and s.label.distance_to(*s.peak) > leader_min:
            end = np.array([[s.peak, s.label.nearest_point(*s.peak)]], np.int32)
            _draw_halo_polyline(out, end, action_colour(s.action, config.palette), style, config.outline, closed=False)
    for s in order:
        draw_marker(out, s.peak, action_colour(s.action, config.palette), style, config.outline)
    for s in order:
        if s.label is not None:
            draw_text_box(out, s.label, s.text, action_colour(s.action, config.palette), style, config.outline)
    if legend is not None:
        draw_legend_box(out, legend, entries, style, config)
    return OverlayPicture(out, spots, legend)
