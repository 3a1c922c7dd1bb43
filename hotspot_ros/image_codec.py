"""sensor_msgs/Image <-> numpy for the encodings the node handles (cv_bridge is not needed).

Kept free of rclpy imports beyond duck-typed message fields, so it is testable on plain objects.
"""

from __future__ import annotations

import numpy as np

COLOUR_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")
_CHANNELS = {"rgb8": 3, "bgr8": 3, "mono8": 1, "rgba8": 4, "bgra8": 4, "16UC1": 1, "32FC1": 1}
_DTYPES = {"16UC1": np.uint16, "32FC1": np.float32}


class UnsupportedEncoding(ValueError):
    """The image encoding is not one the node handles."""


class CorruptImage(ValueError):
    """The image's data does not match its declared size, step or encoding."""


def _as_array(msg, encoding: str) -> np.ndarray:
    channels = _CHANNELS[encoding]
    dtype = np.dtype(_DTYPES.get(encoding, np.uint8))
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    if h <= 0 or w <= 0:
        raise CorruptImage(f"empty image ({w}x{h})")
    row_bytes = w * channels * dtype.itemsize
    if step < row_bytes:
        raise CorruptImage(f"step {step} < width*channels*bytes {row_bytes} for {encoding} {w}x{h}")
    try:
        data = np.frombuffer(msg.data, np.uint8)  # rclpy gives array.array('B'): no copy
    except TypeError:
        data = np.asarray(msg.data, np.uint8)
    if data.size != step * h:
        raise CorruptImage(f"data has {data.size} bytes, expected step*height = {step * h} for {encoding} {w}x{h}")
    rows = data.reshape(h, step)[:, :row_bytes]
    out = np.ascontiguousarray(rows).view(dtype)
    if bool(msg.is_bigendian) == np.little_endian and dtype.itemsize > 1:  # byte order differs from ours
        out = out.byteswap()
    return out.reshape(h, w, channels) if channels > 1 else out.reshape(h, w)


def image_to_rgb(msg) -> np.ndarray:
    """An HxWx3 uint8 RGB copy of a colour image message."""
    enc = msg.encoding
    if enc not in COLOUR_ENCODINGS:
        raise UnsupportedEncoding(f"unsupported colour encoding {enc!r}; handled: {', '.join(COLOUR_ENCODINGS)}")
    a = _as_array(msg, enc)
    if enc == "rgb8":
        return a.copy()
    if enc == "bgr8":
        return a[..., ::-1].copy()
    if enc == "rgba8":
        return a[..., :3].copy()
    if enc == "bgra8":
        return a[..., 2::-1].copy()
    return np.repeat(a[..., None], 3, axis=2)  # mono8


def depth_to_metres(msg) -> np.ndarray:
    """An HxW float32 depth map in metres (16UC1 is millimetres, 32FC1 metres); invalid -> NaN."""
    enc = msg.encoding
    if enc not in DEPTH_ENCODINGS:
        raise UnsupportedEncoding(f"unsupported depth encoding {enc!r}; handled: {', '.join(DEPTH_ENCODINGS)}")
    a = _as_array(msg, enc)
    if enc == "16UC1":
        depth = a.astype(np.float32) / 1000.0
        depth[a == 0] = np.nan  # 0 means no reading
        return depth
    depth = a.astype(np.float32, copy=True)
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def rgb_to_image_fields(rgb: np.ndarray, encoding: str = "bgr8") -> tuple[int, int, int, bytes]:
    """(height, width, step, data) of an HxWx3 RGB array encoded as rgb8 or bgr8."""
    if encoding == "bgr8":
        rgb = rgb[..., ::-1]
    elif encoding != "rgb8":
        raise UnsupportedEncoding(f"cannot encode {encoding!r}")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return h, w, w * 3, rgb.tobytes()
