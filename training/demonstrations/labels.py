"""Verbs for the found interactions, from one of three sources; the source of each label is kept.

* ``csv``: the ``labels.csv`` that ``find`` wrote, with the ``verb`` column filled in (a row left empty is an
  interaction left out of the dataset). Its ``id`` names the interaction.
* ``interval``: a label file by time interval, a CSV with the header ``start_s,end_s,verb`` (seconds from the
  recording's first image, as ``labels.csv`` counts them; an optional ``track_id`` column restricts a row to
  one object). An interaction takes the verb of the interval that overlaps it most, if that overlap covers
  at least half of the shorter of the two. Written, for example, while recording ("from 12.0 s to 14.5 s I
  poured") or from another annotation tool.
* ``dan``: a Dual Attention Network checkpoint (``training.dan.train``; the shipped demo DAN by default)
  recognises each interaction's clip; its action is the verb when its probability is at least the
  threshold, otherwise the interaction is left out. Opt-in: a recogniser trained elsewhere knows only its
  own actions, and it is wrong now and then (docs/demonstrations.md gives the measured drop).

``resolve_labels`` returns one ``Label`` per labelled interaction; ``write_labels`` writes them as a labels
CSV with two more columns, ``source`` (csv / interval / dan) and ``confidence`` (the DAN's probability, empty
otherwise), which ``read_labels`` reads back unchanged (a reviewed DAN labelling keeps its source).

Every problem with a label file is a ``LabelError`` naming the file and its row.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hotspot_core.errors import ConfigError

from .find import warn

__all__ = [
    "Label",
    "LabelError",
    "SOURCES",
    "dan_labels",
    "interval_labels",
    "read_labels",
    "resolve_labels",
    "write_labels",
    "write_truth_intervals",
]

SOURCES = ("csv", "interval", "dan")
LABEL_COLUMNS = ("id", "start_s", "end_s", "object_class", "track_id", "verb", "source", "confidence")
INTERVAL_COLUMNS = ("start_s", "end_s", "verb")


class LabelError(ConfigError):
    """A label file or label source that cannot be used (the message names the file and row)."""


@dataclass(frozen=True)
class Label:
    """The verb of interaction ``id``, where it came from, the DAN's probability (None otherwise) and where
    it was read (``labels.csv row 5``: for error messages)."""

    id: int
    verb: str
    source: str
    confidence: float | None = None
    origin: str = ""


def _check_verb(path: Path, row: int, verb: str) -> str:
    verb = verb.strip()
    if any(c in verb for c in ',"\n') or verb != " ".join(verb.split()):
        raise LabelError(f"{path}: row {row}: verb {verb!r} has a comma, quote or extra spaces")
    return verb


def _rows(path: Path, needed: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The CSV's rows (line number, dict); LabelError when it is empty or lacks a needed column."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None:
                raise LabelError(f"{path}: empty label file (no header, no rows)")
            header = [h.strip() for h in reader.fieldnames]
            missing = [c for c in needed if c not in header]
            if missing:
                raise LabelError(f"{path}: row 1: no column {', '.join(missing)} (header: {','.join(header)})")
            reader.fieldnames = header
            rows = [(reader.line_num, {k: (v or "").strip() for k, v in r.items() if k}) for r in reader]
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    except csv.Error as exc:
        raise LabelError(f"{path}: not a CSV file ({exc})") from None
    return rows


def _header(path: Path) -> list[str]:
    """The CSV's header; LabelError when the file is empty or not text."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            first = next(csv.reader(f), None)
    except UnicodeDecodeError as exc:
        raise LabelError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    if not first:
        raise LabelError(f"{path}: empty label file (no header, no rows)")
    return [h.strip() for h in first]


def _float(path: Path, row: int, name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LabelError(f"{path}: row {row}: {name} {text!r} is not a number") from None
    if not np.isfinite(value):
        raise LabelError(f"{path}: row {row}: {name} {text!r} is not a finite number")
    return value


def read_labels(path: str | os.PathLike, found: dict[str, Any]) -> list[Label]:
    """The verbs of a filled-in ``labels.csv`` (``id``, ``verb``; optional ``source`` / ``confidence``, as
    ``write_labels`` writes them). Rows with an empty verb are left out (counted in a warning)."""
    path = Path(path)
    ids = {int(r["id"]) for r in found["interactions"]}
    labels, seen, empty = [], {}, 0
    for row, r in _rows(path, ("id", "verb")):
        try:
            n = int(r["id"])
        except ValueError:
            raise LabelError(f"{path}: row {row}: id {r['id']!r} is not an interaction number") from None
        if n not in ids:
            raise LabelError(f"{path}: row {row}: no interaction {n} in the found interactions (ids 1..{len(ids)})")
        if n in seen:
            raise LabelError(f"{path}: row {row}: interaction {n} is labelled twice (also row {seen[n]})")
        seen[n] = row
        verb = _check_verb(path, row, r["verb"])
        if not verb:
            empty += 1
            continue
        source = r.get("source") or "csv"
        if source not in SOURCES:
            raise LabelError(f"{path}: row {row}: source {source!r} is not one of {', '.join(SOURCES)}")
        conf = r.get("confidence") or ""
        confidence = _float(path, row, "confidence", conf) if conf else None
        labels.append(Label(n, verb, source, confidence, f"{path} row {row}"))
    if empty:
        warn(f"{path}: {empty} of {len(seen)} interactions have no verb (left out)")
    return labels


def interval_labels(path: str | os.PathLike, found: dict[str, Any]) -> list[Label]:
    """Labels from a ``start_s,end_s,verb[,track_id]`` interval file (module docstring)."""
    path = Path(path)
    intervals = []
    for row, r in _rows(path, INTERVAL_COLUMNS):
        start, end = _float(path, row, "start_s", r["start_s"]), _float(path, row, "end_s", r["end_s"])
        if end <= start:
            raise LabelError(f"{path}: row {row}: end_s {end:g} is not after start_s {start:g}")
        verb = _check_verb(path, row, r["verb"])
        if not verb:
            raise LabelError(f"{path}: row {row}: no verb")
        intervals.append((row, start, end, verb, r.get("track_id") or ""))
    if not intervals:
        raise LabelError(f"{path}: no intervals (only a header)")
    t0 = int(found["first_stamp_ns"])
    labels, used = [], set()
    for inter in found["interactions"]:
        a, b = (inter["start_ns"] - t0) / 1e9, (inter["release_ns"] - t0) / 1e9
        best, best_cover = None, 0.0
        for iv in intervals:
            if iv[4] and iv[4] != inter["object"]["track_id"]:
                continue
            overlap = min(b, iv[2]) - max(a, iv[1])
            cover = overlap / max(min(b - a, iv[2] - iv[1]), 1e-9)
            if cover > best_cover:
                best, best_cover = iv, cover
        if best is not None and best_cover >= 0.5:
            labels.append(Label(int(inter["id"]), best[3], "interval", None, f"{path} row {best[0]}"))
            used.add(best[0])
    unused = [iv[0] for iv in intervals if iv[0] not in used]
    if unused:
        warn(f"{path}: rows {unused} overlap no found interaction (not used)")
    left = len(found["interactions"]) - len(labels)
    if left:
        warn(f"{path}: {left} of {len(found['interactions'])} interactions fall in no interval (left out)")
    return labels


def dan_labels(
    found_dir: str | os.PathLike,
    found: dict[str, Any],
    checkpoint: str | os.PathLike,
    min_confidence: float = 0.5,
    device: str = "cpu",
) -> list[Label]:
    """Labels recognised by a DAN on each interaction's clip frames (the action's probability >= ``min_confidence``)."""
    import cv2

    from hotspot_core.dan.checkpoint import load_dan_checkpoint
    from hotspot_core.dan.predictor import DANPredictor

    if not 0.0 <= min_confidence <= 1.0:
        raise LabelError(f"min_confidence must be 0..1, got {min_confidence}")
    root = Path(found_dir)
    predictor = DANPredictor(load_dan_checkpoint(checkpoint), device=device)
    fps = _fps(found)
    labels, low = [], []
    for inter in found["interactions"]:
        frames = []
        for f in inter["frames"]:
            bgr = cv2.imread(str(root / f["file"]))
            if bgr is None:
                raise LabelError(f"{root / f['file']}: missing or unreadable clip frame")
            frames.append(predictor.prepare(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        rec = predictor.recognise(frames, fps)
        if rec.action_score >= min_confidence:
            labels.append(
                Label(
                    int(inter["id"]),
                    rec.action,
                    "dan",
                    round(float(rec.action_score), 4),
                    f"{checkpoint} on {inter['id']}",
                )
            )
        else:
            low.append(f"{inter['id']} ({rec.action} {rec.action_score:.2f})")
    if low:
        warn(
            f"{checkpoint}: {len(low)} of {len(found['interactions'])} interactions recognised below "
            f"{min_confidence:g} (left out): {', '.join(low)}"
        )
    return labels


def _fps(found: dict[str, Any]) -> float:
    stamps = [f["stamp_ns"] for r in found["interactions"] for f in r["frames"][:2]]
    gaps = [b - a for a, b in zip(stamps[::2], stamps[1::2]) if b > a]
    return 1e9 / float(np.median(gaps)) if gaps else 15.0


def resolve_labels(
    found_dir: str | os.PathLike,
    found: dict[str, Any],
    labels: str | os.PathLike | None = None,
    dan: str | os.PathLike | None = None,
    min_confidence: float = 0.5,
) -> list[Label]:
    """The labels from ``labels`` (a labels CSV by ``id``, or an interval file by its header) or from the
    DAN checkpoint ``dan``; exactly one of the two. LabelError when none is labelled."""
    if (labels is None) == (dan is None):
        raise LabelError("give either a label file (--labels) or a DAN checkpoint (--dan), not both or neither")
    if dan is not None:
        out = dan_labels(found_dir, found, dan, min_confidence)
        where = str(dan)
    else:
        path = Path(labels)  # type: ignore[arg-type]
        if not path.is_file():
            raise FileNotFoundError(2, "No such label file", str(path))
        first = _header(path)
        out = read_labels(path, found) if "id" in first else interval_labels(path, found)
        where = str(path)
    if not out:
        raise LabelError(f"{where}: no interaction is labelled (every verb empty or below the confidence threshold)")
    return out


def write_labels(path: str | os.PathLike, found: dict[str, Any], labels: Sequence[Label]) -> None:
    """A labels CSV (``LABEL_COLUMNS``): every found interaction, the verb and source of the labelled ones."""
    by_id = {lab.id: lab for lab in labels}
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(LABEL_COLUMNS)
        for r in found["interactions"]:
            lab = by_id.get(int(r["id"]))
            w.writerow(
                [
                    r["id"],
                    f"{r['start_s']:.3f}",
                    f"{r['end_s']:.3f}",
                    r["object"]["class"],
                    r["object"]["track_id"],
                    lab.verb if lab else "",
                    lab.source if lab else "",
                    "" if lab is None or lab.confidence is None else f"{lab.confidence:.4f}",
                ]
            )


def write_truth_intervals(truth: dict[str, Any], path: str | os.PathLike) -> Path:
    """A synthetic scene's ground truth (``scene.json``) as an interval label file: per demonstration the hand
    on the part, its verb and object (``start_s,end_s,verb,track_id``, seconds from the first image)."""
    path = Path(path)
    t0 = int(truth["start_ns"])
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*INTERVAL_COLUMNS, "track_id"])
        for d in truth["interactions"]:
            start, end = (d["contact_start_ns"] - t0) / 1e9, (d["release_ns"] - t0) / 1e9
            w.writerow([f"{start:.3f}", f"{end:.3f}", d["verb"], d["track_id"]])
    return path
