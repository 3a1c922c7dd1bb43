"""Frozen, dilated ResNet backbones (spec 1.1) and where their ImageNet weights come from.

Nothing here downloads: ImageNet weights are read from a local file the user already has, either given as
a path or named by a ``BackboneWeights`` member, which is looked up in torch's hub cache folder under
torchvision's own file name.
"""
from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torchvision.models import resnet18, resnet50


class BackboneWeightsError(RuntimeError):
    """Backbone weights are missing, unreadable or do not fit the backbone."""


class BackboneWeights(enum.Enum):
    """ImageNet weights by torchvision's release file names (resolved locally, never fetched)."""

    RESNET50_IMAGENET1K_V1 = "resnet50-0676ba61.pth"  # what the authors used (pretrained=True)
    RESNET50_IMAGENET1K_V2 = "resnet50-11ad3fa6.pth"
    RESNET18_IMAGENET1K_V1 = "resnet18-f37072fd.pth"

    def local_path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / self.value


def _dilate_first_block(layer: nn.Sequential, dilation: int) -> None:
    """Stride 1 and the given dilation on the first block's strided 3x3 conv, as the reference does.

    The reference passes stride and dilation only to the first block of a stage; later blocks keep
    dilation 1 (spec 1.1). This is not torchvision's replace_stride_with_dilation, which dilates them all.
    """
    block = layer[0]
    conv = block.conv2 if hasattr(block, "conv3") else block.conv1  # Bottleneck: 3x3 is conv2
    conv.stride = (1, 1)
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation, dilation)
    if block.downsample is not None:
        block.downsample[0].stride = (1, 1)


class FrozenBackbone(nn.Module):
    """A ResNet trunk (conv1..layer4) that is always in eval mode and never receives gradients."""

    def __init__(self, net: nn.Module, feature_dim: int, stride: int) -> None:
        super().__init__()
        del net.fc  # the classifier is never used; the reference drops fc.* too
        net.fc = nn.Identity()
        self.net = net
        self.feature_dim = feature_dim
        self.stride = stride
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "FrozenBackbone":
        # BatchNorm must keep ImageNet running statistics even while the head trains (spec 1.1).
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = self.net
        with torch.no_grad():
            x = n.maxpool(n.relu(n.bn1(n.conv1(images))))
            return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def load_weights(self, source: str | os.PathLike | BackboneWeights) -> None:
        """Load torchvision-style ResNet weights from a local .pth or .safetensors file."""
        path = source.local_path() if isinstance(source, BackboneWeights) else Path(source)
        if not path.is_file():
            raise BackboneWeightsError(
                f"backbone weights file not found: {path} (nothing is downloaded; copy torchvision's "
                f"ImageNet file there or set backbone_weights to a local path)"
            )
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # corrupt or foreign file: say which
            raise BackboneWeightsError(f"cannot read backbone weights {path}: {exc}") from exc
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        cleaned = {}
        for key, value in state.items():
            for prefix in ("module.", "backbone.rnet.", "backbone.net.", "net."):
                if key.startswith(prefix):
                    key = key[len(prefix):]
            if not key.startswith("fc."):
                cleaned[key] = value
        own = self.net.state_dict()
        missing = sorted(set(own) - set(cleaned))
        unexpected = sorted(set(cleaned) - set(own))
        wrong = [
            f"{k}: file {tuple(cleaned[k].shape)} vs backbone {tuple(own[k].shape)}"
            for k in sorted(set(own) & set(cleaned))
            if tuple(cleaned[k].shape) != tuple(own[k].shape)
        ]
        if missing or unexpected or wrong:
            raise BackboneWeightsError(
                f"backbone weights {path} do not fit: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}, shape mismatches {wrong[:5]}"
            )
        self.net.load_state_dict(cleaned, strict=True)


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: how to build it and what it outputs."""

    build: Callable[[], FrozenBackbone]
    feature_dim: int
    stride: int  # input side / feature-map side
    default_weights: BackboneWeights | None


def _resnet50_dilated() -> FrozenBackbone:
    net = resnet50(weights=None)
    _dilate_first_block(net.layer3, 2)
    _dilate_first_block(net.layer4, 4)
    return FrozenBackbone(net, feature_dim=2048, stride=8)


def _resnet18_dilated() -> FrozenBackbone:
    # Light backbone for CPU robots and tests: same stride/dilation scheme, 512 channels.
    net = resnet18(weights=None)
    _dilate_first_block(net.layer3, 2)
    _dilate_first_block(net.layer4, 4)
    return FrozenBackbone(net, feature_dim=512, stride=8)


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50_dilated": BackboneSpec(_resnet50_dilated, 2048, 8, BackboneWeights.RESNET50_IMAGENET1K_V1),
    "resnet18_dilated": BackboneSpec(_resnet18_dilated, 512, 8, BackboneWeights.RESNET18_IMAGENET1K_V1),
}


def build_backbone(name: str, weights: str | os.PathLike | BackboneWeights | None = None) -> FrozenBackbone:
    """Build a registered backbone, optionally loading local ImageNet weights."""
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    backbone = BACKBONES[name].build()
    if weights is not None:
        if isinstance(weights, str) and weights in BackboneWeights.__members__:
            weights = BackboneWeights[weights]
        backbone.load_weights(weights)
    return backbone
