"""The ``logs`` use case: recent runs from the run log, and one run in full. No typer, no rich.

Reading needs no write access: where mmo cannot write (a read-only ``MMO_HOME``) the log is read
as it is. A damaged log is a usage error naming the file and the fix, never an internal error.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterator

from mmo.core.errors import ConfigError
from mmo.core.trace import Span
from mmo.runtime.runlog import AttemptRecord, RunRecord

if TYPE_CHECKING:
    from pathlib import Path

    from mmo.app.settings import AppEnv
    from mmo.runtime.runlog import RunLog

__all__ = ["AttemptRecord", "LogQuery", "RunDetails", "RunRecord", "recent_runs", "run_details", "run_to_dict"]

STATUSES = ("ok", "error", "interrupted")


@dataclass(frozen=True, slots=True)
class LogQuery:
    """Which runs to list, newest first. ``model`` (``provider:model``) matches runs where that
    model answered or was attempted."""

    limit: int | None = 20  # None: every run that matches (exports)
    model: str | None = None
    status: str | None = None
    profile: str | None = None
    text: str | None = None  # in the prompt or the answer, any case (``mmo logs -q``)
    since: str | None = None  # as ``mmo.app.log_stats.parse_moment`` reads them
    until: str | None = None

    def window(self) -> tuple[str | None, str | None]:
        """``since`` and ``until`` as the log's ISO times (UTC)."""
        from mmo.app.time_window import parse_moment
        from mmo.runtime.runlog import utc_iso

        since = utc_iso(parse_moment(self.since, "--since")) if self.since is not None else None
        until = utc_iso(parse_moment(self.until, "--until")) if self.until is not None else None
        return since, until

    def check(self) -> None:
        if self.limit is not None and self.limit < 1:
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
    since, until = query.window()
    with _reading(path) as log:
        return log.recent(query.limit, model=query.model, status=query.status, profile=query.profile, text=query.text, since=since, until=until)


def exported_runs(env: AppEnv, query: LogQuery) -> Iterator[RunRecord]:
    """Every run the query matches, newest first, read a few hundred at a time."""
    query.check()
    since, until = query.window()
    path = env.paths.runlog_path
    if not path.exists():
        return
    with _reading(path) as log:
        yield from log.iter_recent(query.limit, model=query.model, status=query.status, profile=query.profile,
                                   text=query.text, since=since, until=until)


def run_details(env: AppEnv, run_id: str) -> RunDetails:
    """One run by id or unique prefix, with its attempts and its decision trace."""
    path = env.paths.runlog_path
    if not path.exists():
        raise ConfigError("no runs logged yet: `mmo ask` records every run")
    with _reading(path) as log:
        try:
            run, attempts = log.get(run_id)
        except KeyError as missing:
            raise ConfigError(f"{missing.args[0]}; `mmo logs` lists recent runs") from None
    trace = Span.from_dict(json.loads(run.trace_json)) if run.trace_json else None
    return RunDetails(run, attempts, trace)


@contextmanager
def _reading(path: Path) -> Iterator[RunLog]:
    """The log open for reading (migrated first where mmo can write); a log that cannot be read
    is a ``ConfigError`` naming it."""
    from mmo.runtime.runlog import RunLog
    from mmo.runtime.sqlite_files import file_problem, is_damaged

    try:
        try:
            log = RunLog(path)
        except sqlite3.Error as error:
            if is_damaged(error):
                raise
            log = RunLog.reader(path)  # mmo cannot write there: read it as it is
        with log:
            yield log
    except sqlite3.Error as error:
        raise ConfigError(f"cannot read the run log {file_problem(path, error)}") from None


reading_log = _reading  # for the other log reports (``mmo.app.log_stats``)


def run_to_dict(run: RunRecord) -> dict[str, Any]:
    """A run as JSON, without its stored trace text (``RunDetails.to_dict`` adds it parsed)."""
    out = asdict(run)
    out.pop("trace_json", None)
    return out
