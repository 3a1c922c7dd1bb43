#!/usr/bin/env python3
"""The README's picture: a few of ``make demo``'s overlay frames, large, on one sheet.

``make demo`` writes every overlay at full size and all of them small on ``contact_sheet.png``; the README
shows one frame of each scene the sample camera plays, big enough to read the labels:

    python scripts/readme_picture.py outputs/demo/overlays --frames 0 6 10 14 -o docs/images/demo_overlays.jpg
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2

from hotspot_core import cli
from hotspot_core.image.overlay_grid import TileConfig, contact_sheet
from hotspot_ros.recorder import overlay_pngs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "overlays", type=Path, help="a folder of overlay_<stamp>.png (make demo's outputs/demo/overlays)"
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 6, 10, 14], help="frame indices, in stamp order")
    parser.add_argument("--tile-px", type=int, default=480, help="longer side of each frame on the sheet")
    parser.add_argument("--columns", type=int, default=2)
    parser.add_argument("--quality", type=int, default=88, help="JPEG quality")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args(argv)

    pngs = overlay_pngs(args.overlays)
    if not pngs:
        raise FileNotFoundError(f"no overlay_*.png in {args.overlays} (run make demo first)")
    missing = [i for i in args.frames if not 0 <= i < len(pngs)]
    if missing:
        parser.error(f"--frames {missing} outside the {len(pngs)} overlays in {args.overlays}")
    images = []
    for i in args.frames:
        bgr = cv2.imread(str(pngs[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read {pngs[i]}")
        images.append(bgr[..., ::-1])
    sheet = contact_sheet(images, None, TileConfig(tile_px=args.tile_px, columns=args.columns))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), sheet.image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, args.quality]):
        raise OSError(f"could not write {args.out}")
    print(f"{args.out}: {sheet.image.shape[1]}x{sheet.image.shape[0]}, frames {args.frames}")
    return 0


if __name__ == "__main__":
    cli.run(main)
