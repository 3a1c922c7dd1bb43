"""How much of the action's part does the drawn hand hide in the synthetic clips' active frames? (issue 11)

    .venv/bin/python scripts/probes/hand_occlusion.py [--clips 6] [--seed 0]

Renders clips with ``training.synthetic.render.render_clip`` exactly as the world does, four times per clip
from the same RNG state: with and without the hand, each with the part drawn normally and recoloured
(its PartState shade changed). Pixels that change with the recolouring are the part's visible pixels;
without the hand that is the whole part. Occluded share = 1 - visible / whole, per frame, reported for the
frames after the hand has arrived (where the verb is shown: the active frames L_ant and L_cls see) by verb
and for small vs whole-body parts. Pure rendering, seconds on a CPU.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hotspot_core import cli  # noqa: E402
from hotspot_core.eval.part_metrics import WHOLE_BODY_PARTS  # noqa: E402
from training.synthetic import CATEGORIES, render  # noqa: E402
from training.synthetic.draw import PartState, make_instance  # noqa: E402


def _render(inst, verb, n, size, seed, hand: bool, recolour: bool):
    orig_hand, orig_obj = render.draw_hand, render.draw_object
    part = inst.category.verbs[verb]

    def draw_object(img, inst_, pose, states=None):
        states = dict(states or {})
        if recolour:
            st = states.get(part) or PartState()
            states[part] = PartState(angle=st.angle, shift=st.shift, scale=st.scale, shade=st.shade * 0.3 + 0.01)
        return orig_obj(img, inst_, pose, states)

    render.draw_object = draw_object
    if not hand:
        render.draw_hand = lambda *a, **k: None
    try:
        return render.render_clip(inst, verb, n, size, np.random.default_rng([seed, 1]))
    finally:
        render.draw_hand, render.draw_object = orig_hand, orig_obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=6, help="clips per (category, verb)")
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    by_verb: dict[str, list[float]] = defaultdict(list)
    by_kind: dict[str, list[float]] = defaultdict(list)
    last_by_kind: dict[str, list[float]] = defaultdict(list)
    for ci, cat in enumerate(CATEGORIES):
        for verb, part in cat.verbs.items():
            for k in range(args.clips):
                seed = args.seed * 100000 + ci * 1000 + k
                inst = make_instance(cat, np.random.default_rng([seed, 0]))
                frames = {
                    (h, r): _render(inst, verb, args.frames, 256, seed, h, r)
                    for h in (True, False)
                    for r in (True, False)
                }
                kind = "whole" if part in WHOLE_BODY_PARTS else "small"
                shares = []
                for t in range(args.frames):
                    whole = np.any(frames[(False, False)][t] != frames[(False, True)][t], axis=2).sum()
                    visible = np.any(frames[(True, False)][t] != frames[(True, True)][t], axis=2).sum()
                    if whole > 0:
                        shares.append(1.0 - visible / whole)
                active = shares[len(shares) // 2 :]  # the hand arrives at 40-55 % of the clip
                by_verb[verb] += active
                by_kind[kind] += active
                last_by_kind[kind].append(shares[-1])
    print("occluded share of the action's part in the active frames (second half of each clip):")
    for verb, v in by_verb.items():
        print(f"  {verb:9s} {np.mean(v):.3f}  (median {np.median(v):.3f}, {len(v)} frames)")
    for kind, v in by_kind.items():
        print(
            f"  {kind} parts: {np.mean(v):.3f}; last frame {np.mean(last_by_kind[kind]):.3f}; share of active frames "
            f"with > 50 % hidden {np.mean(np.asarray(v) > 0.5):.3f}"
        )
    return 0


if __name__ == "__main__":
    cli.run(main)
