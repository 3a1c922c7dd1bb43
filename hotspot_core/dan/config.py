"""Configuration of a Dual Attention Network (``hotspot_core.dan.model``), stored in its checkpoints.

Kept apart from ``ModelConfig`` (the hotspot model's): a DAN has an object vocabulary, a variant and a
temporal head, and no anticipation module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hotspot_core.config import IMAGENET_MEAN, IMAGENET_STD, ImageInputConfig, check_config_mapping, check_image_input
from hotspot_core.errors import ConfigError

__all__ = ["DANConfig", "NULL_OBJECT_NAME", "PRIORS", "TASKS", "TEMPORAL_HEADS", "VARIANTS"]

VARIANTS = ("baseline", "multitask", "self", "dual")
TASKS = ("action", "object")
TEMPORAL_HEADS = ("tsn", "trn")
PRIORS = ("predicted", "gt")
NULL_OBJECT_NAME = "<none>"  # the second object classifier's extra class: single-object actions


@dataclass(frozen=True)
class DANConfig(ImageInputConfig):
    """Architecture, vocabularies and preprocessing of a DAN model.

    variant: 'baseline' (average pooling, one prediction; usually one task per model), 'multitask'
        (average pooling, action and object heads), 'self' (attention from the features alone, the
        paper's self-attention baseline) or 'dual' (object prior -> action attention, action prior ->
        object attention; paper Eqs. 6-11).
    tasks: which heads exist ('action', 'object'); attention variants need both.
    temporal_head: 'tsn' (average over frames, 2-layer MLP) or 'trn' (multi-scale TRN).
    num_frames: frames sampled per clip (TSN segments); TRN relations are built for this many.
    second_object: a second object classifier with a null class (actions on two objects).
    prior: 'predicted' (first prediction) or 'gt' (one-hot ground truth, paper Table 1b).
    embed_dim: width of the projected features and of the prior embeddings (512 in the paper).
    attention_dim: hidden size of Eqs. 6-7 (the paper's W in R^{N x d} does not type-check; 512).
    relation_dim: width of the TRN g_phi / h_phi MLPs (256). head_hidden: TSN MLP hidden width.
    feature_pool: average-pool the backbone maps k x k before everything else (our stride-8 backbones
        give 14x14 at 112 px; 2 gives the paper's 7x7 grid, N = 49, and 4x less attention compute).
    trn_tuples: ordered frame tuples per TRN scale (all of them for the full scale).
    dropout: on the backbone features (0.5). detach_priors: stop gradients from the second prediction
        into the first (off: the paper trains end to end).
    """

    backbone: str
    actions: tuple[str, ...]
    objects: tuple[str, ...]
    variant: str = "dual"
    tasks: tuple[str, ...] = TASKS
    temporal_head: str = "trn"
    num_frames: int = 4
    input_size: int = 112
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    backbone_weights: str | None = None
    second_object: bool = True
    prior: str = "predicted"
    embed_dim: int = 512
    attention_dim: int = 512
    relation_dim: int = 256
    head_hidden: int = 512
    trn_tuples: int = 3
    feature_pool: int = 1
    dropout: float = 0.5
    detach_priors: bool = False

    def __post_init__(self) -> None:
        check_image_input(self)
        for name in ("actions", "objects"):
            names = tuple(getattr(self, name))
            if not names or any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
                raise ConfigError(f"{name} must be unique non-empty strings, got {list(names)!r}")
            object.__setattr__(self, name, names)
        if NULL_OBJECT_NAME in self.objects:
            raise ConfigError(f"{NULL_OBJECT_NAME!r} is reserved for the null object label")
        tasks = tuple(self.tasks)
        if not tasks or any(t not in TASKS for t in tasks) or len(set(tasks)) != len(tasks):
            raise ConfigError(f"tasks must be a non-empty subset of {TASKS}, got {list(tasks)!r}")
        object.__setattr__(self, "tasks", tuple(t for t in TASKS if t in tasks))
        checks = (("variant", VARIANTS), ("temporal_head", TEMPORAL_HEADS), ("prior", PRIORS))
        for name, allowed in checks:
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.variant in ("multitask", "self", "dual") and len(self.tasks) != 2:
            raise ConfigError(f"variant {self.variant!r} needs both tasks {TASKS}")
        if self.prior == "gt" and self.variant != "dual":
            raise ConfigError("prior='gt' only applies to the dual variant")
        if self.num_frames < 1 or (self.temporal_head == "trn" and self.num_frames < 2):
            raise ConfigError(f"num_frames must be >= 1 (>= 2 for TRN), got {self.num_frames}")
        for name in ("embed_dim", "attention_dim", "relation_dim", "head_hidden", "trn_tuples", "feature_pool"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if (self.input_size // self.backbone_stride) % self.feature_pool:
            raise ConfigError(
                f"feature_pool {self.feature_pool} must divide the {self.input_size // self.backbone_stride}"
                f"-cell feature map of input_size {self.input_size}"
            )

    @property
    def num_actions(self) -> int:
        return len(self.actions)

    @property
    def num_objects(self) -> int:
        return len(self.objects)

    @property
    def second_objects(self) -> tuple[str, ...]:
        """Classes of the second object classifier: the objects, then the null label."""
        return self.objects + (NULL_OBJECT_NAME,)

    @property
    def feature_size(self) -> int:
        """Side of the attention grid (backbone map after ``feature_pool``)."""
        return self.input_size // self.backbone_stride // self.feature_pool

    @property
    def attends(self) -> bool:
        """True for the attention variants (two predictions)."""
        return self.variant in ("self", "dual")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | DANConfig) -> DANConfig:
        if isinstance(data, DANConfig):
            return data
        check_config_mapping(cls, data, "DAN")
        for required in ("backbone", "actions", "objects"):
            if required not in data:
                raise ConfigError(f"DAN config is missing required key {required!r}")
        for key in ("actions", "objects", "tasks"):
            if isinstance(data.get(key), str):
                raise ConfigError(f"{key!r} must be a list of names, not a single string")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> DANConfig:
        return dataclasses.replace(self, **changes)
