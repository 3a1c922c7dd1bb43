#!/usr/bin/env python3
"""How good is the contact cue, and how far would a perfect one go? (issue 11, the fix's second step)

    OMP_NUM_THREADS=1 .venv/bin/python scripts/probes/contact_probe.py --data-root runs/p/world_seen \\
        --checkpoint runs/p/seen/ours/model.safetensors --split seen

A diagnostic, not a method: it uses the synthetic world's hidden truth, which the package's training never
sees. It regenerates the world of ``--data-root`` (the protocol's: seed 0, 4 products and 16 clips per
category, 4 test products; it must write the same annotations) while recording, for every training clip,
the box of the part its verb needs in the clip's *first* frame. Then:

1. **cue quality**: the share of training clips whose cue peaks inside that box -- the contact cue
   (``training.contact``) and the plain difference of the last 3 frames from the first (the ``motion`` fit's
   weights);
2. **ceilings of the fit**: ``training.locate``'s 'contact' fit with its contact region (a disc) moved to
   the true box's centre, then with the true box in place of the region (same object map, carrying and
   fit), and the same logistic fit trained on the clips' first frames
   with the true boxes (no carrying to the product images), each scored on the test images like
   ``training.evaluate`` (``hotspot_core.eval.part_metrics``; the located read-out). ``training.locate``'s
   settings (``--arm-tolerance``, ``--tip-radius``, ``--temperature``, ...) are taken as it takes them.
3. **the part's extent** (``--extent-only`` runs only this; issue 21): the contact fit's targets on the
   training *product images* (one per (image, verb)), with ``--extent none`` and with ``grow`` at each
   ``--grow-similarities`` value, against the product image's part box (hidden truth of the world's
   ``train_images``): for the small parts, the share whose peak is in the box, the IoU and the coverage of
   the box by the target's cells >= 0.5, and the share of the target's mass inside the box; then the fit on
   each, scored on the test images with the located read-out (Eq. 4 map times the softmax over actions of
   the part head) and, as a diagnostic, with the fitted logistic map alone (the sigmoid of the verb's
   channel, no Eq. 4 map; no map form of the package reads it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.metrics import evaluate, format_stat  # noqa: E402
from hotspot_core.eval.part_metrics import format_part_metrics, part_metrics  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model  # noqa: E402
from training.contact import contact_cue  # noqa: E402
from training.data.clips import load_rgb  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.transforms import EvalTransform  # noqa: E402
from training.evaluate import _image_id, build_test_images, part_items  # noqa: E402
from training.locate import (  # noqa: E402
    ContactTargets,
    LocateConfig,
    contact_targets,
    fit_part_maps,
    training_clips,
)
from training.synthetic import WorldConfig, generate_world  # noqa: E402
from training.synthetic.draw import part_polygons_px  # noqa: E402


class FirstFramePart:
    """A ``ClipRecorder`` keeping the clip's first frame's box (x0, y0, x1, y1 px) of its verb's part."""

    def __init__(self) -> None:
        self.first = None

    def background(self, *args) -> None:
        pass

    def frame(self, inst, pose, states, tip, direction, hand_size, contact) -> None:
        if self.first is None:
            self.first = (inst, pose, dict(states))

    def box(self, verb_part: str) -> tuple[float, ...]:
        inst, pose, states = self.first
        part = inst.category.part(verb_part)
        pts = np.concatenate(part_polygons_px(inst, pose, part, states.get(part.name)))
        pad = max((sh.thickness for sh in part.shapes), default=0.0) * pose.size / 2
        return (*(pts.min(0) - pad), *(pts.max(0) + pad))


def box_mask(box: tuple[float, ...], image_size: int, grid: int) -> np.ndarray:
    """(grid, grid) float32: 1 where the cell centre lies in ``box`` (pixels of an image_size square)."""
    c = (np.arange(grid) + 0.5) / grid * image_size
    x0, y0, x1, y1 = box
    return (((c >= y0) & (c <= y1))[:, None] & ((c >= x0) & (c <= x1))[None]).astype(np.float32)


def peak_in(cue: np.ndarray | torch.Tensor, mask: np.ndarray) -> bool:
    cue = np.asarray(cue)
    r, c = np.unravel_index(np.argmax(cue), cue.shape)
    return bool(mask[r * mask.shape[0] // cue.shape[0], c * mask.shape[1] // cue.shape[1]])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="the protocol's world of --split")
    p.add_argument("--checkpoint", required=True, help="that split's 'ours' model (map_form eq4)")
    p.add_argument("--split", choices=("seen", "novel"), required=True)
    p.add_argument("--cue-only", action="store_true", help="only part 1 (the cue's quality)")
    p.add_argument("--extent-only", action="store_true", help="only part 3 (the part's extent)")
    p.add_argument("--grow-similarities", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9])
    for f in dataclasses.fields(LocateConfig):  # the contact fit's settings, as training.locate takes them
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    recorders: list[FirstFramePart] = []

    def recorder() -> FirstFramePart:
        recorders.append(FirstFramePart())
        return recorders[-1]

    cfg_world = WorldConfig(
        seed=0, split=args.split, products_per_category=4, clips_per_category=16, test_per_category=4
    )
    with tempfile.TemporaryDirectory() as tmp:
        annots = generate_world(Path(tmp) / "w", cfg_world, clip_recorder=recorder)
    if annots != json.loads((args.data_root / "annotations.json").read_text()):
        print(f"error: {args.data_root} is not the protocol's {args.split} world", file=sys.stderr)
        return 2
    size = cfg_world.image_size
    entries = annots["train_clips"]
    boxes = [rec.box(e["part"]) for rec, e in zip(recorders, entries)]  # train clips come first
    model = load_model(args.checkpoint).eval()
    cfg = LocateConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(LocateConfig)})
    clips = training_clips(DatasetConfig(name="opra", root=args.data_root))
    tf = EvalTransform(model.config.input_size, model.config.mean, model.config.std)
    if args.extent_only:
        return extent_part(args, annots, model, clips, cfg, tf)

    # 1. cue quality on the training clips
    hits = {k: [] for k in ("contact", "frame difference")}
    first_x, grid_masks = [], []
    for clip, box in zip(clips, boxes):
        frames = [np.asarray(load_rgb(f)) for f in clip.frames]
        with torch.no_grad():
            x = model.features(tf(load_rgb(clip.frames[0]))[None])
        first_x.append(x[0])
        grid_masks.append(box_mask(box, size, x.shape[-2]))
        fine = box_mask(box, size, cfg.cue_size)
        cue = contact_cue(frames, cfg.contact)
        cue = np.ones((cfg.cue_size, cfg.cue_size), np.float32) if cue is None else cue
        hits["contact"].append(peak_in(cue, fine))
        last = np.stack(frames[-3:]).astype(np.float32)
        diff = torch.from_numpy(np.abs(last - frames[0].astype(np.float32)).mean((0, 3)))
        hits["frame difference"].append(peak_in(diff, box_mask(box, size, diff.shape[0])))
    print(f"== cue peak inside the part box of the clip's first frame ({len(clips)} training clips)")
    for k, v in hits.items():
        print(f"{k}: {np.mean(v):.3f}")
    if args.cue_only:
        return 0

    # 2. ceilings of the fit, scored on the test images
    test = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(test)
    test_x = {}
    for i, e in enumerate(test.entries):
        if _image_id(e) not in test_x:
            with torch.no_grad():
                test_x[_image_id(e)] = model.features(tf(load_rgb(test.image_path(i)))[None])

    def score(name: str, data: ContactTargets) -> None:
        head = fit_part_maps(data, model.config.num_actions, cfg)
        maps = {}
        with torch.no_grad():
            for k, x in test_x.items():
                maps[k] = (model.hotspot_maps(x)[0] * torch.softmax(head(x)[0], 0)).numpy()
        print(f"== {name}\n{format_part_metrics(part_metrics(maps, items))}", flush=True)

    index = {id(c): i for i, c in enumerate(clips)}
    score("contact fit (the contact cue, as training.locate)", contact_targets(model, clips, cfg))

    def centre_disc(clip: object, frames: object) -> np.ndarray:
        x0, y0, x1, y1 = boxes[index[id(clip)]]
        c = (np.arange(cfg.cue_size) + 0.5) / cfg.cue_size * size
        r = cfg.tip_radius * size / cfg.cue_size
        return (((c[:, None] - (y0 + y1) / 2) ** 2 + (c[None] - (x0 + x1) / 2) ** 2) <= r * r).astype(np.float32)

    score(
        "contact fit with a contact region of the same radius at the true part box's centre",
        contact_targets(model, clips, cfg, cue=centre_disc),
    )
    true_box = contact_targets(
        model, clips, cfg, cue=lambda clip, frames: box_mask(boxes[index[id(clip)]], size, cfg.cue_size)
    )
    score("contact fit with the true part box in place of the cue", true_box)
    on_frames = ContactTargets(
        torch.stack(first_x), torch.from_numpy(np.stack(grid_masks)), torch.tensor([c.verb for c in clips]), 0
    )
    score("the same logistic fit on the clips' first frames with the true part box (not carried)", on_frames)
    return extent_part(args, annots, model, clips, cfg, tf)


def product_boxes(annots: dict, grid: int) -> dict[tuple[tuple[str, ...], int], tuple[np.ndarray, bool]]:
    """(product image's path parts, verb) -> (grid x grid mask of the cells whose centre is in the part box, small part)
    from the world's ``train_images`` (hidden truth; the image is resized straight to the grid, as the model
    sees it)."""
    out = {}
    for t in annots["train_images"]:
        (r0, r1), (c0, c1), (h, w) = t["part_rows"], t["part_cols"], t["shape"]
        ry, cx = (np.arange(grid) + 0.5) / grid * h, (np.arange(grid) + 0.5) / grid * w
        mask = ((ry >= r0) & (ry < r1 + 1))[:, None] & ((cx >= c0) & (cx < c1 + 1))[None]
        out[(tuple(t["image"]), int(t["verb"]))] = (mask, t["part"] != "body")
    return out


def extent_part(args, annots, model, clips, cfg: LocateConfig, tf: EvalTransform) -> int:
    """Part 3: the contact targets on the product images with and without the grown extent, then the fit."""
    test = build_test_images(DatasetConfig(name="opra", root=args.data_root), split="test")
    items = part_items(test)
    gts = {k: test.heatmap(i).numpy() for i, k in enumerate(test.keys())}
    test_x = {}
    for i, e in enumerate(test.entries):
        if _image_id(e) not in test_x:
            with torch.no_grad():
                test_x[_image_id(e)] = model.features(tf(load_rgb(test.image_path(i)))[None])
    keys = list(dict.fromkeys((c.image, c.verb) for c in clips))  # contact_targets' order
    print("== the part's extent: contact targets on the training product images against their part boxes")
    for extent in [("none", cfg.grow_similarity), *(("grow", s) for s in args.grow_similarities)]:
        c = dataclasses.replace(cfg, extent=extent[0], grow_similarity=extent[1])
        data = contact_targets(model, clips, c)
        boxes = product_boxes(annots, data.targets.shape[-1])
        depth = len(annots["train_images"][0]["image"])
        rows = []
        for (image, verb), t in zip(keys, data.targets.numpy()):
            mask, small = boxes[(image.parts[-depth:], verb)]
            on = t >= 0.5
            rows.append((small, mask.flat[np.argmax(t)], (on & mask).sum() / (on | mask).sum(),
                         (on & mask).sum() / max(mask.sum(), 1), (t * mask).sum() / t.sum()))  # fmt: skip
        r = np.array([row[1:] for row in rows if row[0]], float)
        name = "extent none" if extent[0] == "none" else f"extent grow, similarity {extent[1]}"
        print(f"{name}: {len(r)} small-part targets: peak in box {r[:, 0].mean():.3f}, IoU {r[:, 1].mean():.3f}, "
              f"coverage {r[:, 2].mean():.3f}, mass in box {r[:, 3].mean():.3f}", flush=True)  # fmt: skip
        head = fit_part_maps(data, model.config.num_actions, c)
        forms = {
            "located read-out": lambda e, logits: e * torch.softmax(logits, 0),
            "logistic map alone (diagnostic)": lambda e, logits, t=c.temperature: torch.sigmoid(logits * t),
        }
        for form, read in forms.items():
            with torch.no_grad():
                maps = {k: read(model.hotspot_maps(x)[0], head(x)[0]).numpy() for k, x in test_x.items()}
            pm = part_metrics(maps, items)
            sc = evaluate({k: maps[it.image][it.action] for k, it in zip(test.keys(), items)}, gts, res=28, seed=0)
            print(f"  fit, {form}: small-part peak {format_stat(pm['peak_on_part']['small'])}, own - mean hit "
                  f"{format_stat(pm['vs_mean']['hit'], signed=True)}, KLD {format_stat(sc['KLD'])}, "
                  f"SIM {format_stat(sc['SIM'])}, AUC-J {format_stat(sc['AUC-J'])}", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    cli.run(main)
