"""rosbag2 MCAP files of a camera, its detections and hand detections: written by the synthetic scene, read by
the finder, both with ``mcap`` / ``mcap-ros2-support`` (no ROS installation needed to read).

Messages are the node's inputs: ``sensor_msgs/msg/Image`` (or ``CompressedImage``) on the image topic and
``vision_msgs/msg/Detection2DArray`` on the detections and hand topics, paired by header stamp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from mcap_ros2.writer import Writer

from hotspot_core.image.boxes import Box
from hotspot_core.mcap_bags import READ_ERRORS, BagError, bag_files, bag_topics, read_error
from hotspot_core.ros2msg import message_definition

__all__ = [
    "IMAGE_TYPES",
    "DETECTIONS_TYPE",
    "BagError",
    "Topics",
    "BagWriter",
    "bag_files",
    "bag_topics",
    "iter_messages",
    "image_rgb",
]

IMAGE_TYPE, COMPRESSED_TYPE = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
IMAGE_TYPES = (IMAGE_TYPE, COMPRESSED_TYPE)
DETECTIONS_TYPE = "vision_msgs/msg/Detection2DArray"


@dataclass(frozen=True)
class Topics:
    """Topic names; the defaults are the node's (its relative ``image``, ``detections`` and, with
    ``use_hand_topic``, ``hand_detections``, in the root namespace)."""

    image: str = "/image"
    detections: str = "/detections"
    hands: str = "/hand_detections"


def _stamp(ns: int) -> dict[str, int]:
    return {"sec": int(ns // 1_000_000_000), "nanosec": int(ns % 1_000_000_000)}


class BagWriter:
    """Images and Detection2DArrays into one MCAP file (profile ros2, CDR, zstd chunks); ``close`` finishes it."""

    def __init__(self, path: str | os.PathLike, topics: Topics, frame_id: str = "camera") -> None:
        self._file = open(path, "wb")
        # 4 MiB chunks: several frames of a still table per chunk, so zstd finds what they share.
        self._writer = Writer(self._file, chunk_size=4 << 20)
        self._image = self._writer.register_msgdef(IMAGE_TYPE, message_definition(IMAGE_TYPE))
        self._dets = self._writer.register_msgdef(DETECTIONS_TYPE, message_definition(DETECTIONS_TYPE))
        self.topics, self.frame_id = topics, frame_id
        self._seq: dict[str, int] = {}

    def _write(self, topic: str, schema: Any, msg: dict, stamp_ns: int, log_ns: int) -> None:
        seq = self._seq.get(topic, 0)
        self._writer.write_message(topic, schema, msg, log_time=log_ns, publish_time=stamp_ns, sequence=seq)
        self._seq[topic] = seq + 1

    def image(self, stamp_ns: int, rgb: np.ndarray, log_ns: int) -> None:
        h, w = rgb.shape[:2]
        msg = {
            "header": {"stamp": _stamp(stamp_ns), "frame_id": self.frame_id},
            "height": h,
            "width": w,
            "encoding": "rgb8",
            "is_bigendian": 0,
            "step": w * 3,
            "data": np.ascontiguousarray(rgb, dtype=np.uint8).tobytes(),
        }
        self._write(self.topics.image, self._image, msg, stamp_ns, log_ns)

    def detections(self, topic: str, stamp_ns: int, dets: Sequence[tuple[str, str, float, Box]], log_ns: int) -> None:
        """dets: (tracking id, class, score, (x0, y0, x1, y1)) each."""
        header = {"stamp": _stamp(stamp_ns), "frame_id": self.frame_id}
        items = []
        for det_id, cls, score, (x0, y0, x1, y1) in dets:
            items.append(
                {
                    "header": header,
                    "results": [
                        {
                            "hypothesis": {"class_id": cls, "score": float(score)},
                            "pose": {"pose": {"orientation": {"w": 1.0}}, "covariance": [0.0] * 36},
                        }
                    ],
                    "bbox": {
                        "center": {"position": {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2}, "theta": 0.0},
                        "size_x": x1 - x0,
                        "size_y": y1 - y0,
                    },
                    "id": det_id,
                }
            )
        self._write(topic, self._dets, {"header": header, "detections": items}, stamp_ns, log_ns)

    def close(self) -> None:
        self._writer.finish()
        self._file.close()


def iter_messages(path: str | os.PathLike, topics: Sequence[str]) -> Iterator[tuple[str, str, Any]]:
    """(topic, message type, decoded message) of ``topics``, in log-time order within each file."""
    for f in bag_files(path):
        with open(f, "rb") as stream:
            reader = make_reader(stream, decoder_factories=[DecoderFactory()])
            try:
                for schema, channel, _, msg in reader.iter_decoded_messages(topics=list(topics), log_time_order=True):
                    yield channel.topic, schema.name if schema is not None else "", msg
            except READ_ERRORS as exc:
                raise read_error(f, exc) from exc


def stamp_ns(msg: Any) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_rgb(msg: Any, type_name: str) -> np.ndarray:
    """An Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage (JPEG/PNG) message as HxWx3 RGB uint8."""
    if type_name == COMPRESSED_TYPE:
        bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"compressed image ({msg.format!r}) does not decode")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    enc = msg.encoding.lower()
    if enc not in _CHANNELS:
        raise ValueError(f"image encoding {msg.encoding!r} not supported (use one of {sorted(_CHANNELS)})")
    c, h, w = _CHANNELS[enc], int(msg.height), int(msg.width)
    buf = np.frombuffer(bytes(msg.data), np.uint8)
    if msg.step < w * c or buf.size < msg.step * h:
        raise ValueError(f"image data of {buf.size} bytes does not fit {w}x{h} {enc} with step {msg.step}")
    img = buf[: msg.step * h].reshape(h, msg.step)[:, : w * c].reshape(h, w, c)
    if enc == "rgb8":
        return img.copy()
    if enc == "bgr8":
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if enc == "rgba8":
        return cv2.cvtColor(img, cv2.COLOR_RGBA2RGB)
    if enc == "bgra8":
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
