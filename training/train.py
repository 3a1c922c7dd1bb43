"""Train an interaction-hotspot model (or the LSTM+Grad-CAM / DIRECT CLS baselines).

    python -m training.train --config training/configs/synthetic_ours.yaml --data-root /tmp/world \
        --out-dir runs/ours [--cache-features cache/world] [--resume]
    torchrun --nproc_per_node 4 -m training.train --config ...        # DDP, one process per GPU

What a run writes under ``out_dir`` (rank 0 only):

* ``model.safetensors``: the latest epoch's model in our checkpoint format (config inside), and
  ``epoch_NNN.safetensors`` for the last ``keep_checkpoints`` epochs (0 keeps all);
* ``resume.pt``: optimiser, scheduler, epoch, step and RNG state for ``--resume``;
* ``metrics.jsonl`` (one JSON line per logged step and per epoch), ``train.log``, ``config.yaml`` and
  TensorBoard scalars under ``tb/``.

Reproducible: the model init comes from ``seed``; every augmentation draw from (data seed, epoch, index);
the sampler's draw from (seed, epoch). The same config gives the same losses on CPU, and a resumed run
continues exactly where the interrupted one would have gone.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.data import DataLoader

from hotspot_core import cli
from hotspot_core.errors import ConfigError
from hotspot_core.hotspots.checkpoint import save_checkpoint
from hotspot_core.hotspots.config import ModelConfig
from hotspot_core.hotspots.model import HotspotModel
from hotspot_core.weights import file_sha256, state_sha256

from .config import TrainConfig, parse_config
from .data import build_clip_dataset
from .direct_cls import METHOD as DIRECT_METHOD
from .direct_cls import DirectCLSModel
from .distributed import (
    DistInfo,
    DistributedClassBalancedSampler,
    all_reduce_mean,
    barrier,
    cleanup_distributed,
    init_distributed,
)
from .engine import BackboneRunner, TrainStep, amp_dtype_for
from .feature_cache import CacheKey, ensure_feature_cache

log = logging.getLogger("training.train")

__all__ = ["TrainResult", "train", "main", "build_training_model", "RESUME_FILE", "MODEL_FILE"]

RESUME_FILE = "resume.pt"
MODEL_FILE = "model.safetensors"
LOSS_KEYS = ("total", "cls", "aux", "ant")


@dataclass
class TrainResult:
    """What a finished run produced (rank 0's view; the losses are averaged over ranks)."""

    checkpoint: Path
    epochs_run: int
    epoch_losses: list[float] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    weights_sha256: str = ""
    seconds: float = 0.0


def build_training_model(cfg: TrainConfig, actions: Sequence[str]) -> HotspotModel | DirectCLSModel:
    """The model a config trains (initialised from ``cfg.seed``)."""
    model_cfg = ModelConfig(
        backbone=cfg.backbone,
        actions=tuple(actions),
        input_size=cfg.input_size,
        ant_loss="none" if cfg.method == DIRECT_METHOD else cfg.ant_loss,
        backbone_weights=cfg.backbone_weights,
        pool=cfg.pool,
    )
    torch.manual_seed(cfg.seed)
    return DirectCLSModel(model_cfg) if cfg.method == DIRECT_METHOD else HotspotModel(model_cfg)


def _setup_logging(out_dir: Path, info: DistInfo) -> None:
    root = logging.getLogger("training")
    root.setLevel(logging.INFO)
    for h in list(root.handlers):
        if getattr(h, "_hotspots", False):
            root.removeHandler(h)
            h.close()
    fmt = logging.Formatter(f"%(asctime)s [rank {info.rank}] %(name)s: %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if info.is_main:
        handlers.append(logging.FileHandler(out_dir / "train.log", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h.setLevel(logging.INFO if info.is_main else logging.WARNING)
        h._hotspots = True  # type: ignore[attr-defined]
        root.addHandler(h)


def _rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [name, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _scheduler_state(sched: torch.optim.lr_scheduler.MultiStepLR) -> dict[str, Any]:
    state = dict(sched.state_dict())
    state["milestones"] = {int(k): int(v) for k, v in state["milestones"].items()}  # Counter -> plain dict
    return state


def _load_scheduler_state(sched: torch.optim.lr_scheduler.MultiStepLR, state: dict[str, Any]) -> None:
    from collections import Counter

    state = dict(state)
    state["milestones"] = Counter(state["milestones"])
    sched.load_state_dict(state)


def _trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith("backbone.")}


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _data_loader(
    dataset: Any, sampler: DistributedClassBalancedSampler, batch: int, workers: int, device: torch.device
) -> DataLoader:
    return DataLoader(
        dataset,
        batch_size=batch,
        sampler=sampler,
        shuffle=False,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=False,
    )


def train(cfg: TrainConfig, resume: bool = False, info: DistInfo | None = None) -> TrainResult:
    """Run (or resume) the training described by ``cfg``; returns the final checkpoint path and losses."""
    t_start = time.perf_counter()
    info = info or init_distributed(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    _setup_logging(cfg.out_dir, info)
    if info.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    clips = build_clip_dataset(cfg.dataset, split="train", train=True)
    model = build_training_model(cfg, clips.verbs).to(info.device)
    if info.device.type == "cuda" and cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    amp_dtype = amp_dtype_for(cfg.amp, info.device)
    runner = BackboneRunner(model, info.device, amp_dtype, cfg.channels_last)
    if info.is_main:
        (cfg.out_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
        log.info(
            "%s: %d training clips, actions %s, backbone %s (%s), input %d, ant_loss %s, pool %s, %d rank(s) on %s%s",
            cfg.method,
            len(clips),
            list(clips.verbs),
            cfg.backbone,
            cfg.backbone_weights,
            cfg.input_size,
            model.config.ant_loss,
            model.config.pool,
            info.world_size,
            info.device,
            f", autocast {amp_dtype}" if amp_dtype else "",
        )

    dataset: Any = clips
    workers = cfg.num_workers
    if cfg.cache_features is not None:
        key = CacheKey(
            backbone=cfg.backbone,
            backbone_sha256=state_sha256(model.backbone),
            input_size=cfg.input_size,
            resize=cfg.dataset.resize,
            max_len=cfg.dataset.max_len,
            sample_rate=int(cfg.dataset.sample_rate or 1),
            data_seed=cfg.dataset.seed,
            views=min(cfg.cache_views, cfg.epochs),
            dataset=cfg.dataset.name,
            split="train",
            annotations_sha256=file_sha256(cfg.dataset.annotations_path),
            negatives=cfg.dataset.name == "epic",
        )
        dataset = ensure_feature_cache(
            cfg.cache_features,
            key,
            clips,
            runner,
            info,
            batch_size=16,
            num_workers=cfg.num_workers,
            progress=cfg.progress,
            pool=model.config.pool,
        )
        workers = 0  # reading the memory-mapped cache is cheaper than starting worker processes
    per_rank_batch = max(1, cfg.batch_size // info.world_size)
    sampler = DistributedClassBalancedSampler(dataset.labels, info.world_size, info.rank, cfg.seed, cfg.sampler_cap)
    loader = _data_loader(dataset, sampler, per_rank_batch, workers, info.device)

    step_module: torch.nn.Module = TrainStep(model, runner)
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP

        unused = cfg.method != DIRECT_METHOD and cfg.ant_loss == "none"  # F_ant exists but is never used
        step_module = DDP(
            step_module,
            device_ids=[info.device.index] if info.device.type == "cuda" else None,
            find_unused_parameters=unused,
        )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.milestones), gamma=cfg.gamma)

    start_epoch, global_step = 0, 0
    resume_path = cfg.out_dir / RESUME_FILE
    if resume:
        if not resume_path.is_file():
            raise FileNotFoundError(f"--resume: {resume_path} not found")
        state = torch.load(resume_path, map_location="cpu", weights_only=True)
        saved = state["model_config"]
        if saved != model.config.to_dict():
            raise ConfigError(
                f"--resume: {resume_path} was written for model config {saved}, not {model.config.to_dict()}"
            )
        missing = model.load_state_dict(state["model"], strict=False).missing_keys
        if any(not k.startswith("backbone.") for k in missing):
            raise ConfigError(f"--resume: {resume_path} lacks tensors {missing}")
        optimizer.load_state_dict(state["optimizer"])
        _load_scheduler_state(scheduler, state["scheduler"])
        _set_rng_state(state["rng"])
        start_epoch, global_step = int(state["epoch"]), int(state["global_step"])
        log.info("resumed from %s at epoch %d (step %d)", resume_path, start_epoch, global_step)

    writer = None
    if info.is_main and cfg.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(cfg.out_dir / "tb"))
    # A resumed run appends to the interrupted run's log; a fresh run starts a new one.
    metrics_file = (
        open(cfg.out_dir / "metrics.jsonl", "a" if resume else "w", encoding="utf-8") if info.is_main else None
    )
    result = TrainResult(checkpoint=cfg.out_dir / MODEL_FILE, epochs_run=0)
    method_extra = {"method": DIRECT_METHOD if cfg.method == DIRECT_METHOD else "hotspots"}
    try:
        for epoch in range(start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            model.train()
            dataset.set_epoch(epoch)
            sampler.set_epoch(epoch)
            sums = torch.zeros(len(LOSS_KEYS) + 1, dtype=torch.float64)
            batches: Any = loader
            if cfg.progress and info.is_main:
                from tqdm import tqdm

                batches = tqdm(
                    loader,
                    desc=f"epoch {epoch + 1}/{cfg.epochs}",
                    unit="batch",
                    leave=False,
                    total=min(len(loader), cfg.max_steps_per_epoch or len(loader)),
                )
            for step, batch in enumerate(batches):
                if cfg.max_steps_per_epoch is not None and step >= cfg.max_steps_per_epoch:
                    break
                out = step_module(batch)
                optimizer.zero_grad(set_to_none=True)
                out["total"].backward()
                optimizer.step()
                global_step += 1
                values = torch.stack([out[k].detach().float().cpu() for k in LOSS_KEYS]).double()
                sums[:-1] += values
                sums[-1] += 1
                if global_step % cfg.log_every == 0:
                    mean = all_reduce_mean(values.float().to(info.device)).cpu().tolist()
                    result.step_losses.append(mean[0])
                    if info.is_main:
                        rec = {
                            "epoch": epoch + 1,
                            "step": global_step,
                            "lr": optimizer.param_groups[0]["lr"],
                            **{k: round(v, 6) for k, v in zip(LOSS_KEYS, mean)},
                        }
                        metrics_file.write(json.dumps(rec) + "\n")
                        metrics_file.flush()
                        if writer is not None:
                            for k, v in zip(LOSS_KEYS, mean):
                                writer.add_scalar(f"loss/{k}", v, global_step)
                            writer.add_scalar("lr", rec["lr"], global_step)
                        if hasattr(batches, "set_postfix"):
                            batches.set_postfix(loss=f"{mean[0]:.4f}")
            scheduler.step()
            epoch_mean = all_reduce_mean((sums[:-1] / sums[-1].clamp_min(1)).float().to(info.device)).cpu().tolist()
            result.epoch_losses.append(epoch_mean[0])
            result.epochs_run += 1
            seconds = time.perf_counter() - t0
            if info.is_main:
                _save_epoch(cfg, model, optimizer, scheduler, epoch + 1, global_step, method_extra)
                rec = {
                    "epoch": epoch + 1,
                    "epoch_seconds": round(seconds, 3),
                    **{f"epoch_{k}": round(v, 6) for k, v in zip(LOSS_KEYS, epoch_mean)},
                }
                metrics_file.write(json.dumps(rec) + "\n")
                metrics_file.flush()
                if writer is not None:
                    writer.add_scalar("epoch/loss", epoch_mean[0], epoch + 1)
                    writer.add_scalar("epoch/seconds", seconds, epoch + 1)
                log.info(
                    "epoch %d/%d: loss %.4f (cls %.4f aux %.4f ant %.4f) in %.1f s",
                    epoch + 1,
                    cfg.epochs,
                    *epoch_mean,
                    seconds,
                )
            barrier()
    finally:
        if writer is not None:
            writer.close()
        if metrics_file is not None:
            metrics_file.close()
    result.weights_sha256 = state_sha256(model)
    if info.distributed:
        # Every rank records its final parameters' hash so a launcher can check they agree. (BatchNorm
        # running statistics are per rank, as under the reference's DataParallel; rank 0's are saved.)
        ranks = cfg.out_dir / "ranks"
        ranks.mkdir(exist_ok=True)
        params = torch.nn.ParameterDict(
            {k.replace(".", "/"): p for k, p in model.named_parameters() if p.requires_grad}
        )
        (ranks / f"rank{info.rank}.json").write_text(
            json.dumps(
                {
                    "rank": info.rank,
                    "world_size": info.world_size,
                    "params_sha256": state_sha256(params),
                    "epoch_losses": result.epoch_losses,
                }
            )
            + "\n",
            encoding="utf-8",
        )
    result.seconds = time.perf_counter() - t_start
    if info.is_main:
        log.info("done: %s (%d epochs in %.1f s)", result.checkpoint, result.epochs_run, result.seconds)
    return result


def _save_epoch(
    cfg: TrainConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.MultiStepLR,
    epoch: int,
    global_step: int,
    method_extra: dict[str, Any],
) -> None:
    # No local paths: checkpoints get shipped (the demo model), and the same run must give the same bytes.
    extra = {**method_extra, "epoch": epoch, "epochs": cfg.epochs, "seed": cfg.seed, "dataset": cfg.dataset.name}
    path = save_checkpoint(model, cfg.out_dir / f"epoch_{epoch:03d}.safetensors", extra=extra)
    tmp = cfg.out_dir / (MODEL_FILE + ".tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, cfg.out_dir / MODEL_FILE)
    if cfg.keep_checkpoints:
        for old in sorted(cfg.out_dir.glob("epoch_*.safetensors"))[: -cfg.keep_checkpoints]:
            old.unlink()
    _atomic_torch_save(
        {
            "epoch": epoch,
            "global_step": global_step,
            "model_config": model.config.to_dict(),
            "model": _trainable_state(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": _scheduler_state(scheduler),
            "rng": _rng_state(),
            "train_config": json.dumps(cfg.to_dict()),
        },
        cfg.out_dir / RESUME_FILE,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        cfg, args = parse_config(argv)
    except ConfigError as exc:
        return cli.report(exc)
    info = init_distributed(cfg.device)
    try:
        train(cfg, resume=args.resume, info=info)
    finally:
        cleanup_distributed()
    return 0


if __name__ == "__main__":
    cli.run(main)
