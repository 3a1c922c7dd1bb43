"""On-disk cache of built engines, keyed by everything an engine depends on.

An engine is only valid for the TensorRT version, GPU model and compute capability it was built on, the
exact ONNX bytes, the precision and the batch profile. Each cached engine has a JSON sidecar holding
those fields; a mismatch, a missing or corrupt sidecar, or an engine that fails to load is rebuilt with
a log line saying why -- never an exception from the cache itself. Building is passed in as a function,
so this logic is independent of TensorRT (and unit-tested without it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from hotspot_core.backends.base import log
from hotspot_core.errors import BackendError

__all__ = ["CacheResult", "EngineCache", "EngineKey", "T"]

T = TypeVar("T")


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialized engine depends on."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    onnx_sha256: str
    precision: str
    batch_profile: tuple[int, int, int]  # min, opt, max crops
    input_size: int

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["batch_profile"] = list(self.batch_profile)
        return d


@dataclass
class CacheResult(Generic[T]):
    engine: T
    path: Path
    built: bool  # False: loaded from the cache
    reason: str  # why it was built, or "cached"


class EngineCache:
    """Engines under ``directory``, one slot per name (e.g. '<onnx stem>.fp16'), each with a sidecar."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)

    def paths(self, name: str) -> tuple[Path, Path]:
        return self.directory / f"{name}.engine", self.directory / f"{name}.json"

    def get_or_build(
        self, name: str, key: EngineKey, build: Callable[[], bytes], load: Callable[[bytes], T | None]
    ) -> CacheResult[T]:
        """The engine of slot ``name`` for ``key``: loaded when the cached one matches, else built and stored.

        ``build`` returns serialized engine bytes; ``load`` turns bytes into an engine (None or an
        exception: unreadable).
        """
        engine_path, meta_path = self.paths(name)
        reason = self._stale_reason(engine_path, meta_path, key)
        if reason is None:
            try:
                engine = load(engine_path.read_bytes())
            except Exception as exc:  # a truncated or foreign file must not take the node down
                engine, reason = None, f"cached engine could not be loaded ({type(exc).__name__}: {exc})"
            else:
                if engine is None:
                    reason = "cached engine could not be deserialized"
            if engine is not None:
                log.info("TensorRT engine loaded from cache: %s", engine_path)
                return CacheResult(engine, engine_path, False, "cached")
        log.warning("building TensorRT engine %s: %s (this can take minutes)", engine_path, reason)
        data = build()
        engine = load(data)
        if engine is None:
            raise BackendError(f"a freshly built TensorRT engine for {name} could not be deserialized")
        self._store(engine_path, meta_path, key, data)
        return CacheResult(engine, engine_path, True, reason)

    def _stale_reason(self, engine_path: Path, meta_path: Path, key: EngineKey) -> str | None:
        if not engine_path.is_file():
            return "no cached engine"
        try:
            stored = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            return f"engine sidecar {meta_path.name} missing or unreadable ({type(exc).__name__})"
        if stored.get("fingerprint") != key.fingerprint():
            fields = stored.get("key", {})
            changed = [f for f, v in key.as_dict().items() if fields.get(f) != v] or ["fingerprint"]
            return "cached engine was built for a different " + ", ".join(changed)
        return None

    def _store(self, engine_path: Path, meta_path: Path, key: EngineKey, data: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for path, payload in (
                (engine_path, data),
                (meta_path, json.dumps({"fingerprint": key.fingerprint(), "key": key.as_dict()}, indent=1).encode()),
            ):
                tmp = path.with_name(path.name + f".tmp{os.getpid()}")
                tmp.write_bytes(payload)
                os.replace(tmp, path)  # readers never see half a file
        except OSError as exc:
            log.warning(
                "could not store the TensorRT engine in %s (%s); it will be rebuilt next start", self.directory, exc
            )
