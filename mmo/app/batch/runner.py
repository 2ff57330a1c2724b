"""The rows of a batch through one session, ``concurrency`` at a time, until done or stopped.

``concurrency`` workers share one lazy iterator over the input, so at most that many rows are in
flight and the input is read only as fast as rows are run. Each row runs through ``execute`` (the
strategy tree, cache, guards, trace) and its outcome goes to the ``StateWriter``, which commits
every row that finished during one turn of the event loop in one transaction; only then does the
row count as finished.

Stopping, always cleanly, with the state resumable:

* the cost cap (``CostCapReached``), an exhausted daily budget, or an account problem no row can
  get past (every attempt of a row failed for a missing or refused key or an exhausted quota):
  no new row starts, rows in flight finish, the row that hit it stays pending;
* ``interrupt()`` (Ctrl-C): no new row starts; rows in flight get ``grace_s`` to finish, then are
  cancelled (pending again); a second ``interrupt()`` cancels them at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from mmo.core.errors import AuthFailed, BudgetExceeded, MissingKey, QuotaExhausted
from mmo.core.trace import Span
from mmo.runtime.context import RunOptions, execute

from mmo.app.batch.cost_cap import CostCapReached
from mmo.app.batch.input import InputRow, Malformed
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, RowOutcome, error_leaves, outcome_of
from mmo.app.batch.run_record import InvocationTally
from mmo.app.batch.state import BatchState

if TYPE_CHECKING:
    from mmo.app.session import Session

INTERRUPTED, COST_CAP, BUDGET, ACCOUNT, INTERNAL = "interrupted", "cost_cap", "budget", "account", "internal_error"
_ACCOUNT_ERRORS = (MissingKey, AuthFailed, QuotaExhausted)
MAX_GROUP = 512  # rows per transaction at most, however many finish in one turn of the loop


@dataclass(frozen=True, slots=True)
class BatchStop:
    """Why a run stopped before its last row. ``error`` is what stopped it (None for Ctrl-C)."""

    reason: str  # interrupted | cost_cap | budget | account | internal_error
    message: str
    error: BaseException | None = None


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """A snapshot for progress displays. Counts are of this invocation, except
    ``finished_before`` (rows finished by earlier invocations and not run again)."""

    total: int
    finished_before: int
    done: int = 0
    failed: int = 0
    infra_errors: int = 0
    malformed: int = 0
    cost_usd: float = 0.0
    cache_hits: int = 0
    in_flight: int = 0
    elapsed_s: float = 0.0
    stopping: str | None = None
    errors_by_class: dict[str, int] = field(default_factory=dict)

    @property
    def finished_now(self) -> int:
        return self.done + self.failed + self.infra_errors + self.malformed

    @property
    def completed(self) -> int:
        return self.finished_before + self.finished_now

    @property
    def errors(self) -> int:
        return self.failed + self.infra_errors + self.malformed

    @property
    def rate(self) -> float:
        """Rows per second in this invocation."""
        return self.finished_now / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        remaining = max(self.total - self.completed, 0)
        return remaining / self.rate if self.rate > 0 else None


class StateWriter:
    """Commits finished rows in groups: the first row to finish in a turn of the event loop
    schedules a flush for the next turn, and every row finished meanwhile joins it."""

    def __init__(self, state: BatchState, on_committed: Callable[[Sequence[RowOutcome], Sequence[Malformed]], None]) -> None:
        self.state = state
        self.on_committed = on_committed
        self.error: BaseException | None = None
        self._rows: list[RowOutcome] = []
        self._malformed: list[Malformed] = []
        self._scheduled = False

    def add(self, outcome: RowOutcome) -> None:
        self._rows.append(outcome)
        if len(self._rows) >= MAX_GROUP:
            self.flush()
        else:
            self._schedule()

    def add_malformed(self, item: Malformed) -> None:
        self._malformed.append(item)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_scheduled)

    def _flush_scheduled(self) -> None:
        try:
            self.flush()
        except Exception as error:  # noqa: BLE001 - handed to the runner, which stops the run
            self.error = error

    def flush(self) -> None:
        self._scheduled = False
        rows, malformed = self._rows, self._malformed
        if not rows and not malformed:
            return
        self._rows, self._malformed = [], []
        self.state.record(rows, malformed)
        self.on_committed(rows, malformed)


class RowRunner:
    def __init__(
        self,
        session: Session,
        state: BatchState,
        *,
        options: RunOptions,
        concurrency: int,
        total: int,
        finished_before: int,
        grace_s: float = 10.0,
        daily_cap_usd: float | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        progress_interval_s: float = 0.5,
        on_rows: Callable[[Sequence[RowOutcome]], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.session, self.state, self.options = session, state, options
        self.concurrency, self.total, self.finished_before = concurrency, total, finished_before
        self.grace_s, self.daily_cap_usd = grace_s, daily_cap_usd
        self.on_progress, self.progress_interval_s = on_progress, progress_interval_s
        self.on_rows = on_rows  # told of rows once committed (streamed --unordered output)
        self.tally = InvocationTally()
        self.stop: BatchStop | None = None
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._cost = 0.0
        self._cache_hits = 0
        self._in_flight = 0
        self._interrupts = 0
        self._started = time.monotonic()
        self._items: Iterator[InputRow | Malformed] = iter(())
        self._workers: list[asyncio.Task[None]] = []
        self._grace: asyncio.TimerHandle | None = None
        self._fatal: BaseException | None = None
        self._writer = StateWriter(state, self._committed)

    # --- control -----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Ctrl-C: the first stops scheduling and gives rows in flight ``grace_s``; the second
        cancels them at once."""
        self._interrupts += 1
        self._stop_with(BatchStop(INTERRUPTED, "interrupted"))
        if self._interrupts > 1 or self.grace_s <= 0:
            self._cancel_workers()
        elif self._grace is None and self._workers:
            self._grace = asyncio.get_running_loop().call_later(self.grace_s, self._cancel_workers)

    def _stop_with(self, stop: BatchStop) -> None:
        if self.stop is None:
            self.stop = stop

    def _cancel_workers(self) -> None:
        for worker in self._workers:
            worker.cancel()

    # --- running -----------------------------------------------------------------------------

    async def run(self, items: Iterator[InputRow | Malformed]) -> BatchStop | None:
        """Run every item (or until stopped); returns why it stopped early, if it did."""
        self._started = time.monotonic()
        self._items = items
        ticker = asyncio.create_task(self._tick()) if self.on_progress is not None else None
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        if self._interrupts:  # Ctrl-C arrived before the workers existed
            self._interrupts -= 1
            self.interrupt()
        try:
            await asyncio.wait(self._workers)
        finally:
            if self._grace is not None:
                self._grace.cancel()
            if ticker is not None:
                ticker.cancel()
            self._writer.flush()
        if self._fatal is not None:
            raise self._fatal
        if self.on_progress is not None:
            self.on_progress(self.progress())
        return self.stop

    async def _work(self) -> None:
        try:
            while self.stop is None:
                item = next(self._items, None)
                if item is None:
                    return
                if isinstance(item, Malformed):
                    self._writer.add_malformed(item)
                else:
                    await self._run_row(item)
                # A row answered without waiting (a cache hit, a replay) never gave the loop a
                # turn: give it one, so the commit, progress and Ctrl-C keep up with the rows.
                await asyncio.sleep(0)
                if self._writer.error is not None:
                    raise self._writer.error
        except asyncio.CancelledError:
            pass
        except Exception as error:  # noqa: BLE001 - a bug or a broken state file: stop every worker
            self._fatal = self._fatal or error
            self._stop_with(BatchStop(INTERNAL, f"internal error: {type(error).__name__}: {error}", error))

    async def _run_row(self, row: InputRow) -> None:
        spans: list[Span] = []
        self._in_flight += 1
        try:
            completion = await execute(self.session.root, row.request, self.session.services, self.options, None, spans.append)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - every failure of a row is reported, not raised
            self._row_failed(row, error, spans[-1] if spans else None)
        else:
            self._writer.add(outcome_of(row, completion, None, completion.trace))
        finally:
            self._in_flight -= 1

    def _row_failed(self, row: InputRow, error: Exception, trace: Span | None) -> None:
        stop = self._run_stopping(error)
        if stop is not None:
            self._stop_with(stop)  # the row stays pending: a resume runs it
            return
        self._writer.add(outcome_of(row, None, error, trace))

    def _run_stopping(self, error: Exception) -> BatchStop | None:
        leaves = list(error_leaves(error))
        cap = next((e for e in leaves if isinstance(e, CostCapReached)), None)
        if cap is not None:
            return BatchStop(COST_CAP, cap.message, cap)
        daily = next((e for e in leaves if isinstance(e, BudgetExceeded) and self._is_daily_cap(e)), None)
        if daily is not None:
            return BatchStop(BUDGET, daily.message, daily)
        if leaves and all(isinstance(e, _ACCOUNT_ERRORS) for e in leaves):
            first = leaves[0]
            one_line = getattr(first, "one_line", None)
            return BatchStop(ACCOUNT, one_line() if callable(one_line) else str(first), first)
        return None

    def _is_daily_cap(self, error: BudgetExceeded) -> bool:
        # Only an exhausted daily cap stops the run; a per-request cap fails that row alone.
        return self.daily_cap_usd is not None and error.limit_usd == self.daily_cap_usd and not error.failover

    def _committed(self, rows: Sequence[RowOutcome], malformed: Sequence[Malformed]) -> None:
        for outcome in rows:
            self._counts[outcome.status] += 1
            if outcome.error_class is not None:
                self._errors[outcome.error_class] += 1
            if outcome.cost_usd is not None:
                self._cost += outcome.cost_usd
            self._cache_hits += outcome.cache_hit
            self.tally.add(outcome)
        self._counts["malformed"] += len(malformed)
        if self.on_rows is not None and rows:
            self.on_rows(rows)

    # --- progress ----------------------------------------------------------------------------

    def progress(self) -> BatchProgress:
        return BatchProgress(
            total=self.total,
            finished_before=self.finished_before,
            done=self._counts[DONE],
            failed=self._counts[FAILED],
            infra_errors=self._counts[INFRA_ERROR],
            malformed=self._counts["malformed"],
            cost_usd=self._cost,
            cache_hits=self._cache_hits,
            in_flight=self._in_flight,
            elapsed_s=time.monotonic() - self._started,
            stopping=self.stop.reason if self.stop else None,
            errors_by_class=dict(self._errors),
        )

    async def _tick(self) -> None:
        assert self.on_progress is not None
        while True:
            self.on_progress(self.progress())
            await asyncio.sleep(self.progress_interval_s)

