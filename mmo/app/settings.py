"""What a command's run is made of, declared once for every command: the outside world it may
read (``AppEnv``), the profile or model asked for (``ProfileChoice``), and the settings every
request of the run shares (``RunSettings``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from mmo.core.paths import MmoPaths
from mmo.core.target import RunOptions


def warn_on_stderr(message: str) -> None:
    """Say something the user must see before anything runs, on standard error."""
    import sys

    from mmo.core.shown import shown

    if sys.stderr is not None:
        sys.stderr.write(f"warning: {shown(message)}\n")
        sys.stderr.flush()


@dataclass(frozen=True, slots=True)
class AppEnv:
    """The outside world a use case may read: environment variables, working directory, paths;
    and where to say what the user must know before anything runs (``notice``: a project
    profile hiding another of the same name), standard error unless a caller collects it."""

    environ: Mapping[str, str]
    cwd: Path
    paths: MmoPaths
    notice: Callable[[str], None] = warn_on_stderr

    @classmethod
    def from_process(cls) -> AppEnv:
        import os

        return cls(dict(os.environ), Path.cwd(), MmoPaths.from_env())


@dataclass(frozen=True, slots=True)
class ProfileChoice:
    """Which profile and model the user asked for. ``model`` skips the profile's strategy;
    ``replay_data`` points the profile's replay providers at other recorded data
    (``mmo.app.replay_data``)."""

    profile: str | None = None
    model: str | None = None
    replay_data: str | None = None


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The settings every request of one command's run shares: the profile (or model), parameters
    laid over the profile's (``-p``), the response cache, whether anything may wait, and failover
    drills (``--simulate-outage PROVIDER[:MODEL]|ALIAS``: calls to it fail)."""

    choice: ProfileChoice = field(default_factory=ProfileChoice)
    params: Mapping[str, Any] = field(default_factory=dict)
    read_cache: bool = True
    write_cache: bool = True
    fail_fast: bool = False
    simulate_outage: tuple[str, ...] = ()

    @property
    def options(self) -> RunOptions:
        return RunOptions(read_cache=self.read_cache, write_cache=self.write_cache, fail_fast=self.fail_fast)

    @property
    def uses_cache(self) -> bool:
        return self.read_cache or self.write_cache
