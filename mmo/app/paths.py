"""The ``paths`` use case: where mmo keeps its files (the config file of ``mmo config``
included), and where its keys live: ``keys`` is the keyring backend by module and class,
``keys_backend`` its name as users know it ("Secret Service", ...; "none" without one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmo.app.settings import AppEnv


@dataclass(frozen=True, slots=True)
class Paths:
    config: Path
    config_file: Path
    profiles: Path
    cache: Path
    run_log: Path
    batches: Path
    keys: str  # the keyring backend (environment variables win over it)
    keys_backend: str


def mmo_paths(env: AppEnv) -> Paths:
    from mmo.app.user_config import config_path
    from mmo.runtime.keys import keyring_backend, keyring_backend_name

    paths = env.paths
    return Paths(
        paths.config_dir,
        config_path(env),
        paths.profiles_dir,
        paths.response_cache_dir,
        paths.runlog_path,
        paths.data_dir / "batches",
        keyring_backend(),
        keyring_backend_name() or "none (set keys in the environment)",
    )
