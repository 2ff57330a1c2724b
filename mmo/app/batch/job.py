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
from mmo.runtime.shared_run import WorkerStats

DEFAULT_CONCURRENCY = 16
DEFAULT_GRACE_S = 10.0
DEFAULT_CLAIM_TIMEOUT_S = 60.0


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
    shared: bool = False  # --shared: one run worked on by every worker through the state server
    claim_timeout_s: float = DEFAULT_CLAIM_TIMEOUT_S  # a shared run's row goes back to the others this long after its worker was last heard from

    def check(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.shared:
            self._check_shared()
        if self.max_cost_usd is not None and not (math.isfinite(self.max_cost_usd) and self.max_cost_usd > 0):
            raise ConfigError(f"--max-cost must be a finite number above 0, not {self.max_cost_usd}")

    def _check_shared(self) -> None:
        if not (math.isfinite(self.claim_timeout_s) and self.claim_timeout_s >= 1):
            raise ConfigError(f"--claim-timeout must be at least 1 second, not {self.claim_timeout_s}")
        if self.unordered:
            raise ConfigError("--unordered streams this worker's rows as they finish; a --shared run's output is written whole, in input order, once every worker's rows are in: drop one of them")


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
    shared: SharedOutcome | None = None  # a --shared run: its workers, and whether this one wrote the output


@dataclass(frozen=True, slots=True)
class SharedOutcome:
    worker: str  # this worker's name in the run
    workers: tuple[WorkerStats, ...]  # every worker that joined the run, this one included
    complete: bool  # every row is finished, so the output was written
    duplicates: int  # rows this worker finished after another had (their cost is in its spend)
    round_trips: int  # to the state server, by this worker


@dataclass(frozen=True, slots=True)
class JobCollection:
    """A collect run of provider batch jobs: only ``rows`` run, and ``wrap`` lays the jobs'
    answers over each provider (``mmo.app.provider_batch``)."""

    rows: Collection[int]
    wrap: Callable[[Provider, Services], Provider]
    run_id: str  # the run the jobs belong to: a changed input or profile would make another
