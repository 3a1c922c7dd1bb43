"""Our checkpoint format, its error messages, and the importer of the authors' checkpoints."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torchvision.models import resnet50

from hotspot_core.errors import CheckpointError
from hotspot_core.hotspots.checkpoint import load_model, read_metadata, save_checkpoint
from hotspot_core.hotspots.model import anticipation_module, build_model
from hotspot_core.hotspots.reference_import import import_reference_checkpoint
from hotspot_core.hotspots.reference_import import main as import_main

ACTIONS = ["hold", "touch", "rotate", "push", "pull", "pick up", "put down"]


def test_roundtrip_preserves_config_and_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS[:3], "input_size": 64}).eval()
    path = save_checkpoint(model, tmp_path / "m.safetensors", extra={"note": "test"})
    loaded = load_model(path)
    cfg, extra = read_metadata(path)
    assert cfg == model.config and loaded.actions == tuple(ACTIONS[:3]) and extra == {"note": "test"}
    x = model.features(torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        assert torch.equal(model.inactive_logits(x), loaded.inactive_logits(x))
        assert torch.equal(model.hotspot_maps(x), loaded.hotspot_maps(x))
    assert not loaded.training


def test_mismatched_config_names_the_tensor(tmp_path):
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS[:3], "input_size": 64})
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    wrong = dict(model.config.to_dict(), actions=ACTIONS[:5])
    save_file(
        state,
        str(tmp_path / "bad.safetensors"),
        metadata={"format": "interaction_hotspots/1", "config": json.dumps(wrong)},
    )
    with pytest.raises(CheckpointError, match=r"fc\.weight has shape \(3, 512\), model expects \(5, 512\)"):
        load_model(tmp_path / "bad.safetensors")
    del state["h0"]
    save_file(
        state,
        str(tmp_path / "missing.safetensors"),
        metadata={"format": "interaction_hotspots/1", "config": json.dumps(model.config.to_dict())},
    )
    with pytest.raises(CheckpointError, match=r"missing tensors: \['h0'\]"):
        load_model(tmp_path / "missing.safetensors")
    bad_backbone = dict(model.config.to_dict(), backbone="resnet50_dilated")
    save_file(
        state,
        str(tmp_path / "cfg.safetensors"),
        metadata={"format": "interaction_hotspots/1", "config": json.dumps(bad_backbone)},
    )
    with pytest.raises(CheckpointError, match="feature_dim=512 but backbone 'resnet50_dilated' has 2048"):
        load_model(tmp_path / "cfg.safetensors")


def test_corrupt_foreign_and_missing_files(tmp_path):
    (tmp_path / "junk.safetensors").write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_model(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="not an interaction-hotspots checkpoint"):
        load_model(tmp_path / "foreign.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        load_model(tmp_path / "nope.safetensors")
    model = build_model({"backbone": "resnet18_dilated", "actions": ACTIONS[:2], "input_size": 64})
    path = save_checkpoint(model, tmp_path / "trunc.safetensors")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        load_model(path)


@pytest.fixture(scope="module")
def reference_checkpoint(tmp_path_factory):
    """A state dict with exactly the authors' key layout and shapes (spec section 9), random values."""
    torch.manual_seed(0)
    net = {}
    rn = resnet50(weights=None)
    for k, v in rn.state_dict().items():
        if not k.startswith("fc."):
            net["backbone.rnet." + k] = v.clone()
    project = anticipation_module(2048)
    for bn in (project[1], project[4]):
        bn.running_mean.normal_(0, 0.1)
        bn.running_var.uniform_(0.5, 2.0)
    for k, v in project.state_dict().items():
        net["project." + k] = v.clone()
    lstm = torch.nn.LSTM(2048, 2048, batch_first=True)
    for k, v in lstm.state_dict().items():
        net["rnn." + k] = v.clone()
    net["fc.weight"] = torch.randn(7, 2048) * 0.01
    net["fc.bias"] = torch.randn(7) * 0.01
    net["h0"] = torch.randn(1, 1, 2048) / 32
    net["c0"] = torch.randn(1, 1, 2048) / 32
    path = tmp_path_factory.mktemp("ref") / "ckpt_E_20.pth"
    args = argparse.Namespace(dset="opra", ant_loss="mse", max_len=8, batch_size=128)
    torch.save({"net": net, "args": args, "epoch": 20}, path)
    return path, net


def reference_logits(net, x):
    """The authors' ic_classifier computed straight from their tensors: F_ant -> lp_pool2d -> LSTM step -> fc."""

    def conv_bn_relu(h, i):
        h = F.conv2d(h, net[f"project.{i}.weight"], net[f"project.{i}.bias"], padding=1)
        b = i + 1
        h = F.batch_norm(
            h,
            net[f"project.{b}.running_mean"],
            net[f"project.{b}.running_var"],
            net[f"project.{b}.weight"],
            net[f"project.{b}.bias"],
            training=False,
        )
        return F.relu(h)

    z = conv_bn_relu(conv_bn_relu(x, 0), 3)
    pooled = F.lp_pool2d(z, norm_type=2, kernel_size=z.shape[-1]).flatten(1)
    lstm = torch.nn.LSTM(2048, 2048, batch_first=True)
    lstm.load_state_dict({k[4:]: v for k, v in net.items() if k.startswith("rnn.")})
    _, (h, _) = lstm(
        pooled[:, None],
        (net["h0"].expand(1, x.shape[0], 2048).contiguous(), net["c0"].expand(1, x.shape[0], 2048).contiguous()),
    )
    return F.linear(h[-1], net["fc.weight"], net["fc.bias"])


def test_import_authors_checkpoint(reference_checkpoint, tmp_path):
    src, net = reference_checkpoint
    out = tmp_path / "opra.safetensors"
    import_reference_checkpoint(src, ACTIONS, out)
    model = load_model(out)
    assert model.actions == tuple(ACTIONS) and model.config.backbone == "resnet50_dilated"
    ours = model.state_dict()
    assert torch.equal(ours["backbone.net.layer4.0.conv2.weight"], net["backbone.rnet.layer4.0.conv2.weight"])
    assert torch.equal(ours["project.4.running_var"], net["project.4.running_var"])
    x = F.relu(torch.randn(2, 2048, 6, 6))
    with torch.no_grad():
        assert torch.allclose(model.inactive_logits(x), reference_logits(net, x), rtol=1e-4, atol=1e-5)
    with pytest.raises(CheckpointError, match="7 outputs but 3 action names"):
        import_reference_checkpoint(src, ACTIONS[:3], tmp_path / "x.safetensors")


def test_import_derives_ant_loss_from_the_dataset_like_the_authors_train_py(reference_checkpoint, tmp_path):
    """Their saved args have no ant_loss; train.py picks it from dset: EPIC -> triplet, OPRA -> mse."""
    _, net = reference_checkpoint
    for dset, want in (("epic", "triplet"), ("opra", "mse")):
        src = tmp_path / f"{dset}.pth"
        torch.save({"net": net, "args": argparse.Namespace(dset=dset, max_len=8), "epoch": 20}, src)
        out = tmp_path / f"{dset}.safetensors"
        import_reference_checkpoint(src, ACTIONS, out)
        assert load_model(out).config.ant_loss == want
    src = tmp_path / "odd.pth"
    torch.save({"net": net, "args": argparse.Namespace(dset="ego4d"), "epoch": 20}, src)
    with pytest.raises(CheckpointError, match="unknown dset 'ego4d'"):
        import_reference_checkpoint(src, ACTIONS, tmp_path / "odd.safetensors")


class Gadget:
    """An arbitrary pickled class: what weights_only loading refuses."""


def test_import_says_plainly_when_a_file_is_not_a_pytorch_checkpoint(tmp_path, capsys):
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n")
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint") as info:
        import_reference_checkpoint(text, ACTIONS, tmp_path / "o.safetensors")
    assert "weights_only" not in str(info.value)
    with pytest.raises(SystemExit) as exit_info:
        import_main([str(text), "--actions", "a,b", "-o", str(tmp_path / "o.safetensors")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "is not a PyTorch checkpoint" in err and "weights_only" not in err
    # A real torch file that pickles arbitrary objects: refused without torch's weights_only=False advice.
    odd = tmp_path / "odd.pth"
    torch.save({"net": {}, "thing": Gadget()}, odd)
    with pytest.raises(CheckpointError, match="not an authors' checkpoint: it holds objects") as info:
        import_reference_checkpoint(odd, ACTIONS, tmp_path / "o.safetensors")
    assert "weights_only=False" not in str(info.value)


def test_import_rejects_wrong_layout(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"net": {"fc.weight": torch.zeros(7, 2048)}, "epoch": 1}, bad)
    with pytest.raises(CheckpointError, match="missing tensors"):
        import_reference_checkpoint(bad, ACTIONS, tmp_path / "o.safetensors")
    torch.save({"weights": 1}, tmp_path / "notref.pth")
    with pytest.raises(CheckpointError, match="expected a dict with a 'net'"):
        import_reference_checkpoint(tmp_path / "notref.pth", ACTIONS, tmp_path / "o.safetensors")
    with pytest.raises(SystemExit) as exit_info:
        import_main([str(tmp_path / "absent.pth"), "--actions", "a,b", "-o", str(tmp_path / "o.safetensors")])
    assert exit_info.value.code == 2
