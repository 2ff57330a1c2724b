"""What one ``mmo batch`` invocation is asked to do (``BatchJob``) and what it leaves
(``BatchReport``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Collection

if TYPE_CHECKING:
    from mmo.core.protocols import Provider
    from mmo.runtime.services import Services

from mmo.app.batch.progress import BatchProgress, BatchStop
from mmo.app.batch.summary import BatchSummary
from mmo.app.settings import RunSettings
from mmo.core.errors import ConfigError

DEFAULT_CONCURRENCY = 16
DEFAULT_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class BatchJob:
    input: str  # a path, or "-" for standard input
    output: str | None = None  # a path, or "-" for standard output; default beside the input
    settings: RunSettings = field(default_factory=RunSettings)
    concurrency: int = DEFAULT_CONCURRENCY
    max_cost_usd: float | None = None
    allow_unknown_prices: bool = False
    strict: bool = False
    unordered: bool = False
    run_id: str | None = None
    retry_errors: bool = False
    grace_s: float = DEFAULT_GRACE_S  # after Ctrl-C, how long rows in flight may finish
    log_text: bool = True  # False (--no-log): the run log keeps the rows' numbers, not their text

    def check(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.max_cost_usd is not None and not (math.isfinite(self.max_cost_usd) and self.max_cost_usd > 0):
            raise ConfigError(f"--max-cost must be a finite number above 0, not {self.max_cost_usd}")


@dataclass(frozen=True, slots=True)
class BatchReport:
    run_id: str
    run_dir: Path
    profile: str
    output: Path | None  # None: written to standard output
    errors_report: Path | None  # None: no malformed lines
    summary: BatchSummary
    progress: BatchProgress  # this invocation
    stop: BatchStop | None
    notices: tuple[str, ...]
    warnings: tuple[str, ...]
    max_cost_usd: float | None = None
    spent_usd: float = 0.0  # by the whole run, earlier invocations included
    output_closed: bool = False  # the output's reader closed it before every line was written


@dataclass(frozen=True, slots=True)
class JobCollection:
    """A collect run of provider batch jobs: only ``rows`` run, and ``wrap`` lays the jobs'
    answers over each provider (``mmo.app.provider_batch``)."""

    rows: Collection[int]
    wrap: Callable[[Provider, Services], Provider]
    run_id: str  # the run the jobs belong to: a changed input or profile would make another
