"""The model against the reference specification (spec sections 1-2)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hotspot_core.backbones import BackboneWeights, build_backbone
from hotspot_core.errors import BackboneWeightsError, ConfigError
from hotspot_core.hotspots.losses import anticipation_mse, anticipation_triplet, compute_losses, select_active_frame
from hotspot_core.hotspots.model import avg_pool, build_model, l2_pool, spatial_pool

ACTIONS = ["hold", "rotate", "push", "pull"]


def randomise_batchnorm(model) -> None:
    g = torch.Generator().manual_seed(1)
    for bn in (model.project[1], model.project[4]):
        c = bn.num_features
        bn.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
        bn.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
        bn.bias.data.copy_(torch.randn(c, generator=g) * 0.1)


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64})
    randomise_batchnorm(model)
    return model.eval()


def test_resnet50_dilated_matches_reference_geometry():
    bb = build_backbone("resnet50_dilated")
    net = bb.net
    # stride and dilation only in the first block of layer3/layer4 (spec 1.1)
    assert net.layer2[0].conv2.stride == (2, 2)
    for layer, d in ((net.layer3, 2), (net.layer4, 4)):
        assert layer[0].conv2.stride == (1, 1)
        assert layer[0].conv2.dilation == (d, d) and layer[0].conv2.padding == (d, d)
        assert layer[0].downsample[0].stride == (1, 1)
        for block in list(layer)[1:]:
            assert block.conv2.dilation == (1, 1)
    out = bb(torch.randn(1, 3, 224, 224))
    assert out.shape == (1, 2048, 28, 28)
    assert not out.requires_grad


def test_backbone_is_frozen_and_keeps_running_stats():
    bb = build_backbone("resnet18_dilated")
    assert all(not p.requires_grad for p in bb.parameters())
    bb.train()
    assert not bb.training and not bb.net.bn1.training
    before = bb.net.bn1.running_mean.clone()
    out = bb(torch.randn(2, 3, 64, 64) * 3 + 1)
    assert out.shape == (2, 512, 8, 8)
    assert torch.equal(before, bb.net.bn1.running_mean)


def test_backbone_weights_load_from_local_file_only(tmp_path):
    src = build_backbone("resnet18_dilated")
    torch.manual_seed(3)
    for p in src.parameters():
        p.data.normal_()
    state = {f"module.{k}": v for k, v in src.net.state_dict().items()}
    state["fc.weight"] = torch.zeros(1000, 512)  # torchvision files carry fc; it must be ignored
    torch.save(state, tmp_path / "w.pth")
    dst = build_backbone("resnet18_dilated", tmp_path / "w.pth")
    assert torch.equal(dst.net.conv1.weight, src.net.conv1.weight)
    with pytest.raises(BackboneWeightsError, match="not found"):
        build_backbone("resnet18_dilated", tmp_path / "absent.pth")
    with pytest.raises(BackboneWeightsError, match="do not fit"):
        build_backbone("resnet50_dilated", tmp_path / "w.pth")
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(BackboneWeightsError, match="cannot read"):
        build_backbone("resnet18_dilated", tmp_path / "bad.pth")
    assert BackboneWeights.RESNET50_IMAGENET1K_V1.local_path().name == "resnet50-0676ba61.pth"


def test_l2_pool_is_sqrt_of_sum_of_squares_with_safe_gradient():
    x = torch.rand(2, 3, 5, 5)
    x[0, 1] = 0.0
    expected = torch.sqrt((x**2).sum(dim=(2, 3)))
    assert torch.allclose(l2_pool(x), expected, atol=1e-6)
    assert torch.allclose(l2_pool(x), F.lp_pool2d(x, 2, kernel_size=5).flatten(1), atol=1e-5)
    x.requires_grad_(True)
    l2_pool(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad[0, 1].abs().sum() == 0


def test_avg_pool_is_the_spatial_mean_and_pool_kinds_are_validated():
    x = torch.rand(2, 3, 5, 4)
    assert torch.allclose(avg_pool(x), x.mean(dim=(2, 3)))
    assert torch.equal(spatial_pool(x, "l2"), l2_pool(x)) and torch.equal(spatial_pool(x, "avg"), avg_pool(x))
    with pytest.raises(ValueError, match="unknown pool 'max'"):
        spatial_pool(x, "max")
    with pytest.raises(ConfigError, match="pool must be one of"):
        build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "pool": "max"})
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64, "pool": "avg"})
    feats = torch.rand(2, model.config.feature_dim, 8, 8)
    logits_clip, _ = model.clip_forward(avg_pool(model.anticipate(feats))[:, None], torch.ones(2, dtype=torch.long))
    assert torch.allclose(model.inactive_logits(feats), logits_clip, atol=1e-5)


def test_native_stride_32_resnets_are_the_unmodified_trunks():
    for name, channels in (("resnet18", 512), ("resnet50", 2048)):
        bb = build_backbone(name)
        assert bb.net.layer4[0].downsample[0].stride == (2, 2) and bb.net.layer3[0].downsample[0].stride == (2, 2)
        assert bb(torch.randn(1, 3, 96, 96)).shape == (1, channels, 3, 3)
    model = build_model({"backbone": "resnet18", "actions": ACTIONS, "input_size": 224})
    assert model.config.feature_size == 7  # the paper's "basic" 7x7 maps


def test_config_validation():
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_model({"backbone": "vgg", "actions": ACTIONS})
    with pytest.raises(ConfigError, match="unique"):
        build_model({"backbone": "resnet18_dilated", "actions": ["a", "a"]})
    with pytest.raises(ConfigError, match="missing required key 'actions'"):
        build_model({"backbone": "resnet18_dilated"})
    with pytest.raises(ConfigError, match="unknown model config keys"):
        build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "hidden": 3})


def test_learned_initial_state_and_shapes(small_model):
    c = small_model.config.feature_dim
    assert small_model.h0.shape == (1, 1, c) and small_model.c0.requires_grad
    big = build_model({"backbone": "resnet50_dilated", "actions": ACTIONS})
    # xavier_normal with gain sqrt(2) on (1,1,2048): std = sqrt(2) * sqrt(2 / 4096) = 1/32 (spec 1.4)
    assert abs(big.h0.std().item() - 1 / 32) < 0.003
    assert sum(p.numel() for p in big.project.parameters()) == 2 * (9 * 2048**2 + 2048) + 4 * 2048


def test_inactive_logits_equal_a_length_one_clip(small_model):
    x = small_model.features(torch.randn(3, 3, 64, 64))
    pooled = l2_pool(small_model.anticipate(x))
    logits_clip, _ = small_model.clip_forward(pooled[:, None], torch.ones(3, dtype=torch.long))
    assert torch.allclose(small_model.inactive_logits(x), logits_clip, atol=1e-5)


def test_clip_logits_use_last_real_frame(small_model):
    torch.manual_seed(2)
    pooled = torch.rand(2, 5, small_model.config.feature_dim)
    lengths = torch.tensor([5, 2])
    logits, steps = small_model.clip_forward(pooled, lengths)
    alone, _ = small_model.clip_forward(pooled[1:, :2], torch.tensor([2]))
    assert torch.allclose(logits[1], alone[0], atol=1e-5)
    assert steps.shape == (2, 5, small_model.config.feature_dim)
    assert steps[1, 2:].abs().sum() == 0  # padded steps are zeros, as pad_packed_sequence gives


@pytest.mark.parametrize(
    "ant_loss,pool,map_form",
    [
        ("mse", "l2", "eq4"),
        ("none", "l2", "eq4"),
        ("mse", "avg", "eq4"),
        ("none", "avg", "eq4"),
        ("mse", "l2", "cam"),
        ("none", "avg", "cam"),
        ("mse", "l2", "located"),
    ],
)
def test_analytic_maps_equal_autograd(ant_loss, pool, map_form):
    torch.manual_seed(0)
    model = build_model(
        {
            "backbone": "resnet18_dilated",
            "actions": ACTIONS,
            "input_size": 64,
            "ant_loss": ant_loss,
            "pool": pool,
            "map_form": map_form,
        }
    )
    randomise_batchnorm(model)
    model.eval()
    x = model.features(torch.randn(3, 3, 64, 64))
    x[0, :7] = 0.0  # dead channels must not produce NaN
    reference = model.hotspot_maps(x, method="loop")
    batched = model.hotspot_maps(x, method="autograd")
    with torch.no_grad():
        analytic = model.hotspot_maps(x)
    assert analytic.shape == (3, len(ACTIONS), 8, 8)
    scale = reference.abs().max()
    assert scale > 0 and torch.isfinite(analytic).all()
    assert (analytic - reference).abs().max() / scale < 1e-4
    assert (batched - reference).abs().max() / scale < 1e-4
    # maps differ per action: the test would pass trivially if all were equal
    assert (reference[:, 0] - reference[:, 1]).abs().max() / scale > 1e-3


def test_cam_map_form_is_the_channel_weighted_gradient_and_opt_in():
    """map_form 'cam' (ours): ReLU(sum_c mean_hw(g)_c x_c) from the very gradient Eq. 4 uses; the paper's
    'eq4' stays the default and is left out of the stored config (paper checkpoints unchanged)."""
    torch.manual_seed(0)
    paper = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64})
    assert paper.config.map_form == "eq4" and "map_form" not in paper.config.to_dict()
    cam = build_model({**paper.config.to_dict(), "map_form": "cam"})
    cam.load_state_dict(paper.state_dict())
    assert cam.config.to_dict()["map_form"] == "cam"
    paper.eval(), cam.eval()
    x = paper.features(torch.randn(2, 3, 64, 64))
    xg = x.detach().requires_grad_(True)
    logits = paper.inactive_logits(xg)
    (g,) = torch.autograd.grad(logits[:, 2].sum(), xg)
    want = torch.relu((g.mean((2, 3), keepdim=True) * x).sum(1))
    with torch.no_grad():
        got = cam.hotspot_maps(x, actions=[2])[:, 0]
        eq4 = paper.hotspot_maps(x, actions=[2])[:, 0]
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert torch.allclose(eq4, torch.relu(g * x).sum(1), rtol=1e-4, atol=1e-4 * float(eq4.abs().max()))
    assert (got - eq4).abs().max() > 1e-3 * eq4.abs().max()
    with pytest.raises(ConfigError, match="map_form must be one of"):
        build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "map_form": "gradcam++"})


def test_located_map_form_weights_eq4_by_the_part_head_and_is_opt_in():
    """map_form 'located' (ours): the Eq. 4 map of action a times softmax_a of the part head at each cell;
    it adds the part head (and only that) to the state dict; the logits stay the paper model's."""
    torch.manual_seed(0)
    paper = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64})
    located = build_model({**paper.config.to_dict(), "map_form": "located"})
    extra = set(located.state_dict()) - set(paper.state_dict())
    assert extra == {"part_head.weight", "part_head.bias"} and paper.part_head is None
    located.load_state_dict({**paper.state_dict(), **{k: located.state_dict()[k] for k in extra}})
    paper.eval(), located.eval()
    x = paper.features(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        eq4 = paper.hotspot_maps(x)
        got = located.hotspot_maps(x)
        where = torch.softmax(located.part_head(x), dim=1)
        assert torch.equal(located.inactive_logits(x), paper.inactive_logits(x))
    assert torch.allclose(got, eq4 * where, rtol=1e-5, atol=1e-6 * float(eq4.abs().max()))
    assert (got[:, 0] / eq4[:, 0].clamp_min(1e-12) - got[:, 1] / eq4[:, 1].clamp_min(1e-12)).abs().max() > 1e-3


def test_analytic_maps_for_chosen_and_per_sample_actions(small_model):
    x = small_model.features(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        full = small_model.hotspot_maps(x)
        by_name = small_model.hotspot_maps(x, actions=["push", "hold"])
        per_sample = small_model.hotspot_maps(x, actions=torch.tensor([[3], [1]]))
    assert torch.allclose(by_name[:, 0], full[:, 2], rtol=1e-4, atol=1e-9)
    assert torch.allclose(by_name[:, 1], full[:, 0], rtol=1e-4, atol=1e-9)
    assert torch.allclose(per_sample[0, 0], full[0, 3], rtol=1e-4, atol=1e-9)
    assert torch.allclose(per_sample[1, 0], full[1, 1], rtol=1e-4, atol=1e-9)
    with pytest.raises(KeyError, match="unknown action"):
        small_model.hotspot_maps(x, actions=["fly"])


def test_hotspot_maps_ignore_training_mode_batchnorm(small_model):
    x = small_model.features(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        eval_maps = small_model.hotspot_maps(x)
    small_model.train()
    try:
        train_autograd = small_model.hotspot_maps(x, method="autograd")
    finally:
        small_model.eval()
    assert (train_autograd - eval_maps).abs().max() / eval_maps.abs().max() < 1e-4


def test_select_active_frame_hand_case():
    # verb 1; per-step log-probs of class 1 peak at step 3, which is padding for sample 1 (length 2)
    logits = torch.full((2, 4, 3), 0.0)
    logits[:, 3, 1] = 5.0
    logits[0, 1, 1] = 2.0
    t = select_active_frame(logits, torch.tensor([1, 1]), torch.tensor([4, 2]))
    assert t.tolist() == [3, 1]


def test_anticipation_losses_formulas():
    a, v, n = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, 2.0]]), torch.tensor([[0.0, 1.0]])
    assert torch.allclose(anticipation_mse(a, v), torch.tensor([0.1 * (4 + 0) / 2]))
    an, vn, nn_ = F.normalize(a), F.normalize(v), F.normalize(n)
    expected = torch.clamp((an - vn).norm() - (an - nn_).norm() + 0.5, min=0)
    assert torch.allclose(anticipation_triplet(a, v, n), expected.reshape(1), atol=1e-5)


def test_loss_gradient_routing():
    torch.manual_seed(0)
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64})
    model.train()
    frames = torch.randn(2, 3, 3, 64, 64)
    inactive = torch.randn(2, 3, 64, 64)
    lengths, verbs = torch.tensor([3, 2]), torch.tensor([0, 2])
    losses = compute_losses(model, frames, lengths, verbs, inactive)
    assert losses.cls.shape == losses.aux.shape == losses.ant.shape == (2,)

    def grads(loss):
        model.zero_grad()
        loss.mean().backward(retain_graph=True)
        return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}

    assert not any(n.startswith("project") for n in grads(losses.cls))
    ant = grads(losses.ant)
    assert ant and all(n.startswith("project") for n in ant)
    assert {"fc.weight", "h0", "c0"} <= grads(losses.aux) and any(n.startswith("project") for n in grads(losses.aux))
    assert not any(n.startswith("backbone") for n in grads(losses.total))
    trip = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS, "input_size": 64, "ant_loss": "triplet"})
    with pytest.raises(ValueError, match="negative"):
        compute_losses(trip, frames, lengths, verbs, inactive)
    assert compute_losses(trip, frames, lengths, verbs, inactive, negative=inactive).ant.shape == (2,)
