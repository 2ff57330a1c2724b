"""The ``paths`` use case: where mmo keeps its files, and where its keys live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmo.app.settings import AppEnv


@dataclass(frozen=True, slots=True)
class Paths:
    config: Path
    profiles: Path
    cache: Path
    run_log: Path
    batches: Path
    keys: str  # the keyring backend (environment variables win over it)


def mmo_paths(env: AppEnv) -> Paths:
    from mmo.runtime.keys import keyring_backend

    paths = env.paths
    return Paths(paths.config_dir, paths.profiles_dir, paths.response_cache_dir, paths.runlog_path, paths.data_dir / "batches", keyring_backend())
