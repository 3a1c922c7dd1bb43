#!/usr/bin/env python3
"""Does *where the clip moves* tie each verb to a part? A weakly supervised read-out (issue 11, the fix).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/motion_probe.py --data-root runs/fd/world_seen \
        --checkpoint models/demo_synthetic_efficientnet_lite0.safetensors

A diagnostic, not a method of the package. It uses only what weak supervision has (the training clips'
frames and verbs; no part boxes, no points, no hand detector): for each training clip, the last
``--frames`` frames' frozen features x_t are pooled with weights where the frame differs from the clip's
first frame (|f_t - f_0|, area-averaged to the feature grid, raised to ``--power``): the place where the
action happens. One linear layer per action (C -> A) is trained with cross-entropy on these local
features and the clip's verb, then read out as per-action maps (a 1x1 conv) on the test catalogue
images, scored with ``hotspot_core.eval.part_metrics`` beside the global-pooling MIL read-out of
``scripts/probes/mil_probe.py`` (the same layer trained on globally pooled features of the same frames:
``--power 0``). The checkpoint only gives the backbone and input size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.part_metrics import format_part_metrics, part_metrics  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.data import OPRAClips  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402
from training.locate import LocateConfig, clip_features_and_motion, fit_part_head, pool_features  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--frames", type=int, default=3, help="the last frames of each clip (the action)")
    p.add_argument("--power", type=float, nargs="+", default=[0.0, 1.0, 2.0, 4.0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument(
        "--features-from",
        choices=("first", "last"),
        default="last",
        help="pool the action frames' features (last) or the clip's first frame's (first)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(args.checkpoint).eval()
    cfg = model.config
    tf = EvalTransform(cfg.input_size, cfg.mean, cfg.std)
    clips = OPRAClips.from_config(DatasetConfig(name="opra", root=args.data_root), split="train", train=False)
    items_train = [(it.frames, it.verb) for it in clips.items]
    y = torch.tensor([v for frames, v in items_train for _ in range(min(args.frames, len(frames)))])
    test = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(test)
    test_feats = {}
    for i, e in enumerate(test.entries):
        img = _image_id(e)
        if img not in test_feats:
            with torch.no_grad():
                test_feats[img] = model.features(tf(load_rgb(test.image_path(i)))[None])[0]
    with torch.no_grad():
        eq4 = {k: model.hotspot_maps(f[None])[0].clamp_min(0).numpy() for k, f in test_feats.items()}
    print(format_part_metrics(part_metrics(eq4, items)).replace("peak", "(model's Eq. 4) peak"))
    print(f"{len(clips.items)} training clips, {len(y)} frames ({args.frames} per clip), {len(items)} test pairs")
    # features and motion once per clip; each power only re-weights them
    inputs = [
        clip_features_and_motion(model, tf, f, args.frames, args.features_from == "first") for f, _ in items_train
    ]
    for power in args.power:
        pooled = torch.cat([pool_features(x, motion, power) for x, motion in inputs])
        fit = LocateConfig(frames=args.frames, power=power, temperature=1.0, epochs=args.epochs)
        head = fit_part_head(pooled, y, cfg.num_actions, fit)  # the same fit as training.locate
        with torch.no_grad():
            loss = F.cross_entropy(head(pooled[:, :, None, None])[:, :, 0, 0], y)
        with torch.no_grad():
            maps = {k: head(f[None])[0].numpy() for k, f in test_feats.items()}
        what = "global average (the MIL baseline)" if power == 0 else f"motion-weighted, power {power:g}"
        print(f"== {what}: training loss {loss.item():.3f}")
        print(format_part_metrics(part_metrics(maps, items)), flush=True)
        # Where (the model's Eq. 4 maps, action-agnostic in practice) times which action at each place
        # (softmax over actions of the read-out at that cell).
        combined = {k: eq4[k] * torch.softmax(torch.from_numpy(m), 0).numpy() for k, m in maps.items()}
        print(f"== {what}, times the model's Eq. 4 maps")
        print(format_part_metrics(part_metrics(combined, items)), flush=True)
    return 0


if __name__ == "__main__":
    cli.run(main)
