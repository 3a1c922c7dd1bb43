"""rosbag2 recordings as MCAP files, read with ``mcap`` alone (no ROS installation): which files a recording
is, what topics and types it holds, and one error for a recording that cannot be read.

Shared by the offline finder (``training.demonstrations``) and the ROS tools that replay a recording
(``hotspot_ros.bag_play``), so both name a missing, empty, truncated or corrupt recording the same way.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import zstandard
from mcap.exceptions import McapError
from mcap.reader import make_reader

from hotspot_core.errors import HotspotError

__all__ = ["READ_ERRORS", "BagError", "bag_files", "bag_topics", "read_error"]


class BagError(HotspotError):
    """A recording that cannot be read or lacks what is needed (the message names the file)."""


def bag_files(path: str | os.PathLike) -> list[Path]:
    """The MCAP files of a recording: the file itself, or a rosbag2 directory's ``*.mcap`` (split bags in order)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.mcap"))
        if not files:
            raise BagError(f"{path}: a directory without .mcap files (is it a rosbag2 MCAP recording?)")
        return files
    if not path.exists():
        raise BagError(f"{path}: no such file or directory")
    return [path]


def read_error(path: Path, exc: BaseException) -> BagError:
    """The BagError for a file the reader failed on: the file and the first line of what it raised."""
    why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BagError(f"{path}: not a readable MCAP recording, truncated or corrupt ({why})")


# What a damaged file raises from the mcap reader and the CDR decoder: the container's own errors, a chunk
# that does not decompress, a struct unpacking short of bytes, an index pointing past the end.
READ_ERRORS = (
    McapError,
    zstandard.ZstdError,
    struct.error,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    OSError,
    RuntimeError,
    AssertionError,
)


def bag_topics(path: str | os.PathLike) -> dict[str, str]:
    """Topic -> message type over the recording's files, from each file's summary (raises BagError when a
    file has none: an MCAP file that was never finished or was cut off)."""
    topics: dict[str, str] = {}
    for f in bag_files(path):
        try:
            with open(f, "rb") as stream:
                summary = make_reader(stream).get_summary()
        except READ_ERRORS as exc:
            raise read_error(f, exc) from exc
        if summary is None:
            raise BagError(f"{f}: MCAP file without a summary (recording cut off before it was closed?)")
        for ch in summary.channels.values():
            schema = summary.schemas.get(ch.schema_id)
            topics[ch.topic] = schema.name if schema is not None else ""
    return topics
