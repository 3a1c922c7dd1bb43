"""Tiled pictures: one object's maps as a grid of panels (one per action), and contact sheets of frames.

The grid is for inspection: every action's whole map over the object (a viridis heat map, perceptually
uniform and readable with colour-vision deficiencies), its ``level`` contour (the blob the overlay would
fill) and its peak, under a header in the action's colour that names it with its probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from hotspot_core.image.label_placement import Rect
from hotspot_core.image.overlay import (
    FONT,
    RGB,
    HotspotResult,
    OverlayConfig,
    Style,
    action_colour,
    blob_mask,
    draw_marker,
    text_colour_on,
)
from hotspot_core.image.postprocess import upsample

__all__ = ["TileConfig", "GridConfig", "TiledPicture", "tile_layout", "contact_sheet", "render_grid"]


@dataclass(frozen=True)
class TileConfig:
    """``tile_px``: the longer side of each tile's picture; ``columns``: 0 picks ceil(sqrt(n)); ``gap_px``
    between tiles and around the sheet; captions go in a strip above each picture."""

    tile_px: int = 224
    columns: int = 0
    gap_px: int = 4
    background: RGB = (24, 24, 24)
    caption_text: RGB = (235, 235, 235)

    def __post_init__(self) -> None:
        if self.tile_px < 16 or self.columns < 0 or self.gap_px < 0:
            raise ValueError("tile_px must be >= 16, columns and gap_px >= 0")


@dataclass(frozen=True)
class GridConfig:
    tiles: TileConfig = TileConfig()
    heat_alpha: float = 0.65  # heat-map opacity at the map's maximum (it fades with the map value)
    grey: float = 0.6  # how much the object's colours are washed to grey under the heat map
    overlay: OverlayConfig = field(default_factory=OverlayConfig)  # level, palette, text and marker sizes

    def __post_init__(self) -> None:
        if not (0.0 <= self.heat_alpha <= 1.0 and 0.0 <= self.grey <= 1.0):
            raise ValueError("heat_alpha and grey must be in [0, 1]")


@dataclass
class TiledPicture:
    image: np.ndarray  # (H,W,3) uint8 RGB
    tiles: list[Rect]  # where each tile's picture is (its caption strip and any letterbox excluded)
    keys: list[int]  # what each tile shows: the frame's index (sheets), the action's index (grids)


def tile_layout(
    count: int, tile_w: int, tile_h: int, caption_h: int, config: TileConfig
) -> tuple[int, int, list[Rect]]:
    """(sheet width, sheet height, picture rectangles) of ``count`` tiles in rows, left to right."""
    cols = config.columns or max(1, math.ceil(math.sqrt(count)))
    cols = min(cols, max(1, count))
    rows = max(1, math.ceil(count / cols))
    g = config.gap_px
    cell_w, cell_h = tile_w + g, caption_h + tile_h + g
    rects = []
    for i in range(count):
        r, c = divmod(i, cols)
        x0, y0 = g + c * cell_w, g + r * cell_h + caption_h
        rects.append(Rect(x0, y0, x0 + tile_w, y0 + tile_h))
    return g + cols * cell_w, g + rows * cell_h, rects


def _fit(size: tuple[int, int], longer: int) -> tuple[int, int]:
    h, w = size
    k = longer / max(h, w)
    return max(1, round(w * k)), max(1, round(h * k))


def _caption(
    sheet: np.ndarray, rect: Rect, text: str, fill: RGB | None, colour: RGB, style: Style, height: int
) -> None:
    top = rect.y0 - height
    if fill is not None:
        cv2.rectangle(sheet, (rect.x0, top), (rect.x1 - 1, rect.y0 - 1), fill, -1)
        colour = text_colour_on(fill)
    cv2.putText(
        sheet,
        _fit_text(text, rect.width - 2 * style.padding, style),
        (rect.x0 + style.padding, rect.y0 - style.padding - 1),
        FONT,
        style.font_scale,
        colour,
        style.thickness,
        cv2.LINE_AA,
    )


def _fit_text(text: str, max_width: int, style: Style) -> str:
    """Shorten a caption that does not fit its tile ("put do..") rather than let it run into the next."""

    def width(t: str) -> int:
        return cv2.getTextSize(t, FONT, style.font_scale, style.thickness)[0][0]

    if width(text) <= max_width:
        return text
    while text and width(text + "..") > max_width:
        text = text[:-1]
    return text + ".." if text else ""


def contact_sheet(
    images: Sequence[np.ndarray],
    captions: Sequence[str] | None = None,
    config: TileConfig = TileConfig(tile_px=200, columns=6),
) -> TiledPicture:
    """All ``images`` (RGB uint8) small, in order, on one sheet. Each keeps its aspect ratio, its longer
    side ``config.tile_px``, centred in cells sized for the largest; ``tiles`` are where the pictures are."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(captions)} captions for {len(images)} images")
    sizes = [_fit(img.shape[:2], config.tile_px) for img in images]
    cw, ch = max(w for w, _ in sizes), max(h for _, h in sizes)
    style = Style.for_image(OverlayConfig(), ch, cw)
    caption_h = style.text_px + 2 * style.padding if captions is not None else 0
    width, height, cells = tile_layout(len(images), cw, ch, caption_h, config)
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = config.background
    tiles = []
    for i, (img, (fw, fh), cell) in enumerate(zip(images, sizes, cells)):
        x0, y0 = cell.x0 + (cw - fw) // 2, cell.y0 + (ch - fh) // 2
        sheet[y0 : y0 + fh, x0 : x0 + fw] = cv2.resize(img, (fw, fh), interpolation=cv2.INTER_AREA)
        tiles.append(Rect(x0, y0, x0 + fw, y0 + fh))
        if captions is not None:
            _caption(sheet, cell, captions[i], None, config.caption_text, style, caption_h)
    return TiledPicture(sheet, tiles, list(range(len(images))))


def render_grid(
    image_rgb: np.ndarray, result: HotspotResult, action_names: Sequence[str], config: GridConfig = GridConfig()
) -> TiledPicture:
    """One panel per action that has a map (model order): the object's crop, the map as a heat map, the
    ``level`` contour and the peak; the header names the action and its probability."""
    roi = result.roi
    crop = image_rgb[roi.y0 : roi.y1, roi.x0 : roi.x1]
    if crop.size == 0:
        raise ValueError(f"empty object box {roi}")
    tw, th = _fit(crop.shape[:2], config.tiles.tile_px)
    style = Style.for_image(config.overlay, th, tw)
    small = cv2.resize(crop, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)
    grey = cv2.cvtColor(small.astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32)[..., None]
    base = small * (1 - config.grey) + grey * config.grey
    order = sorted(range(len(result.action_indices)), key=lambda k: int(result.action_indices[k]))
    caption_h = style.text_px + 2 * style.padding
    width, height, rects = tile_layout(len(order), tw, th, caption_h, config.tiles)
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = config.tiles.background
    outline = config.overlay.outline
    for k, r in zip(order, rects):
        a = int(result.action_indices[k])
        colour = action_colour(a, config.overlay.palette)
        up = np.clip(upsample(np.asarray(result.maps[k], np.float32), th, tw), 0.0, 1.0)
        heat = cv2.applyColorMap((up * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)[..., ::-1].astype(np.float32)
        alpha = (config.heat_alpha * up)[..., None]
        panel = np.clip(base * (1 - alpha) + heat * alpha, 0, 255).astype(np.uint8)
        blob = blob_mask(np.clip(np.asarray(result.maps[k], np.float32), 0.0, 1.0), th, tw, config.overlay.level)
        if blob is not None:
            mask, peak = blob
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.polylines(panel, contours, True, outline, style.line + 2, cv2.LINE_AA)
            cv2.polylines(panel, contours, True, (255, 255, 255), style.line, cv2.LINE_AA)
            draw_marker(panel, peak, colour, style, outline)
        sheet[r.y0 : r.y1, r.x0 : r.x1] = panel
        _caption(sheet, r, f"{action_names[a]} {float(result.scores[a]):.0%}", colour, (0, 0, 0), style, caption_h)
    return TiledPicture(sheet, rects, [int(result.action_indices[k]) for k in order])
