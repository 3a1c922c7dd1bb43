"""Extract OPRA clip frames at 5 fps, 256x256, into the layout the loader reads (spec 4.1).

    python -m training.extract_frames --clips <root>/clips --out <root>/frames

Every ``<clips>/<ch>/<pl>/<vid>/<start>_<dur>.mp4`` becomes the folder
``<out>/<ch>/<pl>/<vid>/<start>_<dur>.mp4/`` (the name keeps ``.mp4``) holding ``image-%08d.jpg``
numbered from 1, as the reference's ``ffmpeg -vf scale=256:256,fps=5`` writes them.

Backend: the ``ffmpeg`` binary when it is on PATH (same filter as the reference), else OpenCV, which
decodes every frame and keeps, for each output time k/fps, the input frame nearest to it (ffmpeg's
``fps`` filter rule), resized to 256x256 without keeping the aspect ratio. Either way the frame counts
can differ from the json's ``nframes`` (reference issue #5); the loaders clamp to the frames on disk, and
``--counts`` writes the real counts per clip.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2

from hotspot_core import cli

log = logging.getLogger("training.extract_frames")

__all__ = ["find_clips", "extract_ffmpeg", "extract_opencv", "extract_clip", "choose_backend", "main"]

FRAME_PATTERN = "image-%08d.jpg"


def find_clips(clips_root: str | Path) -> list[Path]:
    """All ``*.mp4`` files under ``clips_root``, sorted, as paths relative to it."""
    root = Path(clips_root)
    return sorted(p.relative_to(root) for p in root.rglob("*.mp4") if p.is_file())


def choose_backend(requested: str = "auto") -> str:
    """'ffmpeg' if requested/available, else 'opencv'."""
    if requested not in ("auto", "ffmpeg", "opencv"):
        raise ValueError(f"unknown backend {requested!r}")
    if requested == "ffmpeg" and shutil.which("ffmpeg") is None:
        raise FileNotFoundError("--backend ffmpeg but no ffmpeg binary on PATH")
    if requested == "auto":
        return "ffmpeg" if shutil.which("ffmpeg") else "opencv"
    return requested


def _count_frames(out_dir: Path) -> int:
    return sum(1 for _ in out_dir.glob("image-*.jpg"))


def extract_ffmpeg(video: str | Path, out_dir: str | Path, fps: float = 5.0, size: int = 256) -> int:
    """Run ``ffmpeg -vf scale=size:size,fps=fps``; returns the number of frames written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "ffmpeg",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        "-i",
        str(video),
        "-vf",
        f"scale={size}:{size},fps={fps:g}",
        str(out_dir / FRAME_PATTERN),
    ]
    subprocess.run(cmd, check=True)
    return _count_frames(out_dir)


def extract_opencv(video: str | Path, out_dir: str | Path, fps: float = 5.0, size: int = 256, quality: int = 95) -> int:
    """Decode with OpenCV and resample to ``fps`` by nearest timestamp; returns frames written.

    Input frame i has time ``i / src_fps``; output frame k (time ``k / fps``) is the input frame whose
    time is nearest, i.e. frame i is written for every k with ``k / fps < (i + 0.5) / src_fps``.
    """
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"OpenCV cannot open {video}")
    src_fps = cap.get(cv2.CAP_PROP_FPS)
    if not src_fps or not math.isfinite(src_fps) or src_fps <= 0:
        log.warning("%s: unknown frame rate, assuming 30 fps", video)
        src_fps = 30.0
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    i = k = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            limit = (i + 0.5) / src_fps
            resized = None
            while k / fps < limit - 1e-9:
                if resized is None:
                    h, w = frame.shape[:2]
                    interp = cv2.INTER_AREA if h * w >= size * size else cv2.INTER_CUBIC
                    resized = cv2.resize(frame, (size, size), interpolation=interp)
                k += 1
                if not cv2.imwrite(
                    str(out_dir / (FRAME_PATTERN % k)), resized, [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
                ):
                    raise OSError(f"cannot write {out_dir / (FRAME_PATTERN % k)}")
            i += 1
    finally:
        cap.release()
    return k


def extract_clip(
    video: Path, out_dir: Path, backend: str, fps: float = 5.0, size: int = 256, overwrite: bool = False
) -> int:
    """Extract one clip unless its folder already has frames (then return their count)."""
    if out_dir.is_dir() and not overwrite:
        n = _count_frames(out_dir)
        if n:
            return n
    if overwrite and out_dir.is_dir():
        for f in out_dir.glob("image-*.jpg"):
            f.unlink()
    if backend == "ffmpeg":
        return extract_ffmpeg(video, out_dir, fps, size)
    return extract_opencv(video, out_dir, fps, size)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training.extract_frames", description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=Path, required=True, help="folder of <ch>/<pl>/<vid>/<start>_<dur>.mp4")
    p.add_argument("--out", type=Path, required=True, help="frames folder (dataset root's frames/)")
    p.add_argument("--fps", type=float, default=5.0)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--backend", choices=("auto", "ffmpeg", "opencv"), default="auto")
    p.add_argument("--jobs", type=int, default=1, help="clips extracted in parallel")
    p.add_argument("--overwrite", action="store_true", help="re-extract folders that already have frames")
    p.add_argument("--counts", type=Path, default=None, help="write {relative clip folder: frames on disk} json here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.clips.is_dir():
        cli.fail(f"clips folder {args.clips} not found")
    backend = choose_backend(args.backend)
    log.info(
        "extracting with %s (%s fps, %dx%d)",
        backend if backend == "opencv" else f"ffmpeg ({shutil.which('ffmpeg')})",
        f"{args.fps:g}",
        args.size,
        args.size,
    )
    clips = find_clips(args.clips)
    if not clips:
        log.error("no .mp4 files under %s", args.clips)
        return 1

    def one(rel: Path) -> tuple[str, int]:
        try:
            n = extract_clip(args.clips / rel, args.out / rel, backend, args.fps, args.size, args.overwrite)
        except (OSError, subprocess.CalledProcessError) as exc:
            log.warning("%s: %s", rel, exc)
            n = 0
        return rel.as_posix(), n

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        counts = dict(pool.map(one, clips))
    failed = sum(1 for n in counts.values() if n == 0)
    log.info("%d clips, %d frames, %d failed", len(counts), sum(counts.values()), failed)
    if args.counts is not None:
        args.counts.parent.mkdir(parents=True, exist_ok=True)
        args.counts.write_text(json.dumps(counts, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 1 if failed == len(counts) else 0


if __name__ == "__main__":
    cli.run(main)
