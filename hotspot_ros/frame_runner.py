"""The node's two frame stages, each a worker thread that runs the newest job only.

"prepare" decodes the newest matched frame, selects its objects and looks up reusable results
(``hotspot_core.frame.FramePipeline.prepare``); a frame whose objects are all reused is finished and
published right there, without waiting for the model. Otherwise "inference" runs the model on the new or
changed objects and publishes. Each stage holds at most one waiting frame: a newer one replaces it and the
older is counted as dropped, so work never queues; frames are published in stamp order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sensor_msgs.msg import Image
from vision_msgs.msg import Detection2DArray

from hotspot_core.frame import FramePipeline, FrameResult
from hotspot_core.image.detection_array import detections_from_msg

from .frame_book import FrameBook
from .frame_inputs import FrameInputs, stamp_ns
from .image_codec import CorruptImage, UnsupportedEncoding, depth_to_metres, image_to_rgb
from .params import NodeSettings
from .worker import LatestWorker

# publish(header, rgb, result, action names) and publish_demonstration(header, demonstration)
Publish = Callable[[Any, np.ndarray, FrameResult, tuple[str, ...]], None]


class FrameRunner:
    def __init__(
        self,
        book: FrameBook,
        state: Callable[[], tuple[NodeSettings, FramePipeline | None]],
        now_ns: Callable[[], int],
        publish: Publish,
        publish_demonstration: Callable[[Any, Any], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        self._book, self._state, self._now_ns = book, state, now_ns
        self._publish, self._publish_demonstration = publish, publish_demonstration
        self.inputs: FrameInputs | None = None  # set by the node: camera_info and the time-jump span
        self._prepare = LatestWorker(lambda frame: self._process(*frame), on_error, "hotspot_prepare")
        self._inference = LatestWorker(self._infer, on_error, "hotspot_inference")
        self._publish_lock = threading.Lock()
        self._last_published = -1  # stamp (ns) of the newest frame published: never publish an older one

    def start(self) -> None:
        self._prepare.start()
        self._inference.start()

    def stop(self) -> None:
        self._prepare.stop()  # a frame being processed finishes first
        self._inference.stop()

    def submit(self, frame: tuple) -> bool:
        """Hand a matched frame to the prepare stage; True when it replaced one still waiting."""
        return self._prepare.submit(frame) is not None

    def pending(self) -> int:
        return self._prepare.pending() + self._inference.pending()

    def _process(
        self, image: Image, det: Detection2DArray, depth: Image | None, hands: Detection2DArray | None
    ) -> None:
        s, pipeline = self._state()
        if pipeline is None:
            return
        book = self._book
        if s.max_frame_age_sec > 0:
            age = (self._now_ns() - stamp_ns(image.header)) / 1e9
            if age > s.max_frame_age_sec:
                book.count("frames_dropped_stale")
                book.warn("stale", f"dropping frame {age:.2f} s old (max_frame_age_sec {s.max_frame_age_sec})")
                return
        t0 = time.perf_counter()
        try:
            rgb = image_to_rgb(image)
        except UnsupportedEncoding as exc:
            book.count("images_bad_encoding")
            book.warn("encoding:" + image.encoding, f"image dropped: {exc}")
            return
        except CorruptImage as exc:
            book.count("images_corrupt")
            book.warn("corrupt", f"image dropped, corrupt: {exc}")
            return
        info = self.inputs.camera_info if self.inputs is not None else None
        k = np.asarray(info.k, np.float64).reshape(3, 3) if info is not None else None
        if info is None and s.use_depth:  # depth without a camera model gives nothing in 3-D: say so
            book.count("camera_info_missing")
            book.warn(
                "camera_info_missing",
                f"no camera_info received yet on {self.inputs.camera_info_topic if self.inputs else 'camera_info'}: "
                "frame processed without 3-D peaks, normals, points or markers (its depth is unused)",
            )
        depth_m = self._decode_depth(depth) if depth is not None and info is not None else None
        t_decode = time.perf_counter() - t0
        objects, hand_list = detections_from_msg(det), detections_from_msg(hands)
        without_id = sum(not d.detection_id for d in objects)
        if without_id:  # normal for many detectors; outputs are then keyed by class and box order
            book.count("detections_without_id", without_id)
        prepared = pipeline.prepare(rgb, objects, hand_list, depth_m, k, stamp_ns(image.header))
        if prepared.demonstration is not None:  # published now: the frame itself may yet be dropped
            self._publish_demonstration(image.header, prepared.demonstration)
        job = (image.header, prepared, pipeline, t0, t_decode, False)
        if not prepared.needs_inference:
            self._complete(job, refresh=False)  # all reused: no wait for an inference in flight
            job = job[:-1] + (True,)  # old results due for a refresh are recomputed in the background
        if prepared.needs_inference or prepared.refresh:
            replaced = self._inference.submit(job)
            if replaced is not None and not replaced[-1]:
                book.count("frames_dropped_busy")  # the newest frame replaced one waiting for the model

    def _infer(self, job: tuple) -> None:
        header, prepared, pipeline, t0, t_decode, refresh_only = job
        if not refresh_only:
            self._complete(job)
            return
        self._book.count("objects_processed", pipeline.refresh(prepared))

    def _complete(self, job: tuple, refresh: bool = True) -> None:
        header, prepared, pipeline, t0, t_decode, _ = job
        result = pipeline.complete(prepared, refresh)
        jump_ns = self.inputs.jump_ns if self.inputs is not None else 0
        t1 = time.perf_counter()
        with self._publish_lock:  # both stages publish: in stamp order, an older frame is dropped
            # ... unless older by more than a time jump: a new time line (a bag replayed in a loop)
            published = prepared.stamp_ns >= self._last_published or (
                jump_ns > 0 and self._last_published - prepared.stamp_ns > jump_ns
            )
            if published:
                self._last_published = prepared.stamp_ns
                self._publish(header, prepared.rgb, result, pipeline.actions)
        t2 = time.perf_counter()
        book = self._book
        with book.lock:
            book.counters.add(result.counts.as_dict())
            book.counters.frames_processed += published
            book.counters.frames_dropped_busy += not published  # a newer frame was published meanwhile
        for kind, text in result.warnings:
            book.warn(kind, text)
        if published:
            times = result.times
            book.latency.add_frame(
                {
                    "preprocess": t_decode + times.preprocess,
                    "inference": times.inference,
                    "postprocess": times.postprocess,
                    "publish": t2 - t1,
                    "total": t2 - t0,
                }
            )

    def _decode_depth(self, depth: Image) -> np.ndarray | None:
        try:
            return depth_to_metres(depth)
        except (UnsupportedEncoding, CorruptImage) as exc:
            self._book.count("depth_unusable")
            self._book.warn("depth_decode", f"depth ignored: {exc}")  # a kind of its own: not throttled by size
            return None
