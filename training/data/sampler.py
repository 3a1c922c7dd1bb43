"""Class-balanced sampling (reference ``hotspot_dataset.py:38-45``, spec 1.9).

Weight of a sample = ``min(N_total / count(its verb), cap)`` with cap 100, drawn with replacement,
``num_samples = len(labels)`` per epoch (use it with ``shuffle=False``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch
from torch.utils.data import WeightedRandomSampler

__all__ = ["class_balanced_weights", "class_balanced_sampler"]


def class_balanced_weights(labels: Sequence[int], cap: float = 100.0) -> torch.Tensor:
    """Per-sample weights ``min(N / count(label), cap)`` as a float64 tensor."""
    labels = [int(v) for v in labels]
    if not labels:
        raise ValueError("need at least one label")
    n = len(labels)
    counts = Counter(labels)
    return torch.tensor([min(n / counts[v], cap) for v in labels], dtype=torch.float64)


def class_balanced_sampler(
    labels: Sequence[int], generator: torch.Generator | None = None, cap: float = 100.0
) -> WeightedRandomSampler:
    """``WeightedRandomSampler`` with replacement over ``labels`` (pass a seeded ``generator``)."""
    weights = class_balanced_weights(labels, cap)
    return WeightedRandomSampler(weights, num_samples=len(weights), replacement=True, generator=generator)
