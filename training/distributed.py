"""torch.distributed plumbing for ``torchrun`` launches, and a rank-aware class-balanced sampler.

``torchrun --nproc_per_node N -m training.train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR /
MASTER_PORT; without them everything runs as a single process (world size 1, no process group).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from .data.sampler import class_balanced_weights

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup_distributed",
    "DistributedClassBalancedSampler",
    "all_reduce_mean",
    "barrier",
]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> this rank's CUDA device when there is one, else CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' requested but no CUDA GPU is available (use 'auto' or 'cpu')")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the torchrun process group if there is one (NCCL on CUDA, gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistInfo(rank, world, local_rank, dev)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ranks (identity in a single process)."""
    if dist.is_available() and dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= dist.get_world_size()
    return values


class DistributedClassBalancedSampler(Sampler[int]):
    """The reference's class-balanced sampler (spec 1.9), split over ranks like ``DistributedSampler``.

    Every epoch draws ``len(labels)`` indices with replacement, weight ``min(N/count(verb), cap)``, from a
    generator seeded by ``(seed, epoch)`` -- the same draw on every rank -- pads the draw to a multiple of
    the world size and gives rank r the items ``r, r + W, r + 2W, ...``. Call ``set_epoch`` each epoch.
    With one rank it is a seeded ``WeightedRandomSampler``, and a resumed run redraws the same epochs.
    """

    def __init__(
        self, labels: Sequence[int], num_replicas: int = 1, rank: int = 0, seed: int = 0, cap: float = 100.0
    ) -> None:
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} out of range for {num_replicas} replicas")
        self.weights = class_balanced_weights(labels, cap)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.seed = int(seed)
        self.epoch = 0
        n = len(self.weights)
        self.total_size = -(-n // self.num_replicas) * self.num_replicas
        self.num_samples = self.total_size // self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def epoch_indices(self) -> list[int]:
        """All ranks' indices of this epoch, before splitting."""
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        idx = torch.multinomial(self.weights, len(self.weights), replacement=True, generator=g).tolist()
        idx += idx[: self.total_size - len(idx)]
        return idx

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices()[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples
