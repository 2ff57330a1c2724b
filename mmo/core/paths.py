"""Where mmo keeps its files. ``MMO_HOME`` overrides every user directory (tests, sandboxes,
several isolated setups on one machine); otherwise platformdirs picks the OS's conventions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True, slots=True)
class MmoPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MmoPaths:
        env = os.environ if environ is None else environ
        home = env.get("MMO_HOME")
        if home:
            root = Path(home).expanduser()
            return cls(root / "config", root / "data", root / "cache")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir("mmo")),
            Path(platformdirs.user_data_dir("mmo")),
            Path(platformdirs.user_cache_dir("mmo")),
        )

    @property
    def profiles_dir(self) -> Path:
        return self.config_dir / "profiles"

    @property
    def response_cache_dir(self) -> Path:
        return self.cache_dir / "responses"

    @property
    def profile_cache_dir(self) -> Path:
        return self.cache_dir / "profiles"

    @property
    def runlog_path(self) -> Path:
        return self.data_dir / "runlog.sqlite3"
