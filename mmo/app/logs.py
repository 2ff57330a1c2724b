"""The ``logs`` use case: recent runs from the run log, and one run in full. No typer, no rich."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mmo.core.errors import ConfigError
from mmo.core.trace import Span
from mmo.runtime.runlog import AttemptRecord, RunRecord

if TYPE_CHECKING:
    from mmo.app.settings import AppEnv

__all__ = ["AttemptRecord", "LogQuery", "RunDetails", "RunRecord", "recent_runs", "run_details", "run_to_dict"]

STATUSES = ("ok", "error", "interrupted")


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which runs to list, newest first. ``model`` (``provider:model``) matches runs where that
    model answered or was attempted."""

    limit: int = 20
    model: str | None = None
    status: str | None = None
    profile: str | None = None

    def check(self) -> None:
        if self.limit < 1:
            raise ConfigError(f"--limit must be at least 1, not {self.limit}")
        if self.status is not None and self.status not in STATUSES:
            raise ConfigError(f"--status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.model is not None and ":" not in self.model:
            raise ConfigError(f"--model {self.model!r}: give the model as provider:model (e.g. openai:gpt-5-mini), as the log stores it")


@dataclass(frozen=True, slots=True)
class RunDetails:
    run: RunRecord
    attempts: list[AttemptRecord]
    trace: Span | None  # None for a run logged without one

    def to_dict(self) -> dict[str, Any]:
        return {
            **run_to_dict(self.run),
            "attempts": [asdict(a) for a in self.attempts],
            "trace": self.trace.to_dict() if self.trace is not None else None,
        }


def recent_runs(env: AppEnv, query: LogQuery) -> list[RunRecord]:
    """Newest first; an empty list when nothing was ever logged (no log file is created)."""
    query.check()
    path = env.paths.runlog_path
    if not path.exists():
        return []
    from mmo.runtime.runlog import RunLog

    with RunLog(path) as log:
        return log.recent(query.limit, model=query.model, status=query.status, profile=query.profile)


def run_details(env: AppEnv, run_id: str) -> RunDetails:
    """One run by id or unique prefix, with its attempts and its decision trace."""
    path = env.paths.runlog_path
    if not path.exists():
        raise ConfigError("no runs logged yet: `mmo ask` records every run")
    from mmo.runtime.runlog import RunLog

    with RunLog(path) as log:
        try:
            run, attempts = log.get(run_id)
        except KeyError as missing:
            raise ConfigError(f"{missing.args[0]}; `mmo logs` lists recent runs") from None
    trace = Span.from_dict(json.loads(run.trace_json)) if run.trace_json else None
    return RunDetails(run, attempts, trace)


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    """A run as JSON, without its stored trace text (``RunDetails.to_dict`` adds it parsed)."""
    out = asdict(run)
    out.pop("trace_json", None)
    return out
