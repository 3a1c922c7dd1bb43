"""Front-end independent DAN inference: a clip of RGB frames -> action, object(s), attention, box, interval.

The recognition uses ``num_frames`` frames sampled TSN-style (segment middles); the priors of that
first prediction then guide the attention of *every* frame of the clip (as the paper localises), the
object attention gives the temporal interval and, on the last frame, the object's box.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from hotspot_core.dan.localisation import BOX_THRESHOLD, TemporalLocalisation, attention_boxes, temporal_localisation
from hotspot_core.dan.model import DualAttentionNetwork
from hotspot_core.image.preprocess import to_input_batch

__all__ = ["DANPredictor", "Recognition", "sample_middles"]


@dataclass
class Recognition:
    """What a DAN saw in a clip. Scores are softmax probabilities of the final prediction.

    second_object is "" for a single-object action (null label). action_attention / object_attention:
    (F,h,w) maps of every input frame, each summing to 1 (None for models without attention). box /
    second_box: (x0, y0, x1, y1) source-image pixels of the object attention's largest (second largest)
    region on the last frame, or None. temporal: frames [start, end) of the action within the clip.
    """

    action: str
    action_score: float
    object: str
    object_score: float
    second_object: str
    second_object_score: float
    action_scores: np.ndarray
    object_scores: np.ndarray
    sampled_frames: np.ndarray
    action_attention: np.ndarray | None
    object_attention: np.ndarray | None
    box: tuple[float, float, float, float] | None
    second_box: tuple[float, float, float, float] | None
    temporal: TemporalLocalisation | None
    seconds: float


def sample_middles(num_frames: int, segments: int) -> np.ndarray:
    """The middle frame of each of ``segments`` equal parts (TSN evaluation sampling)."""
    edges = np.linspace(0, num_frames, segments + 1)
    return np.clip(np.floor((edges[:-1] + edges[1:]) / 2).astype(np.int64), 0, num_frames - 1)


class DANPredictor:
    """Runs a ``DualAttentionNetwork`` on clips of whole RGB frames (uint8 HxWx3)."""

    def __init__(
        self, model: DualAttentionNetwork, device: str | torch.device = "cpu", box_threshold: float = BOX_THRESHOLD
    ) -> None:
        if str(device) == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = model.config
        self.box_threshold = box_threshold

    @property
    def input_size(self) -> int:
        return self.config.input_size

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """A frame resized straight to the model's input size (what a clip buffer needs to keep)."""
        s = self.config.input_size
        if rgb.shape[:2] == (s, s):
            return rgb
        return cv2.resize(rgb, (s, s), interpolation=cv2.INTER_AREA)

    @torch.no_grad()
    def recognise(
        self, frames: Sequence[np.ndarray], fps: float, image_size: tuple[int, int] | None = None
    ) -> Recognition:
        """Recognise the interaction in ``frames`` (oldest first) recorded at ``fps``.

        image_size (H, W): the source frames' size when ``frames`` were already ``prepare``d; boxes are
        given in those pixels (default: the frames' own size).
        """
        if not frames:
            raise ValueError("no frames")
        t0 = time.perf_counter()
        cfg = self.config
        size = tuple(image_size) if image_size is not None else frames[-1].shape[:2]
        batch = to_input_batch([self.prepare(f) for f in frames], cfg.mean, cfg.std, self.device)
        feats = self.model.backbone(batch)[None]  # (1,F,d,h,w)
        idx = sample_middles(len(frames), cfg.num_frames)
        out = self.model(feats[:, torch.from_numpy(idx).to(self.device)], prior="predicted")
        p_action = out.action.softmax(-1)[0].cpu().numpy() if out.action is not None else np.zeros(cfg.num_actions)
        p_object = out.object.softmax(-1)[0].cpu().numpy() if out.object is not None else np.zeros(cfg.num_objects)
        a, o = int(p_action.argmax()), int(p_object.argmax())
        second, second_score = "", 0.0
        if out.object2 is not None:
            p2 = out.object2.softmax(-1)[0].cpu().numpy()
            k = int(p2.argmax())
            if k < cfg.num_objects:
                second, second_score = cfg.second_objects[k], float(p2[k])
        alpha = beta = None
        box = second_box = temporal = None
        if cfg.attends:
            p_a, p_o = self.model.priors(out.first)
            cells = self.model.project(feats)
            al, be = self.model.attention_maps(cells, p_a, p_o)
            grid = self.model.project.grid(feats)
            alpha = al[0].view(-1, *grid).cpu().numpy()
            beta = be[0].view(-1, *grid).cpu().numpy()
            regions = attention_boxes(beta[-1], self.box_threshold, two_objects=bool(second), image_size=size)
            box = regions[0].box if regions else None
            second_box = regions[1].box if len(regions) > 1 else None
            temporal = temporal_localisation(beta, fps) if fps > 0 else None
        return Recognition(
            cfg.actions[a],
            float(p_action[a]),
            cfg.objects[o],
            float(p_object[o]),
            second,
            second_score,
            p_action,
            p_object,
            idx,
            alpha,
            beta,
            box,
            second_box,
            temporal,
            time.perf_counter() - t0,
        )
