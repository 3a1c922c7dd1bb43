#!/usr/bin/env python3
"""Where the demonstrations model's gap to the generated-dataset model comes from (issue 19's benchmark).

    OMP_NUM_THREADS=2 .venv/bin/python scripts/probes/demo_fit_probe.py /tmp/bench19_s1

Reads a work folder of ``scripts/bench_demonstrations.py`` (``--work``): its recordings-trained run
(``gt/run``), its dataset (``gt/dataset``) and the generated dataset's run (``world_run/run``, ``world``), and
scores on the world's test images, as the benchmark does (``training.evaluate``: KLD, SIM, AUC-J and
peak-on-part, mean ± standard error). No hidden truth is read. It prints:

1. **the at-rest images of the contact fit**: the recordings-trained run located (``training.locate``, the
   frame-difference cue) on each clip's window image only, its tight box only, and both (the default,
   ``BuildConfig.fit_images``), with the fit's seed 0, 1 and 2;
2. **model or clips**: each run's Eq. 4 maps alone (not located), the recordings-trained run located on the
   generated dataset's clips, and the generated-dataset run located on the recordings' clips (both images).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from hotspot_core import cli  # noqa: E402
from hotspot_core.hotspots.checkpoint import load_model, save_checkpoint  # noqa: E402
from training.data.config import DatasetConfig  # noqa: E402
from training.data.test_images import HotspotTestImages  # noqa: E402
from training.demonstrations.pipeline import contact_cues, fit_clips  # noqa: E402
from training.evaluate import evaluate_methods  # noqa: E402
from training.locate import LocateClip, LocateConfig, locate_model, training_clips  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("work", type=Path, help="a scripts/bench_demonstrations.py --work folder")
    a = p.parse_args(argv)
    ds = HotspotTestImages.from_config(DatasetConfig(name="opra", root=a.work / "world"))
    rec, world = a.work / "gt" / "run" / "model.safetensors", a.work / "world_run" / "run" / "model.safetensors"
    tmp = Path(tempfile.mkdtemp(prefix="demo_fit_probe_"))

    def score(name: str, method: str, path: Path) -> None:
        r = evaluate_methods([(method, str(path))], ds, torch.device("cpu"))[method]
        m, peak = r["metrics"], r["part_metrics"]["peak_on_part"]["all"]
        cells = " | ".join(f"{k} {m[k]['mean']:.3f} ± {m[k]['sem']:.3f}" for k in ("KLD", "SIM", "AUC-J"))
        print(f"{name}: {cells} | peak on part {peak['mean']:.3f} ± {peak['sem']:.3f}", flush=True)

    def located(base: Path, clips: list[LocateClip], seed: int, frames_cue: bool) -> Path:
        cfg = LocateConfig(seed=seed)
        out = tmp / "model.safetensors"
        cue = contact_cues(a.work / "gt" / "dataset", cfg.contact, hands=False)[0] if frames_cue else None
        save_checkpoint(locate_model(load_model(base), clips, cfg, cue), out)
        return out

    both = fit_clips(a.work / "gt" / "dataset")
    print("== 1. the contact fit's at-rest images (the recordings-trained run)")
    for kinds in (("window",), ("tight",), ("window", "tight")):
        clips = [c for c in both if ("tight" if c.image.stem.endswith("_tight") else "window") in kinds]
        for seed in (0, 1, 2):
            score(f"{' + '.join(kinds)}, fit seed {seed}", "ours_located", located(rec, clips, seed, True))
    print("== 2. model or clips")
    score("recordings-trained run, Eq. 4 maps alone", "ours", rec)
    score("generated-dataset run, Eq. 4 maps alone", "ours", world)
    world_clips = training_clips(DatasetConfig(name="opra", root=a.work / "world"))
    score("recordings-trained run located on the generated clips", "ours_located", located(rec, world_clips, 0, False))
    score("generated-dataset run located on the recordings' clips", "ours_located", located(world, both, 0, True))
    return 0


if __name__ == "__main__":
    cli.run(main)
