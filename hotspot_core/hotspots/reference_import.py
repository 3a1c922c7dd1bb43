"""Convert the authors' released checkpoints (``ckpt_E_20.pth``) into our format (spec section 9).

Their files are ``{'net': state_dict, 'args': argparse.Namespace, 'epoch': int}`` with keys
``backbone.rnet.*`` (torchvision ResNet-50 names, no fc), ``project.*``, ``rnn.*``, ``fc.*``, ``h0``, ``c0``.
The action names are not in the file; they come from the dataset's ``annotations.json['verbs']``.

    python -m hotspot_core.hotspots.reference_import ckpt_E_20.pth --actions hold,touch,rotate,push,pull,"pick up","put down" -o opra.safetensors
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hotspot_core import cli
from hotspot_core.errors import CheckpointError
from hotspot_core.hotspots.checkpoint import save_checkpoint
from hotspot_core.hotspots.config import POOLS
from hotspot_core.hotspots.model import HotspotModel
from hotspot_core.weights import check_state_dict

__all__ = ["convert_reference_state_dict", "import_reference_checkpoint", "main"]


def convert_reference_state_dict(net: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the authors' keys to ours (only the backbone prefix differs)."""
    out = {}
    for key, value in net.items():
        if key.startswith("module."):  # saved from nn.DataParallel without .module
            key = key[len("module.") :]
        if key.startswith("backbone.rnet."):
            key = "backbone.net." + key[len("backbone.rnet.") :]
        out[key] = value
    return out


# The authors' train.py picks the anticipation loss from the dataset (spec 1.6, train.py:84-87): their
# saved args have no ant_loss field, only dset.
ANT_LOSS_BY_DSET = {"opra": "mse", "epic": "triplet"}


def _is_torch_file(path: Path) -> bool:
    """torch.save writes a zip archive (torch >= 1.6) or, legacy, a pickle (first byte: PROTO opcode)."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, "rb") as f:
        return f.read(1) == pickle.PROTO


def _load_reference_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"reference checkpoint not found: {path}")
    if not _is_torch_file(path):
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (neither torch.save's zip archive nor a pickle)")
    try:
        # The files pickle an argparse.Namespace; allow exactly that class rather than arbitrary code.
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message advises weights_only=False, which would run arbitrary code from the file and which
        # this tool deliberately never does: say what the file holds instead.
        raise CheckpointError(
            f"{path} is a PyTorch file but not an authors' checkpoint: it holds objects other than tensors and "
            f"argparse.Namespace ({str(exc).splitlines()[-1].strip() if str(exc).strip() else type(exc).__name__})"
        ) from exc
    except Exception as exc:
        raise CheckpointError(f"cannot read reference checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or "net" not in ckpt:
        raise CheckpointError(f"{path} is not an authors' checkpoint: expected a dict with a 'net' state dict")
    return ckpt


def reference_ant_loss(args: Any, src: Any = "checkpoint") -> str:
    """The anticipation loss of an authors' run: ``args.ant_loss`` when saved, else derived from
    ``args.dset`` as their train.py does (EPIC: triplet, OPRA: mse); mse when the file has no args."""
    saved = getattr(args, "ant_loss", None)
    if saved:
        return str(saved)
    dset = getattr(args, "dset", None)
    if dset is None:
        return "mse"  # no args at all: their eval/viz build the model with the default ant_loss='mse'
    try:
        return ANT_LOSS_BY_DSET[str(dset).lower()]
    except KeyError:
        raise CheckpointError(
            f"{src}: unknown dset {dset!r} in its args (expected one of "
            f"{sorted(ANT_LOSS_BY_DSET)}): cannot tell its anticipation loss"
        ) from None


def import_reference_checkpoint(
    src: str | os.PathLike,
    actions: Sequence[str],
    dst: str | os.PathLike,
    backbone: str = "resnet50_dilated",
    input_size: int = 224,
) -> HotspotModel:
    """Read an authors' checkpoint, check it against the architecture and write our format to ``dst``."""
    ckpt = _load_reference_file(Path(src))
    state = convert_reference_state_dict(ckpt["net"])
    fc = state.get("fc.weight")
    if fc is not None and fc.shape[0] != len(actions):
        raise CheckpointError(f"{src}: classifier has {fc.shape[0]} outputs but {len(actions)} action names were given")
    args = ckpt.get("args")
    ant_loss = reference_ant_loss(args, src)
    pool_fn = str(getattr(args, "pool_fn", "L2") or "L2")  # the reference's pool_fn: 'L2' (default) or 'avg'
    if pool_fn.lower() not in POOLS:
        raise CheckpointError(f"{src}: unsupported pool_fn {pool_fn!r} in its args (expected 'L2' or 'avg')")
    model = HotspotModel(
        {
            "backbone": backbone,
            "actions": list(actions),
            "input_size": input_size,
            "ant_loss": ant_loss,
            "pool": pool_fn.lower(),
        }
    )
    check_state_dict(model.state_dict(), state, str(src))
    model.load_state_dict(state, strict=True)
    model.eval()
    save_checkpoint(model, dst, extra={"imported_from": str(src), "epoch": ckpt.get("epoch")})
    return model


def _parse_actions(text: str) -> list[str]:
    path = Path(text)
    if path.is_file():  # an annotations.json: take its ordered verb list
        return list(json.loads(path.read_text())["verbs"])
    return [a.strip() for a in text.split(",") if a.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src", help="authors' checkpoint (.pth)")
    parser.add_argument("--actions", required=True, help="comma-separated names in index order, or an annotations.json")
    parser.add_argument("-o", "--output", required=True, help="output .safetensors")
    parser.add_argument("--backbone", default="resnet50_dilated")
    args = parser.parse_args(argv)
    try:
        model = import_reference_checkpoint(args.src, _parse_actions(args.actions), args.output, args.backbone)
    except CheckpointError as exc:
        parser.exit(2, f"error: {exc}\n")
    print(f"wrote {args.output}: {model.config.backbone}, {len(model.actions)} actions {list(model.actions)}")
    return 0


if __name__ == "__main__":
    cli.run(main)
