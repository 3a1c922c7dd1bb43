"""Benchmark of teaching it your objects (issue 19): recording -> deployed model, and how good that model is.

    .venv/bin/python scripts/bench_demonstrations.py --demos 40 --seed 1 --work /tmp/bench_demos --json bench.json

1. A synthetic demonstration scene of ``--demos`` demonstrations (the recording; its writing is not timed).
2. Recording -> deployed model, timed: ``training.demonstrations.pipeline.teach`` (find -> labels -> build ->
   training.train with the demo model's settings -> training.locate, frame-difference cue, the part maps fitted
   on each clip's at-rest views, grown to the part's extent) with the verbs from the scene's ground truth, as
   an interval file a person would write; the same trained run located again with the recorded hand boxes as
   the contact cue (``--cue hands``), and without the part's extent (``--extent none``, the fit before).
3. The same found interactions labelled by the shipped demo DAN (``--min-confidence``); labels outside the
   world's seven verbs (the DAN's two-object actions) are left out and counted.
4. The comparison: a model trained the usual way (``training.make_demo_model``'s settings) on a *generated*
   dataset of the same object categories with the same clips per (category, verb) as the recording's dataset
   (``training.synthetic``: one product per category, as the scene has one object each), its contact fit
   made twice: with ``training.locate``'s defaults (no extent, as the shipped demo model) and with the
   recordings' fit (``TeachConfig.locate_config``). Both draw verbs at random, so the world is generated with
   enough clips per category and its ``train_clips`` cut to the first clips of each (category, verb), as many
   as the recording has (``--world-clips per-category`` instead: the same number of clips per category,
   verbs as drawn).
5. All of them, and center bias, scored by ``training.evaluate`` on the generated world's held-out test images
   (other instances of the same categories, catalogue photos): KLD, SIM, AUC-J and peak-on-part, mean ±
   standard error.
6. The same on held-out objects as the robot's camera sees them (``training.demonstrations.scene_views``: as
   many other instances per category, on the scene's table among other objects, in find's at-rest window).

Every clip count per verb is allowed down to 1 (``min_clips`` 1): the scene draws verbs at random.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hotspot_core import cli  # noqa: E402
from hotspot_core.demo_model import demo_dan_path  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.test_images import HotspotTestImages  # noqa: E402
from training.demonstrations.build import BuildConfig  # noqa: E402
from training.demonstrations.labels import dan_labels, write_labels, write_truth_intervals  # noqa: E402
from training.demonstrations.pipeline import TeachConfig, contact_cues, fit_clips, teach  # noqa: E402
from training.demonstrations.scene import SCENE_BAG, SceneConfig, make_scene  # noqa: E402
from training.demonstrations.scene_views import SceneViewConfig, write_scene_views  # noqa: E402
from training.demonstrations.score import score  # noqa: E402
from training.evaluate import evaluate_methods  # noqa: E402
from training.locate import LocateClip, LocateConfig, locate_model, training_clips  # noqa: E402
from training.make_demo_model import demo_train_config  # noqa: E402
from training.synthetic import VERBS, WorldConfig, generate_world  # noqa: E402
from training.train import train  # noqa: E402

Cue = Callable[[LocateClip, list[np.ndarray]], Any]  # training.locate.contact_targets' cue


def _world_run(world: Path, work: Path, epochs: int) -> Path:
    """The usual training on the generated dataset: training.train with the demo settings; its checkpoint."""
    cfg = demo_train_config(world, work / "run", work / "cache")
    if epochs != cfg.epochs:
        cfg = dataclasses.replace(cfg, epochs=epochs, milestones=None)
    return train(cfg).checkpoint


def _located(run: Path, clips: list[LocateClip], lcfg: LocateConfig, cue: Cue | None, out: Path) -> Path:
    """``run`` located (training.locate) on ``clips`` with ``lcfg`` and ``cue`` (None: the frame cue), at ``out``."""
    _, extra = read_metadata(run)
    save_checkpoint(locate_model(load_model(run), clips, lcfg, cue), out, extra=extra)
    return out


def _category_verb(ann: dict, clip: dict) -> tuple[str, str]:
    """A dataset clip entry's (category, verb) by name."""
    return ann["nouns"][clip["noun"]], ann["verbs"][clip["verb"]]


def _clip_counts(ann: dict) -> Counter[tuple[str, str]]:
    """Training clips per (category, verb) of a dataset's annotations."""
    return Counter(_category_verb(ann, c) for c in ann["train_clips"])


def _verb_matched_world(world: Path, cfg: WorldConfig, counts: Counter[tuple[str, str]]) -> int:
    """Generate ``world`` with ``counts[(category, verb)]`` train clips of each, the first ones the generator
    draws (each clip's verb and frames come from its own RNG stream, so more clips per category leave the first
    ones and the test images unchanged); ``train_clips`` in annotations.json is cut to those. Returns the clips
    per category generated."""
    need = sum(counts.values())
    n = max(1, cfg.clips_per_category)
    while True:
        scratch = world.with_name(world.name + ".draw")
        shutil.rmtree(scratch, ignore_errors=True)
        ann = generate_world(scratch, dataclasses.replace(cfg, clips_per_category=n))
        left = Counter(counts)
        kept = []
        for c in ann["train_clips"]:
            key = _category_verb(ann, c)
            if left[key] > 0:
                left[key] -= 1
                kept.append(c)
        if len(kept) == need:
            break
        if n >= 50 * need:  # a verb the category does not afford would never be drawn
            raise RuntimeError(f"the world draws too few clips of {sorted(+left)} in {n} per category")
        n *= 2
    ann["train_clips"] = kept
    (scratch / "annotations.json").write_text(json.dumps(ann) + "\n", encoding="utf-8")
    scratch.rename(world)
    return n


def _row(name: str, r: dict) -> str:
    m, p = r["metrics"], r["part_metrics"]["peak_on_part"]["all"]
    cells = [f"{m[k]['mean']:.3f} ± {m[k]['sem']:.3f}" for k in ("KLD", "SIM", "AUC-J")]
    return f"| {name} | " + " | ".join(cells) + f" | {p['mean']:.3f} ± {p['sem']:.3f} ({p['n_valid']}) |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--demos", type=int, default=40)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--objects", type=int, default=3)
    p.add_argument("--width", type=int, default=SceneConfig.width, help="the scene camera's pixels")
    p.add_argument("--height", type=int, default=SceneConfig.height)
    p.add_argument("--epochs", type=int, default=60, help="the demo model's 60")
    p.add_argument(
        "--test-per-category", type=int, default=8, help="held-out test products per category (each test set)"
    )
    p.add_argument("--min-confidence", type=float, default=0.5)
    p.add_argument(
        "--world-clips",
        choices=("verb-matched", "per-category"),
        default="verb-matched",
        help="the generated dataset's clips: as many per (category, verb) as the recording's dataset, or the "
        "same number per category with verbs as the generator draws them",
    )
    p.add_argument("--work", type=Path, required=True, help="scratch folder (emptied first)")
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args(argv)
    if a.work.exists():
        shutil.rmtree(a.work)
    a.work.mkdir(parents=True)
    out: dict = {"args": {k: str(v) for k, v in vars(a).items()}, "threads": torch.get_num_threads()}
    out["cpus"] = os.cpu_count()

    scene_cfg = SceneConfig(demos=a.demos, seed=a.seed, objects=a.objects, width=a.width, height=a.height)
    truth = make_scene(a.work / "scene", scene_cfg)
    bag = a.work / "scene" / SCENE_BAG
    intervals = write_truth_intervals(truth, a.work / "intervals.csv")
    build = BuildConfig(min_clips=1, verbs=VERBS)

    # 2. recording -> deployed model (timed end to end, find included)
    t0 = time.perf_counter()
    tcfg = TeachConfig(build=build, epochs=a.epochs)
    gt = teach(bag, a.work / "gt_model.safetensors", tcfg, intervals, None, a.work / "gt")
    out["recording_to_model_s"] = time.perf_counter() - t0
    out["gt_stages_s"] = gt["seconds"]
    found_dir = a.work / "gt" / "found"
    found = json.loads((found_dir / "interactions.json").read_text())
    out["find"] = {k: v for k, v in score(found, truth).items() if k != "verbs"}
    print(f"recording -> model: {out['recording_to_model_s']:.0f} s {gt['seconds']}", flush=True)
    # the same trained run located with the hand boxes, and without the part extent (the fit before)
    lcfg, rec_run = tcfg.locate_config(), a.work / "gt" / "run" / "model.safetensors"
    clips = fit_clips(a.work / "gt" / "dataset")
    hand_cue, _ = contact_cues(a.work / "gt" / "dataset", lcfg.contact, hands=True)
    hands_model = _located(rec_run, clips, lcfg, hand_cue, a.work / "gt_hands_model.safetensors")
    frame_cue, _ = contact_cues(a.work / "gt" / "dataset", lcfg.contact, hands=False)
    no_extent = dataclasses.replace(lcfg, extent="none")
    no_extent_model = _located(rec_run, clips, no_extent, frame_cue, a.work / "gt_no_extent_model.safetensors")

    # 3. DAN labels
    labs = dan_labels(found_dir, found, demo_dan_path(), a.min_confidence)
    true_verb = {}
    for r in found["interactions"]:
        best = max(
            (d for d in truth["interactions"] if d["track_id"] == r["object"]["track_id"]),
            key=lambda d: min(r["release_ns"], d["release_ns"]) - max(r["start_ns"], d["contact_start_ns"]),
        )
        true_verb[r["id"]] = best["verb"]
    kept = [lab for lab in labs if lab.verb in VERBS]
    out["dan_labels"] = {
        "interactions": len(found["interactions"]),
        "above_threshold": len(labs),
        "outside_verbs": len(labs) - len(kept),
        "used": len(kept),
        "correct": sum(lab.verb == true_verb[lab.id] for lab in kept),
    }
    write_labels(a.work / "dan_labels.csv", found, kept)
    t0 = time.perf_counter()
    teach(
        found_dir,
        a.work / "dan_model.safetensors",
        tcfg,
        a.work / "dan_labels.csv",
        None,
        a.work / "dan",
    )
    out["dan_teach_s"] = time.perf_counter() - t0
    print(f"DAN labels: {out['dan_labels']}", flush=True)

    # 4. the generated dataset of the same categories and clip count
    categories = tuple(sorted({o["class"] for o in truth["objects"]}))
    per_cat = max(1, round(len(found["interactions"]) / len(categories)))
    world = a.work / "world"
    wcfg = WorldConfig(
        seed=a.seed,
        categories=categories,
        products_per_category=1,
        clips_per_category=per_cat,
        test_per_category=a.test_per_category,
    )
    rec = json.loads((a.work / "gt" / "dataset" / "annotations.json").read_text())
    rec_counts = _clip_counts(rec)
    if a.world_clips == "verb-matched":
        _verb_matched_world(world, wcfg, rec_counts)
    else:
        generate_world(world, wcfg)
    ann = json.loads((world / "annotations.json").read_text())
    world_counts = _clip_counts(ann)
    out["clips_per_category_verb"] = {
        f"{c}/{v}": {"recording": rec_counts[(c, v)], "world": world_counts[(c, v)]}
        for c, v in sorted(rec_counts.keys() | world_counts.keys())
    }
    t0 = time.perf_counter()
    world_run = _world_run(world, a.work / "world_run", a.epochs)
    world_clips = training_clips(DatasetConfig(name="opra", root=world))
    # the usual fit (training.locate's defaults: no extent) and the recordings' fit (teach's settings)
    world_model = _located(
        world_run, world_clips, LocateConfig(), None, a.work / "world_run" / "world_model.safetensors"
    )
    out["world_model_s"] = time.perf_counter() - t0
    world_teach_fit = _located(world_run, world_clips, lcfg, None, a.work / "world_run" / "world_teach_fit.safetensors")
    out["world_clips"] = len(ann["train_clips"])

    # 5. scores on the world's held-out test images (catalogue photos), and 6. on held-out objects in the
    # scene's view (what the node on the robot sees)
    views = a.work / "scene_views"
    write_scene_views(views, scene_cfg, categories, SceneViewConfig(per_category=a.test_per_category, seed=a.seed))
    methods = {
        "recordings, ground-truth verbs": a.work / "gt_model.safetensors",
        "recordings, ground-truth verbs, fit without extent": no_extent_model,
        "recordings, ground-truth verbs, hand-box cue": hands_model,
        "recordings, DAN verbs": a.work / "dan_model.safetensors",
        f"generated dataset, same categories and clips ({a.world_clips}), usual fit (no extent)": world_model,
        f"generated dataset, same categories and clips ({a.world_clips}), the recordings' fit": world_teach_fit,
    }
    tables = {}
    for key, root in (("results", world), ("scene_views", views)):
        ds = HotspotTestImages.from_config(DatasetConfig(name="opra", root=root))
        results = {}
        for name, path in methods.items():
            results[name] = evaluate_methods([("ours_located", str(path))], ds, torch.device("cpu"))["ours_located"]
        results["center bias"] = evaluate_methods([("center_bias", None)], ds, torch.device("cpu"))["center_bias"]
        out[f"{key}_test_items"] = len(ds)
        out[key] = {
            k: {"metrics": v["metrics"], "peak_on_part": v["part_metrics"]["peak_on_part"]} for k, v in results.items()
        }
        tables[key] = [
            f"test items: {len(ds)} ({root}, categories {list(categories)})",
            "| model | KLD ↓ | SIM ↑ | AUC-J ↑ | peak on part ↑ (n) |",
            "|---|---|---|---|---|",
            *[_row(k, v) for k, v in results.items()],
        ]
    lines = [
        "the world's test images (catalogue photos):",
        *tables["results"],
        "held-out objects in the scene's view (training.demonstrations.scene_views):",
        *tables["scene_views"],
        f"recording of {a.demos} demonstrations -> deployed model: {out['recording_to_model_s']:.0f} s "
        f"(stages {', '.join(f'{k} {v:.0f} s' for k, v in gt['seconds'].items())}); torch threads {out['threads']}",
        f"find: recall {out['find']['recall']:.3f} precision {out['find']['precision']:.3f}",
        f"DAN labels: {out['dan_labels']}",
    ]
    print("\n".join(lines), flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    cli.run(main)
