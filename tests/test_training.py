"""Offline training and evaluation on a tiny synthetic world: config, loss, resume, cache, DDP, eval, viz."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from hotspot_core.backbones import FrozenTrunk
from hotspot_core.errors import CheckpointError, ConfigError
from hotspot_core.hotspots.checkpoint import load_model, read_metadata
from hotspot_core.image.overlay import Style, action_colour
from hotspot_core.image.overlay_grid import GridConfig, tile_layout
from training import evaluate as evaluate_cli
from training import locate as locate_cli
from training import visualise as visualise_cli
from training.config import TrainConfig, build_parser, config_from_args, default_milestones
from training.data.config import DatasetConfig
from training.direct_cls import load_direct_cls
from training.distributed import DistributedClassBalancedSampler
from training.synthetic import WorldConfig, generate_world
from training.train import train

ROOT = Path(__file__).resolve().parents[1]
BACKBONE = dict(backbone="efficientnet_lite0_dilated", backbone_weights="packaged")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world") / "w"
    generate_world(
        out,
        WorldConfig(
            seed=0,
            categories=("mug", "bottle", "drawer", "lamp"),
            products_per_category=1,
            clips_per_category=3,
            test_per_category=1,
            image_size=96,
            min_frames=3,
            max_frames=5,
        ),
    )
    return out


def tiny_config(world: Path, out_dir: Path, **kw) -> TrainConfig:
    data = DatasetConfig(name="opra", root=world, crop=kw.pop("crop", 64), resize=kw.pop("resize", 72), max_len=4)
    base = dict(
        dataset=data,
        out_dir=out_dir,
        epochs=2,
        batch_size=4,
        num_workers=0,
        progress=False,
        tensorboard=False,
        threads=1,
        log_every=1,
        milestones=(),
        **BACKBONE,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_config_validation_defaults_and_cli(tmp_path):
    data = {"name": "opra", "root": str(tmp_path)}
    cfg = TrainConfig.from_dict({"dataset": data, "out_dir": str(tmp_path / "run")})
    assert cfg.milestones == (15,) and cfg.ant_loss == "mse" and cfg.lr == 1e-4 and cfg.weight_decay == 5e-4
    assert TrainConfig.from_dict({"dataset": {**data, "name": "epic"}, "out_dir": "r"}).ant_loss == "triplet"
    assert default_milestones(60) == (45,) and default_milestones(8) == (6,) and default_milestones(1) == ()
    bad = [
        ({"method": "svm"}, "method must be one of"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"milestones": [5, 3]}, "strictly increasing"),
        ({"milestones": [20]}, "strictly increasing"),
        ({"lr": -1.0}, "lr > 0"),
        ({"amp": "int8"}, "amp must be one of"),
        ({"batch_size": 2.5}, "batch_size must be an int"),
        ({"backbone": "vgg16"}, "unknown backbone"),
        ({"learning_rate": 1.0}, "unknown training config keys"),
    ]
    for override, message in bad:
        with pytest.raises(ConfigError, match=message):
            TrainConfig.from_dict({"dataset": data, "out_dir": "r", **override})
    with pytest.raises(ConfigError, match="needs 'dataset' and 'out_dir'"):
        TrainConfig.from_dict({"dataset": data})
    yaml_path = tmp_path / "t.yaml"
    yaml_path.write_text(
        yaml.safe_dump({"out_dir": "from_yaml", "epochs": 8, "dataset": {**data, "crop": 160, "resize": 182}})
    )
    args = build_parser().parse_args(
        [
            "--config",
            str(yaml_path),
            "--epochs",
            "4",
            "--crop",
            "128",
            "--ant-loss",
            "none",
            "--backbone-weights",
            "none",
            "--no-tensorboard",
        ]
    )
    cfg = config_from_args(args)
    assert (cfg.epochs, cfg.input_size, cfg.dataset.resize, cfg.ant_loss) == (4, 128, 182, "none")
    assert cfg.out_dir == Path("from_yaml") and cfg.backbone_weights is None and cfg.tensorboard is False
    assert cfg.milestones == (3,)  # scaled to the flag's epoch count


def test_distributed_sampler_is_balanced_seeded_and_split():
    labels = [0] * 90 + [1] * 10
    one = DistributedClassBalancedSampler(labels, seed=3)
    one.set_epoch(2)
    draw = list(one)
    assert draw == list(one) and len(draw) == 100
    assert 35 < sum(labels[i] for i in draw) < 65  # ~50% of the rare class instead of 10%
    halves = [DistributedClassBalancedSampler(labels, 2, r, seed=3) for r in (0, 1)]
    for h in halves:
        h.set_epoch(2)
    assert sorted(list(halves[0]) + list(halves[1])) == sorted(draw)
    one.set_epoch(3)
    assert list(one) != draw


def test_training_lowers_the_loss_and_is_reproducible(world, tmp_path):
    cfg = tiny_config(world, tmp_path / "a", epochs=14, cache_features=tmp_path / "cache", cache_views=1)
    first = train(cfg)
    losses = first.epoch_losses
    assert len(first.step_losses) == 14 * 3 and all(np.isfinite(first.step_losses))
    assert np.mean(losses[-2:]) < 0.88 * losses[0], losses
    again = train(tiny_config(world, tmp_path / "b", epochs=14, cache_features=tmp_path / "cache", cache_views=1))
    assert again.step_losses == first.step_losses and again.weights_sha256 == first.weights_sha256
    cfg_saved, extra = read_metadata(tmp_path / "a" / "model.safetensors")
    assert extra["epoch"] == 14 and cfg_saved.actions[:2] == ("hold", "touch")
    assert sorted(p.name for p in (tmp_path / "a").glob("epoch_*.safetensors")) == [
        "epoch_013.safetensors",
        "epoch_014.safetensors",
    ]
    lines = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert sum("epoch_seconds" in x for x in lines) == 14


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_cuda_training_with_autocast_and_channels_last_matches_fp32(world, tmp_path, amp):
    """Backbone autocast + channels-last on CUDA: same losses as fp32 within reduced-precision noise."""
    kw = dict(epochs=6, device="cuda")
    ref = train(tiny_config(world, tmp_path / "fp32", amp="off", channels_last=False, **kw))
    low = train(tiny_config(world, tmp_path / amp, amp=amp, channels_last=True, **kw))
    assert all(np.isfinite(low.step_losses))
    assert np.mean(low.epoch_losses[-2:]) < 0.95 * low.epoch_losses[0], low.epoch_losses
    np.testing.assert_allclose(low.epoch_losses, ref.epoch_losses, rtol=0.05)
    assert load_model(low.checkpoint).config.actions == load_model(ref.checkpoint).config.actions


def test_resume_continues_from_the_saved_epoch(world, tmp_path):
    cache = tmp_path / "cache"
    straight = train(tiny_config(world, tmp_path / "straight", epochs=3, cache_features=cache))
    train(tiny_config(world, tmp_path / "split", epochs=2, cache_features=cache))
    resumed = train(tiny_config(world, tmp_path / "split", epochs=3, cache_features=cache), resume=True)
    assert resumed.epochs_run == 1
    assert resumed.epoch_losses == straight.epoch_losses[2:]
    assert resumed.weights_sha256 == straight.weights_sha256
    assert read_metadata(tmp_path / "split" / "model.safetensors")[1]["epoch"] == 3
    with pytest.raises(ConfigError, match="model config"):
        train(tiny_config(world, tmp_path / "split", epochs=4, cache_features=cache, ant_loss="none"), resume=True)


def test_cache_folder_mechanism_decides_and_never_deletes_a_foreign_folder(tmp_path, caplog):
    # The folder protocol both caches use (train.py's clip views, the DAN's frames): hit only when complete
    # with the same key, a log line naming what changed, and no deletion of a folder that is not a cache.
    from dataclasses import dataclass

    from training.feature_cache import begin_build, cache_is_current, finish_build

    @dataclass(frozen=True)
    class Key:
        backbone: str
        mean: tuple[float, ...]

    caplog.set_level(logging.INFO, logger="training")
    folder, key = tmp_path / "cache", Key("trunk", (0.5, 0.25))
    assert not cache_is_current(folder, key) and "none yet" in caplog.text
    begin_build(folder, key)
    (folder / "features.npy").write_bytes(b"x")
    assert not cache_is_current(folder, key) and "is stale (incomplete)" in caplog.text  # interrupted build
    finish_build(folder, key, frames=3)
    assert cache_is_current(folder, key) and json.loads((folder / "meta.json").read_text())["frames"] == 3
    caplog.clear()
    assert not cache_is_current(folder, Key("trunk", (0.5, 0.5)))
    assert "mean: [0.5, 0.25] -> [0.5, 0.5]" in caplog.text  # only the changed field, in the JSON's terms
    begin_build(folder, Key("trunk", (0.5, 0.5)))
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]  # the old cache's files are gone
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "table.md").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a feature cache"):
        begin_build(foreign, key)
    assert (foreign / "table.md").read_text() == "keep me"


def test_feature_cache_is_reused_matches_images_and_is_invalidated(world, tmp_path, caplog):
    calls = []

    def count(module, inputs, output):
        if isinstance(module, FrozenTrunk):
            calls.append(inputs[0].shape[0])

    handle = torch.nn.modules.module.register_module_forward_hook(count)
    caplog.set_level(logging.INFO, logger="training")
    try:
        plain = train(tiny_config(world, tmp_path / "plain"))
        assert len(calls) > 0
        plain_avg = train(tiny_config(world, tmp_path / "plain_avg", pool="avg"))
        calls.clear()
        cached = train(tiny_config(world, tmp_path / "c1", cache_features=tmp_path / "cache"))
        assert "none yet, building" in caplog.text and len(calls) > 0
        calls.clear()
        caplog.clear()
        # Second run on the same cache: the backbone never runs, in any epoch.
        again = train(tiny_config(world, tmp_path / "c2", cache_features=tmp_path / "cache"))
        assert "feature cache hit" in caplog.text and calls == []
        caplog.clear()
        # Average pooling reads its own pooled vectors from the same cache (every pool kind is stored).
        cached_avg = train(tiny_config(world, tmp_path / "c_avg", pool="avg", cache_features=tmp_path / "cache"))
        assert "feature cache hit" in caplog.text and calls == []
        caplog.clear()
        train(tiny_config(world, tmp_path / "c3", cache_features=tmp_path / "cache", crop=72, resize=80, epochs=1))
        assert "is stale (input_size: 64 -> 72" in caplog.text and "rebuilding" in caplog.text and len(calls) > 0
    finally:
        handle.remove()
    # View v of the cache is exactly epoch v's augmented input, so the losses match image training.
    np.testing.assert_allclose(cached.epoch_losses, plain.epoch_losses, rtol=2e-3)
    np.testing.assert_allclose(cached_avg.epoch_losses, plain_avg.epoch_losses, rtol=2e-3)
    assert abs(plain_avg.epoch_losses[0] - plain.epoch_losses[0]) > 1e-3  # the pool kind really differs
    assert again.step_losses == cached.step_losses
    meta = json.loads((tmp_path / "cache" / "meta.json").read_text())
    assert meta["key"]["input_size"] == 72 and meta["feature_shape"] == [112, 9, 9]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_with_two_cpu_processes(world, tmp_path):
    out = tmp_path / "ddp"
    env = {
        **os.environ,
        "MASTER_ADDR": "127.0.0.1",
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "training.train",
        "--data-name",
        "opra",
        "--data-root",
        str(world),
        "--crop",
        "64",
        "--resize",
        "72",
        "--max-len",
        "4",
        "--out-dir",
        str(out),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--num-workers",
        "0",
        "--no-progress",
        "--no-tensorboard",
        "--threads",
        "1",
        "--backbone",
        "efficientnet_lite0_dilated",
        "--backbone-weights",
        "packaged",
        "--cache-features",
        str(tmp_path / "cache"),
        "--log-every",
        "1",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world_size"] == 2 and ranks[0]["params_sha256"] == ranks[1]["params_sha256"]
    assert ranks[0]["epoch_losses"] == ranks[1]["epoch_losses"]  # all-reduced over ranks
    assert load_model(out / "model.safetensors").actions[0] == "hold"
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"step"' in x]
    assert len(steps) == 3  # 12 clips over 2 ranks = 6 each, 2 per rank and step
    assert (tmp_path / "cache" / "meta.json").is_file()


@pytest.fixture(scope="module")
def trained(world, tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("trained")
    runs = {
        "ours": {},
        "lstm_gradcam": {"ant_loss": "none"},
        "direct_cls": {"method": "direct_cls"},
        "resolution": {"ant_loss": "none", "pool": "avg"},
        "basic": {
            "ant_loss": "none",
            "pool": "avg",
            "backbone": "efficientnet_lite0",
            "cache_features": base / "cache_basic",
        },
    }
    out = {}
    for name, kw in runs.items():
        kw = {"cache_features": base / "cache", **kw}
        out[name] = train(tiny_config(world, base / name, epochs=1, **kw)).checkpoint
    return out


def evaluate_argv(world: Path, js: Path, *methods: str) -> list[str]:
    """``training.evaluate`` arguments scoring ``methods`` (NAME or NAME=CHECKPOINT) on ``world``'s test images."""
    argv = ["--data-name", "opra", "--data-root", str(world), "--json", str(js), "--device", "cpu"]
    for m in methods:
        argv += ["--method", m]
    return argv


def test_evaluate_scores_every_method(world, trained, tmp_path, capsys):
    js = tmp_path / "eval.json"
    argv = evaluate_argv(world, js, "center_bias", *(f"{name}={path}" for name, path in trained.items()))
    assert evaluate_cli.main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads(js.read_text())
    assert set(data["methods"]) == {"ours", "lstm_gradcam", "direct_cls", "resolution", "basic", "center_bias"}
    n = data["items"]
    for _name, r in data["methods"].items():
        for metric in ("KLD", "SIM", "AUC-J"):
            m = r["metrics"][metric]
            assert np.isfinite(m["mean"]) and np.isfinite(m["sem"]) and m["n_total"] == n and m["n_valid"] > 0
        assert f"KLD: {r['metrics']['KLD']['mean']:.3f} ± {r['metrics']['KLD']['sem']:.3f}" in printed
    assert data["methods"]["ours"]["ablation_row"] == "+ ANTICIPATION"
    assert data["methods"]["lstm_gradcam"]["ablation_row"] == "+ L2 POOL"
    assert data["methods"]["basic"]["ablation_row"] == "OURS (BASIC)"
    assert data["methods"]["resolution"]["ablation_row"] == "+ RESOLUTION"
    # A checkpoint that is not the variant its method name claims is refused, saying why.
    for name, ckpt, why in (
        ("lstm_gradcam", "ours", "ant_loss none"),
        ("basic", "resolution", "stride-32 backbone"),
        ("resolution", "lstm_gradcam", "pool 'avg'"),
    ):
        assert evaluate_cli.main(argv[:6] + ["--method", f"{name}={trained[ckpt]}"]) == 2
        assert why in capsys.readouterr().err
    # The report names each row's place in the supplement's Table S1, in its order.
    from training.report import table

    rows = table([("seen", data)]).splitlines()[2:]
    labels = [r.split(" | ")[0].lstrip("| ") for r in rows]
    assert labels == [
        "CENTER BIAS",
        "OURS (BASIC)",
        "+ RESOLUTION",
        "LSTM+GRAD-CAM (+ L2 POOL)",
        "DIRECT CLS",
        "OURS (+ ANTICIPATION)",
    ]
    with pytest.raises(CheckpointError, match="direct_cls"):
        load_model(trained["direct_cls"])
    with pytest.raises(CheckpointError, match="not a DIRECT CLS checkpoint"):
        load_direct_cls(trained["ours"])


def test_evaluate_part_metrics_with_baselines_and_oracle(world, trained, tmp_path, capsys):
    """Peak-on-part / specificity through the CLI: the oracle hits every part, the action-agnostic map
    (and center bias) has zero specificity by construction, and the all-action maps agree with the
    per-verb maps the reference metrics score."""
    js = tmp_path / "parts.json"
    argv = evaluate_argv(
        world,
        js,
        "center_bias",
        "oracle",
        f"mean_map={trained['ours']}",
        f"ours={trained['ours']}",
        f"lstm_gradcam={trained['lstm_gradcam']}",
        f"ours_cam={trained['ours']}",
    )
    assert evaluate_cli.main(argv) == 0
    printed = capsys.readouterr().out
    data = json.loads(js.read_text())
    n = data["items"]
    annots = json.loads((world / "annotations.json").read_text())
    n_small = sum(e["part"] not in ("body", "box", "cabinet") for e in annots["test_images"])
    for _name, r in data["methods"].items():
        peak = r["part_metrics"]["peak_on_part"]
        assert peak["all"]["n_total"] == n and peak["all"]["n_valid"] == n  # every synthetic pair has a box
        assert peak["small"]["n_total"] == n_small and peak["gt_region"]["n_total"] == 0
        assert 0.0 <= peak["all"]["mean"] <= 1.0
    oracle = data["methods"]["oracle"]["part_metrics"]
    assert oracle["peak_on_part"]["small"]["mean"] == 1.0 and oracle["peak_on_part"]["whole"]["mean"] == 1.0
    for name in ("mean_map", "center_bias"):
        pm = data["methods"][name]["part_metrics"]
        assert pm["vs_mean"]["hit"]["mean"] == 0.0 and pm["vs_other"]["hit"]["mean"] == 0.0
        assert pm["vs_other"]["hit"]["n_valid"] > 0
    assert "peak-on-part small:" in printed and "own - other action hit:" in printed

    ds = evaluate_cli.build_test_images(DatasetConfig(name="opra", root=world), split="test")
    per_verb = evaluate_cli.method_maps("ours", trained["ours"], ds, torch.device("cpu"))
    stacks = evaluate_cli.all_action_maps("ours", trained["ours"], ds, torch.device("cpu"))
    for key, e in zip(ds.keys(), ds.entries):
        np.testing.assert_allclose(stacks[tuple(e["image"])][e["verb"]], per_verb[key], rtol=1e-4, atol=1e-6)

    from training.report import part_table, table

    rows = part_table([("seen", data)]).splitlines()
    assert "seen peak small" in rows[0] and "seen own−other hit" in rows[0] and "GT region" not in rows[0]
    labels = [r.split(" | ")[0].lstrip("| ") for r in rows[2:]]
    assert labels == [
        "CENTER BIAS",
        "ACTION-AGNOSTIC MEAN MAP",
        "LSTM+GRAD-CAM (+ L2 POOL)",
        "OURS (+ ANTICIPATION)",
        "OURS + CAM MAPS (ours, not the paper's)",
        "ORACLE (GT PART CENTRE)",
    ]
    # The cam read-out of the same weights gives other maps than the paper's Eq. 4.
    assert data["methods"]["ours_cam"]["metrics"]["KLD"]["mean"] != data["methods"]["ours"]["metrics"]["KLD"]["mean"]
    assert "**" not in table([("seen", data)]).splitlines()[-1]  # the oracle is never the bold best


def test_report_table_says_n_a_for_a_metric_no_image_was_scored_on():
    """A split where no image has points for AUC-J: 'n/a', not 'nan ± nan', and the others still get a best."""
    from training.report import table

    def stat(mean, n):
        return {"mean": mean if n else float("nan"), "sem": 0.01 if n else float("nan"), "n_valid": n, "n_total": 4}

    def method(label, kld):
        return {"label": label, "metrics": {"KLD": stat(kld, 4), "SIM": stat(0.3, 4), "AUC-J": stat(0.0, 0)}}

    data = {"methods": {"center_bias": method("CENTER BIAS", 2.0), "basic": method("OURS (BASIC)", 1.5)}}
    text = table([("seen", data)])
    assert "nan" not in text and text.count("n/a") == 2
    assert "**1.500 ± 0.010**" in text  # the best KLD is still marked


def test_part_metrics_without_part_boxes_use_the_gt_region(world, tmp_path):
    """OPRA / EPIC data have no part boxes: the part is the GT region G / max G > 0.5, pairs without points
    are counted but not scored, and the oracle (a Gaussian at the GT's arg-max) always hits."""
    root = tmp_path / "noboxes"
    root.mkdir()
    for sub in ("images", "frames"):
        (root / sub).symlink_to(world / sub)
    annots = json.loads((world / "annotations.json").read_text())
    for e in annots["test_images"]:
        for k in ("part", "part_rows", "part_cols"):
            e.pop(k)
    (root / "annotations.json").write_text(json.dumps(annots))
    js = tmp_path / "gt.json"
    assert evaluate_cli.main(evaluate_argv(root, js, "center_bias", "oracle")) == 0
    data = json.loads(js.read_text())
    n = data["items"]
    with_points = sum(bool(e["points"]) for e in annots["test_images"])
    assert 0 < with_points < n
    for name in ("center_bias", "oracle"):
        peak = data["methods"][name]["part_metrics"]["peak_on_part"]
        assert peak["gt_region"]["n_total"] == n and peak["gt_region"]["n_valid"] == with_points
        assert peak["small"]["n_total"] == 0 and peak["whole"]["n_total"] == 0
    assert data["methods"]["oracle"]["part_metrics"]["peak_on_part"]["gt_region"]["mean"] == 1.0


def test_visualise_writes_pngs_in_the_action_colours(world, trained, tmp_path):
    out = tmp_path / "viz"
    assert (
        visualise_cli.main(
            [
                "--checkpoint",
                str(trained["ours"]),
                "--data-name",
                "opra",
                "--data-root",
                str(world),
                "--num",
                "2",
                "--out",
                str(out),
                "--actions",
                "hold",
                "push",
            ]
        )
        == 0
    )
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 2
    img = cv2.cvtColor(cv2.imread(str(pngs[0])), cv2.COLOR_BGR2RGB)
    assert img.shape == (256, 512, 3)
    colours = {tuple(c) for c in img.reshape(-1, 3).tolist()}
    # The key shows exactly the chosen actions' colours (hold = action 0, push = action 3).
    assert action_colour(0) in colours and action_colour(3) in colours and action_colour(1) not in colours
    overlay, plain = img[:, 256:].astype(int), img[:, :256].astype(int)
    assert np.abs(overlay - plain).sum() > 0


def test_visualise_images_of_the_same_file_name_get_one_png_each(world, trained, tmp_path):
    """Product photos are often all called catalog.jpg: each input image gets its own PNG, none replaced."""
    images = sorted((world / "images").rglob("catalog.jpg"))[:3]
    assert len(images) == 3 and len({p.name for p in images}) == 1
    out = tmp_path / "same_names"
    argv = ["--checkpoint", str(trained["ours"]), "--images", *map(str, images), "--out", str(out)]
    assert visualise_cli.main(argv) == 0
    names = sorted(p.name for p in out.glob("*.png"))
    assert len(names) == 3 and all(n.endswith("_catalog.png") for n in names), names
    assert visualise_cli.output_names([Path("a/x.jpg"), Path("b/y.jpg")]) == ["x", "y"]  # unique stems stay


def test_visualise_grid_has_one_panel_per_action(world, trained, tmp_path):
    out = tmp_path / "grid"
    assert (
        visualise_cli.main(
            [
                "--checkpoint",
                str(trained["ours"]),
                "--data-name",
                "opra",
                "--data-root",
                str(world),
                "--num",
                "1",
                "--out",
                str(out),
                "--grid",
            ]
        )
        == 0
    )
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 1
    img = cv2.cvtColor(cv2.imread(str(pngs[0])), cv2.COLOR_BGR2RGB)
    cfg = GridConfig()
    side = cfg.tiles.tile_px
    style = Style.for_image(cfg.overlay, side, side)
    n = len(load_model(trained["ours"]).actions)
    width, height, tiles = tile_layout(n, side, side, style.text_px + 2 * style.padding, cfg.tiles)
    assert img.shape == (height, width, 3)
    # Each panel's header strip is in its action's colour, in model order.
    for a, t in enumerate(tiles):
        assert tuple(img[t.y0 - 2, t.x1 - 3]) == action_colour(a)


def test_motion_weights_sit_where_the_frame_changes():
    first = torch.zeros(1, 3, 64, 64)
    later = first.clone()
    later[:, :, 8:16, 40:48] = 1.0  # one 8x8 patch changes: cell (1, 5) of an 8x8 grid
    w = locate_cli.motion_weights(torch.cat([first, later, first]), (8, 8), power=1.0)
    assert w.shape == (2, 8, 8) and torch.allclose(w.sum((1, 2)), torch.ones(2))
    assert w[0, 1, 5] == 1.0
    assert torch.allclose(w[1], torch.full((8, 8), 1 / 64))  # no change anywhere: uniform, not NaN
    assert torch.allclose(
        locate_cli.motion_weights(torch.cat([first, later]), (8, 8), 0.0), torch.full((1, 8, 8), 1 / 64)
    )


def test_locate_adds_a_fitted_part_head_and_evaluate_scores_it(world, trained, tmp_path, capsys):
    """training.locate (ours, not the paper's): a map_form 'located' copy of a trained model whose part
    head is fitted on the clips (the same head for the same inputs); everything else, logits included, is the
    source model's; evaluate scores it as ours_located and refuses it as the paper's 'ours'."""
    outs = [tmp_path / f"located{i}.safetensors" for i in range(2)]
    for out in outs:
        argv = ["--checkpoint", str(trained["ours"]), "--data-root", str(world), "--out", str(out)]
        assert locate_cli.main(argv) == 0
    again = [load_model(o).state_dict() for o in outs]  # (safetensors' header order may differ run to run)
    assert again[0].keys() == again[1].keys() and all(torch.equal(again[0][k], again[1][k]) for k in again[0])
    assert read_metadata(outs[0]) == read_metadata(outs[1])
    paper, located = load_model(trained["ours"]), load_model(outs[0])
    stored = read_metadata(outs[0])[1]["located"]
    assert located.config.map_form == "located" and stored["method"] == "contact" and stored["temperature"] == 4.0
    shared = paper.state_dict()
    assert all(torch.equal(v, shared[k]) for k, v in located.state_dict().items() if not k.startswith("part_head"))
    assert located.part_head.weight.abs().sum() > 0
    # the first fix ('motion') fits another head on the same clips
    motion = tmp_path / "motion.safetensors"
    argv = ["--checkpoint", str(trained["ours"]), "--data-root", str(world), "--out", str(motion)]
    assert locate_cli.main([*argv, "--method", "motion"]) == 0
    assert read_metadata(motion)[1]["located"]["method"] == "motion"
    assert not torch.equal(load_model(motion).part_head.weight, located.part_head.weight)
    # the part's extent grown on the product images (issue 21): another head, its settings stored
    grown = tmp_path / "grown.safetensors"
    argv = ["--checkpoint", str(trained["ours"]), "--data-root", str(world), "--out", str(grown)]
    assert locate_cli.main([*argv, "--extent", "grow", "--grow-similarity", "0.7"]) == 0
    stored = read_metadata(grown)[1]["located"]
    assert stored["extent"] == "grow" and stored["grow_similarity"] == 0.7
    assert not torch.equal(load_model(grown).part_head.weight, located.part_head.weight)
    assert locate_cli.main([*argv, "--extent", "boxes"]) == 2
    js = tmp_path / "eval.json"
    assert evaluate_cli.main(evaluate_argv(world, js, f"ours_located={outs[0]}", f"ours={trained['ours']}")) == 0
    methods = json.loads(js.read_text())["methods"]
    assert methods["ours_located"]["label"].startswith("OURS + LOCATED MAPS")
    assert methods["ours_located"]["metrics"] != methods["ours"]["metrics"]
    assert evaluate_cli.main(evaluate_argv(world, js, f"ours={outs[0]}")) == 2
    assert "ours_located" in capsys.readouterr().err
    assert locate_cli.main(["--checkpoint", str(outs[0]), "--data-root", str(world), "--out", str(tmp_path / "x")]) == 2


def test_shipped_demo_checkpoint_loads_with_the_opra_verbs():
    from hotspot_core.demo_model import demo_model_path

    path = demo_model_path()
    assert path.is_file(), f"demo checkpoint missing: {path} (python -m training.make_demo_model)"
    assert path.stat().st_size < 5_000_000
    model = load_model(path)
    assert model.actions == ("hold", "touch", "rotate", "push", "pull", "pick up", "put down")
    assert model.config.backbone == "efficientnet_lite0_dilated" and model.config.packaged_backbone
    _, extra = read_metadata(path)
    assert extra["method"] == "hotspots" and extra["dataset"] == "opra"
    x = model.features(torch.rand(1, 3, model.config.input_size, model.config.input_size))
    maps = model.hotspot_maps(x)
    assert maps.shape[:2] == (1, 7) and torch.isfinite(maps).all()


def test_locate_contact_needs_product_images_and_says_so_on_epic(trained, tmp_path, capsys):
    """EPIC clips have no product image per clip: the 'contact' fit refuses them with a clear error (exit 2)
    and points at 'motion', which fits on the clips alone."""
    from fixtures_epic import make_epic_fixture

    make_epic_fixture(tmp_path / "epic")
    argv = ["--checkpoint", str(trained["ours"]), "--data-name", "epic", "--data-root", str(tmp_path / "epic")]
    assert locate_cli.main([*argv, "--out", str(tmp_path / "c.safetensors")]) == 2
    assert "needs each clip's product image" in capsys.readouterr().err
    assert locate_cli.main([*argv, "--out", str(tmp_path / "m.safetensors"), "--method", "motion"]) == 0
