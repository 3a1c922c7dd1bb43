"""Regenerate the shipped demo DAN: a small Dual Attention Network trained on the synthetic world (not real data).

    python -m training.make_demo_dan [--work /tmp/hotspots_dan] [--out models/<DEMO_DAN_NAME>]

It recognises the synthetic world's actions (OPRA's seven verbs plus the two two-object actions) and objects
in a clip of frames. It is what the node's demonstration mode loads when ``demonstration_model_path`` is
empty, and what ``python -m training.demonstrations label --dan`` labels recordings with, so both work from
a fresh clone. Steps, all seeded: the world with DAN labels (``training.synthetic --dan-labels``, 128 px, the
settings of ``scripts/dan_tables.sh``), the frozen EfficientNet-Lite0 features cached, and the ``dual``
variant trained on them with a small head (TSN over 4 frames, 96-wide embeddings and attention: about
1.2 MB, like the shipped hotspot model; the 256-wide TRN head of docs/dual_attention.md is ~18 MB). The
same command on the same machine (same torch build, one thread) writes the same weights (tested: a second
run gave identical tensors; the metadata names the work folder, so the file's bytes differ with ``--work``);
it took 2 min 46 s from scratch on 2 shared CPU cores.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from hotspot_core import cli
from hotspot_core.dan.checkpoint import load_dan_checkpoint
from hotspot_core.demo_model import DEMO_DAN_NAME

from .dan.config import DanTrainConfig
from .dan.train import run
from .synthetic import DAN_ACTIONS, WorldConfig, reuse_or_generate_world

__all__ = ["DEMO_DAN_WORLD", "demo_dan_config", "main"]

# the world of scripts/dan_tables.sh (docs/dual_attention.md)
DEMO_DAN_WORLD = WorldConfig(
    seed=0,
    split="seen",
    dan_labels=True,
    products_per_category=4,
    clips_per_category=20,
    test_per_category=2,
    test_clips_per_category=12,
    image_size=128,
    min_frames=8,
    max_frames=12,
    dan_two_object_clips=8,
)


def demo_dan_config(world: Path, out: Path, cache: Path) -> DanTrainConfig:
    """The demo DAN's training run: the dual variant with a small TSN head (about 1.2 MB of weights)."""
    return DanTrainConfig(
        world=world,
        out=out,
        variant="dual",
        temporal_head="tsn",
        num_frames=4,
        input_size=112,
        embed_dim=96,
        attention_dim=96,
        feature_pool=2,
        epochs=60,
        batch_size=16,
        lr=0.02,
        seed=0,
        cache=cache,
        threads=1,
    )


def main(argv: Sequence[str] | None = None) -> int:
    default_out = Path(__file__).resolve().parents[1] / "models" / DEMO_DAN_NAME
    p = argparse.ArgumentParser(prog="python -m training.make_demo_dan", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=None, help="scratch folder (world, cache); default: temporary")
    p.add_argument("--out", type=Path, default=default_out)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    work = args.work or Path(tempfile.mkdtemp(prefix="hotspots_dan_"))
    world = reuse_or_generate_world(work / "world", DEMO_DAN_WORLD)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")  # a failed run leaves no file that looks finished
    _, history = run(demo_dan_config(world, tmp, work / "cache"))
    tmp.replace(args.out)
    tmp.with_suffix(".history.json").unlink(missing_ok=True)
    model = load_dan_checkpoint(args.out)
    if tuple(model.config.actions) != DAN_ACTIONS:
        raise RuntimeError(f"demo DAN actions {model.config.actions} are not the synthetic world's {DAN_ACTIONS}")
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest[:16]}..., "
        f"final loss {history[-1]['total']:.4f}, train top-1 {history[-1]['train_top1']:.3f})"
    )
    return 0


if __name__ == "__main__":
    cli.run(main)
