"""The rows of a batch through one engine, ``concurrency`` at a time, until done or stopped.

``concurrency`` workers share one lazy iterator over the input, so at most that many rows are in
flight and the input is read only as fast as rows are run. Each row runs through ``Engine.run``
(the strategy tree, cache, guards, trace) and its outcome goes to the ``StateWriter``, which commits
every row that finished during one turn of the event loop in one transaction; only then does the
row count as finished, and its run-log records (``RowLogger``) are written, in the same groups.

Stopping, always cleanly, with the state resumable:

* the cost cap (``CostCapReached``), an exhausted daily budget, an account problem no row can
  get past (every attempt of a row failed for a missing or refused key or an exhausted quota),
  or a shared-state server that failed (``StateServerFailed``: the shared limits and budgets
  cannot be kept): no new row starts, rows in flight finish, the row that hit it stays pending;
* ``interrupt()`` (Ctrl-C): no new row starts; rows in flight get ``grace_s`` to finish, then are
  cancelled (pending again); a second ``interrupt()`` cancels them at once.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from contextlib import contextmanager
from functools import partial
from typing import Callable, Iterator, Protocol, Sequence

from mmo.app.batch.input import InputRow, Malformed
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, RowOutcome, error_leaves, outcome_of
from mmo.app.batch.progress import ACCOUNT, BUDGET, COST_CAP, INTERNAL, INTERRUPTED, STATE_SERVER, BatchProgress, BatchStop
from mmo.app.batch.row_log import RowLogger
from mmo.app.batch.run_record import InvocationTally
from mmo.app.batch.state import BatchState
from mmo.app.batch.writer import StateWriter
from mmo.app.engine import Engine
from mmo.app.outcome import RunOutcome
from mmo.core.errors import AuthFailed, BudgetExceeded, CostCapReached, MissingKey, ProviderError, QuotaExhausted, StateServerFailed, one_line

_ACCOUNT_ERRORS = (MissingKey, AuthFailed, QuotaExhausted)
Committed = Callable[[Sequence[RowOutcome], Sequence[Malformed]], None]


class RowSource(Protocol):
    """Where a runner's rows come from when not from one local iterator (a shared run's claims)."""

    async def take(self) -> InputRow | Malformed | None:
        """The next row to run, or None when there is none left for this worker."""
        ...


class RowWriter(Protocol):
    """Where finished rows are committed before they count (``StateWriter``, or a shared run's)."""

    error: BaseException | None

    def add(self, outcome: RowOutcome) -> None: ...

    def add_malformed(self, item: Malformed) -> None: ...

    async def drain(self) -> None:
        """Commit every row added so far."""
        ...


class _Items:
    def __init__(self, items: Iterator[InputRow | Malformed]) -> None:
        self.items = items

    async def take(self) -> InputRow | Malformed | None:
        return next(self.items, None)
GC_OBJECTS_PER_ROW = 100  # container objects a row in flight holds, rounded up (young_generation_above)


@contextmanager
def young_generation_above(objects: int) -> Iterator[None]:
    """Python's cyclic GC collects its youngest generation whenever the container objects
    allocated (minus those freed) since the last pass exceed 700. Rows in flight hold about
    ``GC_OBJECTS_PER_ROW`` such objects each until they finish (requests, frames, futures, spans),
    so at ``-c 256`` a pass came about every 9 rows, and each promoted rows still in flight to the
    older generations, whose passes walk the whole heap: about 0.06 CPU-ms a row, 10 % of a batch.
    With the threshold above what rows in flight hold, a pass comes only when garbage has built
    up. Freed memory is unchanged (reference counting frees all that is not in a cycle; cycles
    wait for a pass, as before); the thresholds are put back afterwards."""
    before = gc.get_threshold()
    if objects <= before[0]:
        yield
        return
    gc.set_threshold(objects, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


class RowRunner:
    def __init__(
        self,
        engine: Engine,
        state: BatchState | None,
        *,
        concurrency: int,
        total: int,
        finished_before: int,
        grace_s: float = 10.0,
        on_progress: Callable[[BatchProgress], None] | None = None,
        progress_interval_s: float = 0.5,
        on_rows: Callable[[Sequence[RowOutcome]], None] | None = None,
        row_log: RowLogger | None = None,
        writer: Callable[[Committed], RowWriter] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.engine, self.state = engine, state
        self.concurrency, self.total, self.finished_before = concurrency, total, finished_before
        self.grace_s = grace_s
        self.on_progress, self.progress_interval_s = on_progress, progress_interval_s
        self.on_rows = on_rows  # told of rows once committed (streamed --unordered output)
        self.row_log = row_log  # each row's run-log records, written as rows are committed
        self.tally = InvocationTally()
        self.stop: BatchStop | None = None
        self._counts: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._cost = 0.0
        self._unknown_cost_rows = 0
        self._cache_hits = 0
        self._in_flight = 0
        self._interrupts = 0
        self._started = time.monotonic()
        self._items: RowSource = _Items(iter(()))
        self._workers: list[asyncio.Task[None]] = []
        self._grace: asyncio.TimerHandle | None = None
        self._fatal: BaseException | None = None
        if writer is None:
            assert state is not None, "rows are committed to a state or through a writer"
            writer = partial(StateWriter, state)
        self._writer: RowWriter = writer(self._committed)
        self._spend = engine.spend_guard()  # says when --max-cost holds rows back

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

    def stop_early(self, stop: BatchStop) -> None:
        """No new row starts; rows in flight finish (their answers are paid for)."""
        self._stop_with(stop)

    def _stop_with(self, stop: BatchStop) -> None:
        if self.stop is None:
            self.stop = stop

    def _cancel_workers(self) -> None:
        for worker in self._workers:
            worker.cancel()

    # --- running -----------------------------------------------------------------------------

    async def run(self, items: Iterator[InputRow | Malformed] | RowSource) -> BatchStop | None:
        """Run every item (or until stopped); returns why it stopped early, if it did."""
        self._started = time.monotonic()
        self._items = _Items(items) if isinstance(items, Iterator) else items
        ticker = asyncio.create_task(self._tick()) if self.on_progress is not None else None
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]
        if self._interrupts:  # Ctrl-C arrived before the workers existed
            self._interrupts -= 1
            self.interrupt()
        try:
            with young_generation_above(GC_OBJECTS_PER_ROW * self.concurrency):
                await asyncio.wait(self._workers)
        finally:
            if self._grace is not None:
                self._grace.cancel()
            if ticker is not None:
                ticker.cancel()
            await self._writer.drain()
            if self.row_log is not None:
                self.row_log.write()  # rows that stopped the run or were cancelled in flight
        if self._fatal is not None:
            raise self._fatal
        if self.on_progress is not None:
            self.on_progress(self.progress())
        return self.stop

    async def _work(self) -> None:
        try:
            while self.stop is None:
                item = await self._items.take()
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
        except Exception as error:
            self._fatal = self._fatal or error
            self._stop_with(BatchStop(INTERNAL, f"internal error: {type(error).__name__}: {error}", error))

    async def _run_row(self, row: InputRow) -> None:
        self._in_flight += 1
        try:
            # Every failure of a row is reported in its outcome, not raised (a bug included).
            on_interrupt = None if self.row_log is None else partial(self._interrupted, row)
            outcome = await self.engine.run(row.request, capture=(Exception,), model=row.model, on_interrupt=on_interrupt)
        finally:
            self._in_flight -= 1
        logged = None if self.row_log is None else self.row_log.records(row, outcome)
        if outcome.error is not None:
            stop = self._run_stopping(outcome.error)
            if stop is not None:
                self._stop_with(stop)  # the row stays pending: a resume runs it
                if logged is not None and logged[1]:
                    self.row_log.add(logged)  # type: ignore[union-attr]  # what it tried (and spent) is logged
                return
        self._writer.add(outcome_of(row, outcome, logged))

    def _interrupted(self, row: InputRow, outcome: RunOutcome) -> None:
        """A row cancelled in flight stays pending; what it spent until then is logged."""
        assert self.row_log is not None
        self.row_log.add(self.row_log.records(row, outcome))

    @staticmethod
    def _run_stopping(error: BaseException) -> BatchStop | None:
        leaves = list(error_leaves(error))
        cap = next((e for e in leaves if isinstance(e, CostCapReached)), None)
        if cap is not None:
            return BatchStop(COST_CAP, cap.message, cap)
        # Only an exhausted daily cap stops the run; a per-request cap fails that row alone.
        daily = next((e for e in leaves if isinstance(e, BudgetExceeded) and e.scope == "day" and not e.failover), None)
        if daily is not None:
            return BatchStop(BUDGET, daily.message, daily)
        server = next((e for e in leaves if isinstance(e, StateServerFailed)), None)
        if server is not None:  # the shared limits or budget cannot be kept: no row may go on alone
            return BatchStop(STATE_SERVER, server.message, server)
        if leaves and all(isinstance(e, _ACCOUNT_ERRORS) for e in leaves):
            first = leaves[0]
            # A missing key says what to do in its own words; a provider's refusal names the provider.
            return BatchStop(ACCOUNT, one_line(first) if isinstance(first, ProviderError) else str(first), first)
        return None

    def _committed(self, rows: Sequence[RowOutcome], malformed: Sequence[Malformed]) -> None:
        for outcome in rows:
            self._counts[outcome.status] += 1
            if outcome.error_class is not None:
                self._errors[outcome.error_class] += 1
            if outcome.cost_usd is not None:
                self._cost += outcome.cost_usd
            else:
                self._unknown_cost_rows += 1
            self._cache_hits += outcome.cache_hit
            self.tally.add(outcome)
        if self.row_log is not None:
            self.row_log.write([outcome.log for outcome in rows if outcome.log is not None])
        self._counts["malformed"] += len(malformed)
        if self.on_rows is not None and rows:
            self.on_rows(rows)

    # --- progress ----------------------------------------------------------------------------

    def finished_in_run(self, finished: int) -> None:
        """A shared run: ``finished`` rows are finished by every worker (this one included), as
        last heard from the server; progress counts the others' as finished before."""
        self.finished_before = max(finished - sum(self._counts.values()), 0)

    def progress(self) -> BatchProgress:
        return BatchProgress(
            total=self.total,
            finished_before=self.finished_before,
            done=self._counts[DONE],
            failed=self._counts[FAILED],
            infra_errors=self._counts[INFRA_ERROR],
            malformed=self._counts["malformed"],
            cost_usd=self._cost,
            unknown_cost_rows=self._unknown_cost_rows,
            cache_hits=self._cache_hits,
            in_flight=self._in_flight,
            elapsed_s=time.monotonic() - self._started,
            stopping=self.stop.reason if self.stop else None,
            errors_by_class=dict(self._errors),
            cap_waiting=self._spend.waiting if self._spend is not None and self._spend.run_cap is not None else 0,
            cap_waits=self._spend.waits if self._spend is not None and self._spend.run_cap is not None else 0,
        )

    async def _tick(self) -> None:
        assert self.on_progress is not None
        while True:
            self.on_progress(self.progress())
            await asyncio.sleep(self.progress_interval_s)

