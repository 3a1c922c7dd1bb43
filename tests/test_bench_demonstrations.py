"""scripts/bench_demonstrations.py's generated dataset matched to the recording's clips per (category, verb)
(issue 19: the comparison is fair only when both datasets hold the same verbs per object)."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

from training.synthetic import WorldConfig, generate_world

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_demonstrations", ROOT / "scripts" / "bench_demonstrations.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _counts(ann: dict) -> Counter[tuple[str, str]]:
    return Counter((ann["nouns"][c["noun"]], ann["verbs"][c["verb"]]) for c in ann["train_clips"])


def test_verb_matched_world_holds_the_recordings_counts_and_the_same_test_images(tmp_path: Path) -> None:
    cfg = WorldConfig(
        seed=3, categories=("knife", "mug"), products_per_category=1, clips_per_category=2, test_per_category=2,
        image_size=64, min_frames=3, max_frames=4,
    )  # fmt: skip
    # more knife touches than 2 clips per category can hold: the generator must draw more and cut
    want = Counter({("knife", "touch"): 4, ("knife", "hold"): 1, ("mug", "pick up"): 2})
    n = _bench()._verb_matched_world(tmp_path / "matched", cfg, want)
    assert n > 2
    ann = json.loads((tmp_path / "matched" / "annotations.json").read_text())
    assert _counts(ann) == want
    assert not (tmp_path / "matched.draw").exists()
    # every kept clip's frames are on disk
    for c in ann["train_clips"]:
        assert (tmp_path / "matched" / "frames" / Path(*c["clip"][:3]) / f"{c['clip'][3]}_{c['clip'][4]}.mp4").is_dir()
    plain = generate_world(tmp_path / "plain", cfg)
    assert ann["test_images"] == plain["test_images"]
    assert ann["train_images"] == plain["train_images"]


def test_verb_matched_world_refuses_a_verb_the_category_does_not_afford(tmp_path: Path) -> None:
    cfg = WorldConfig(seed=0, categories=("knife",), products_per_category=1, clips_per_category=1,
                      test_per_category=1, image_size=64, min_frames=3, max_frames=3)  # fmt: skip
    with pytest.raises(RuntimeError, match="too few clips"):
        _bench()._verb_matched_world(tmp_path / "w", cfg, Counter({("knife", "rotate"): 1}))
