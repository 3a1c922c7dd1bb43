#!/usr/bin/env python3
"""Where the demonstrations model's gap to the generated-dataset model comes from (issue 19's benchmark).

    OMP_NUM_THREADS=2 .venv/bin/python scripts/probes/demo_fit_probe.py /tmp/bench19_s1

Reads a work folder of ``scripts/bench_demonstrations.py`` (``--work``): its recordings-trained run
(``gt/run``), its dataset (``gt/dataset``) and the generated dataset's run (``world_run/run``, ``world``), and
scores on the world's test images, as the benchmark does (``training.evaluate``: KLD, SIM, AUC-J and
peak-on-part, mean ± standard error). No hidden truth is read. It prints:

1. **the at-rest views of the contact fit**: the recordings-trained run located (``training.locate``, the
   frame-difference cue) on some of each clip's views (``BuildConfig.fit_images`` and ``fit_mirror``: the
   window, the tight box, the mid view, each mirrored): window only, tight only, window + tight (the default
   before), those two and their mirror images, those two and mid, all six (the default), with the fit's seeds
   (``--fit-seeds``, 0 1 2); the work folder's dataset must hold all six (built by the default build);
2. **model or clips**: each run's Eq. 4 maps alone (not located), and each run located on each dataset's
   clips (the recordings' with all their views);
3. with ``--train-seeds S ...``: **training noise**: both runs trained again with each training seed (the
   benchmark's settings, their feature caches reused) and located as the benchmark does (fit seed 0; the
   generated-dataset run also with the usual fit, no extent).

4. **a product photo per object**: the recordings' clips carried, instead of (or besides) their at-rest
   views, to a catalogue photo of their scene object (``training.demonstrations.scene.product_photos``: the
   world's renderer on the scene's own objects, as a user's one photo of each object on a plain background
   would be) and its mirror image; the recordings-trained run, fit seed 0.

Every fit is ``teach``'s (``TeachConfig.locate_config``) with the fit seed: the part's extent grown, unless
``--extent none`` (the fit before; the rows of docs/demonstrations-research.md measured before it are that).
``--sections`` runs some of the four; ``--test scene_views`` scores on the benchmark's held-out objects in
the scene's view instead of the world's catalogue photos.
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
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hotspot_core import cli  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model, save_checkpoint  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.test_images import HotspotTestImages  # noqa: E402
from training.demonstrations.pipeline import TeachConfig, contact_cues, fit_clips  # noqa: E402
from training.demonstrations.scene import SCENE_TRUTH, product_photos, scene_config  # noqa: E402
from training.evaluate import evaluate_methods  # noqa: E402
from training.locate import EXTENTS, LocateClip, locate_model, training_clips  # noqa: E402
from training.make_demo_model import demo_train_config  # noqa: E402
from training.train import train  # noqa: E402

VIEW_SETS = (
    ("window",),
    ("tight",),
    ("window", "tight"),
    ("window", "tight", "window_mirror", "tight_mirror"),
    ("window", "tight", "mid"),
    ("window", "tight", "mid", "window_mirror", "tight_mirror", "mid_mirror"),
)


def view(clip: LocateClip) -> str:
    """A fit clip's at-rest view by its file name: NNNN.jpg is the window, NNNN_<view>.jpg the others."""
    _, _, rest = clip.image.stem.partition("_")
    return rest or "window"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("work", type=Path, help="a scripts/bench_demonstrations.py --work folder")
    p.add_argument("--fit-seeds", type=int, nargs="+", default=[0, 1, 2], help="section 1's fit seeds")
    p.add_argument("--train-seeds", type=int, nargs="*", default=[], help="section 3's training seeds (none: skip)")
    p.add_argument("--extent", choices=EXTENTS, default=TeachConfig().extent, help="the fits' part extent")
    p.add_argument("--sections", type=int, nargs="+", choices=(1, 2, 3, 4), default=[1, 2, 3, 4])
    p.add_argument(
        "--test",
        choices=("world", "scene_views"),
        default="world",
        help="score on the world's test images (catalogue photos) or on the benchmark's held-out objects in "
        "the scene's view (its scene_views folder)",
    )
    a = p.parse_args(argv)
    if not (a.work / a.test / "annotations.json").is_file():
        raise FileNotFoundError(2, "No test set there (a benchmark work folder of an older run?)", str(a.work / a.test))
    ds = HotspotTestImages.from_config(DatasetConfig(name="opra", root=a.work / a.test))
    rec, world = a.work / "gt" / "run" / "model.safetensors", a.work / "world_run" / "run" / "model.safetensors"
    tmp = Path(tempfile.mkdtemp(prefix="demo_fit_probe_"))

    def score(name: str, method: str, path: Path) -> None:
        r = evaluate_methods([(method, str(path))], ds, torch.device("cpu"))[method]
        m, peak = r["metrics"], r["part_metrics"]["peak_on_part"]["all"]
        cells = " | ".join(f"{k} {m[k]['mean']:.3f} ± {m[k]['sem']:.3f}" for k in ("KLD", "SIM", "AUC-J"))
        print(f"{name}: {cells} | peak on part {peak['mean']:.3f} ± {peak['sem']:.3f}", flush=True)

    def located(base: Path, clips: list[LocateClip], seed: int, frames_cue: bool, extent: str | None = None) -> Path:
        cfg = TeachConfig(extent=extent or a.extent, seed=seed).locate_config()
        out = tmp / "model.safetensors"
        cue = contact_cues(a.work / "gt" / "dataset", cfg.contact, hands=False)[0] if frames_cue else None
        save_checkpoint(locate_model(load_model(base), clips, cfg, cue), out)
        return out

    both = fit_clips(a.work / "gt" / "dataset")
    missing = set(VIEW_SETS[-1]) - {view(c) for c in both}
    if missing:
        raise SystemExit(
            f"{a.work / 'gt' / 'dataset'} has no {sorted(missing)} views: rebuild it with the default build"
        )
    if 1 in a.sections:
        print(f"== 1. the contact fit's at-rest views (the recordings-trained run), extent {a.extent}")
        for kinds in VIEW_SETS:
            clips = [c for c in both if view(c) in kinds]
            for seed in a.fit_seeds:
                score(f"{' + '.join(kinds)}, fit seed {seed}", "ours_located", located(rec, clips, seed, True))
    world_clips = training_clips(DatasetConfig(name="opra", root=a.work / "world"))
    if 2 in a.sections:
        print(f"== 2. model or clips, extent {a.extent}")
        score("recordings-trained run, Eq. 4 maps alone", "ours", rec)
        score("generated-dataset run, Eq. 4 maps alone", "ours", world)
        for name, base, clips, frames_cue in (
            ("recordings-trained run located on the recordings' clips", rec, both, True),
            ("recordings-trained run located on the generated clips", rec, world_clips, False),
            ("generated-dataset run located on the recordings' clips", world, both, True),
            ("generated-dataset run located on the generated clips", world, world_clips, False),
        ):
            score(name, "ours_located", located(base, clips, 0, frames_cue))
    if 4 in a.sections:
        print(f"== 4. a product photo per object (the recordings-trained run), extent {a.extent}")
        photos = {}
        truth = json.loads((a.work / "scene" / SCENE_TRUTH).read_text(encoding="utf-8"))
        for track, rgb in product_photos(scene_config(truth)).items():
            photos[track] = [tmp / f"{track}.jpg", tmp / f"{track}_mirror.jpg"]
            for path, img in zip(photos[track], (rgb, rgb[:, ::-1])):
                Image.fromarray(np.ascontiguousarray(img)).save(path, quality=92)
        # each clip once (its first view), carried to its object's photo and the photo's mirror image
        firsts: dict[str, LocateClip] = {}
        for c in both:
            firsts.setdefault(c.frames[0], c)
        on_photos = [dataclasses.replace(c, image=im) for c in firsts.values() for im in photos[c.image.parent.name]]
        score("product photos only", "ours_located", located(rec, on_photos, 0, True))
        score("product photos and the six views", "ours_located", located(rec, both + on_photos, 0, True))
    if 3 in a.sections and a.train_seeds:
        print("== 3. training noise (both runs trained again per seed, located with fit seed 0)")
        for seed in a.train_seeds:
            for name, data, cache, clips, frames_cue in (
                ("recordings-trained run", a.work / "gt" / "dataset", a.work / "gt" / "cache", both, True),
                ("generated-dataset run", a.work / "world", a.work / "world_run" / "cache", world_clips, False),
            ):
                cfg = demo_train_config(data, tmp / f"{name[:4]}_{seed}", cache)
                run = train(dataclasses.replace(cfg, seed=seed)).checkpoint
                score(f"{name}, training seed {seed}", "ours_located", located(run, clips, 0, frames_cue))
                if not frames_cue and a.extent != "none":  # the generated dataset's usual fit too
                    score(
                        f"{name}, training seed {seed}, usual fit",
                        "ours_located",
                        located(run, clips, 0, False, "none"),
                    )
    return 0


if __name__ == "__main__":
    cli.run(main)
