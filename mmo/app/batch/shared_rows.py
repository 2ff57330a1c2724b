"""This worker's share of a shared run (``mmo batch --shared``): the rows it claims from the
server, read from its own copy of the input, and the records of the rows it finishes.

``SharedRows`` is both the runner's row source and its writer:

* ``take``: rows come from a local queue, refilled by one claim of ``claim_size`` rows at a time
  (one round trip for many rows). When nothing is left to claim but rows are still held (by other
  workers, or in flight here), one of the runner's tasks polls every ``POLL_S`` (or until the
  earliest lease runs out) while the others wait behind it: a worker stays until the run is
  finished, so a crashed worker's rows are taken over by the live ones.
* ``add`` / ``add_malformed``: finished rows are committed to the server in groups, one commit
  in flight at a time (rows that finish meanwhile join the next); a row counts as finished once
  its commit returns.
* while it holds rows, their leases are renewed every third of the lease, so a long call keeps
  its row; at the end, rows claimed but not finished (not started, cancelled, stopped by the
  cost cap) are given back at once rather than when their leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import replace
from typing import Any, Callable, Iterator, Sequence

from mmo.app.batch.input import InputRow, Malformed, RowParser
from mmo.app.batch.outcome import RowOutcome
from mmo.app.batch.runner import Committed
from mmo.app.batch.slots import SlotIndex
from mmo.app.batch.summary import BatchSummary, summarize_rows
from mmo.runtime.shared_run import SharedRun

POLL_S = 0.5  # while other workers hold the last rows: how often to look for finished or freed ones
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SharedRows:
    def __init__(
        self,
        run: SharedRun,
        slots: SlotIndex,
        parser: RowParser,
        *,
        claim_size: int,
        stopping: Callable[[], bool] = lambda: False,
        on_finished: Callable[[int], None] = lambda finished: None,
    ) -> None:
        self.run, self.slots, self.parser = run, slots, parser
        self.claim_size = claim_size
        self.stopping, self.on_finished = stopping, on_finished
        self.on_committed: Committed = lambda rows, malformed: None
        self.error: BaseException | None = None
        self.finished = 0  # rows finished in the whole run, as last heard
        self.duplicates = 0  # rows this worker finished after another had
        self._queue: deque[int] = deque()
        self._held: dict[int, int] = {}  # line number -> slot: claimed, not yet committed
        self._claiming = asyncio.Lock()
        self._complete = False
        self._pending: list[tuple[int, str, RowOutcome | Malformed]] = []
        self._committing: asyncio.Task[None] | None = None
        self._renewing: asyncio.Task[None] | None = None

    def writer(self, on_committed: Committed) -> SharedRows:
        """For ``RowRunner(writer=...)``: this object, told whom to tell of committed rows."""
        self.on_committed = on_committed
        return self

    # --- the rows to run -----------------------------------------------------------------------

    async def take(self) -> InputRow | Malformed | None:
        while not self._queue:
            async with self._claiming:
                if self._queue:
                    break
                if self._complete or self.stopping() or not await self._claim():
                    return None
        slot = self._queue.popleft()
        number, raw = self.slots.read(slot)
        return self.parser.parse(number, raw)

    async def _claim(self) -> bool:
        """Claim rows into the queue, waiting while others hold the last ones; False when the
        run is finished (or this worker is stopping)."""
        while True:
            claimed = await self.run.claim(self.claim_size)
            self._heard(claimed.finished)
            if claimed.slots:
                for slot in claimed.slots:
                    self._held[self.slots.line_of(slot)] = slot
                self._queue.extend(claimed.slots)
                self._start_renewing()
                return True
            if claimed.finished >= self.run.total or claimed.next_expiry_s is None and not self._held:
                self._complete = claimed.finished >= self.run.total
                return False
            await asyncio.sleep(min(POLL_S, claimed.next_expiry_s + 0.01 if claimed.next_expiry_s is not None else POLL_S))
            if self.stopping():
                return False

    def _heard(self, finished: int) -> None:
        self.finished = max(self.finished, finished)
        self.on_finished(self.finished)

    # --- leases ----------------------------------------------------------------------------------

    def _start_renewing(self) -> None:
        if self._renewing is None:
            self._renewing = asyncio.get_running_loop().create_task(self._renew())

    async def _renew(self) -> None:
        every = self.run.lease_ms / 3000
        while True:
            await asyncio.sleep(every)
            if self._held:
                try:
                    await self.run.renew(list(self._held.values()))
                except Exception as error:  # the server went away: the run cannot go on safely
                    self.error = self.error or error
                    return

    # --- committing (the runner's writer) --------------------------------------------------------

    def add(self, outcome: RowOutcome) -> None:
        self._pending.append((self._held[outcome.index], row_record(outcome), outcome))
        self._kick()

    def add_malformed(self, item: Malformed) -> None:
        self._pending.append((self._held[item.line], _COMPACT({"malformed": item.to_dict()}), item))
        self._kick()

    def _kick(self) -> None:
        if self._committing is None:
            self._committing = asyncio.get_running_loop().create_task(self._commit_all())

    async def _commit_all(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # rows finishing in this turn of the loop join the commit
                group, self._pending = self._pending, []
                await self._commit(group)
        except Exception as error:
            self.error = self.error or error
        finally:
            self._committing = None

    async def _commit(self, group: Sequence[tuple[int, str, RowOutcome | Malformed]]) -> None:
        rows = [item for _, _, item in group if isinstance(item, RowOutcome)]
        malformed = [item for _, _, item in group if isinstance(item, Malformed)]
        spent = sum(row.cost_usd or 0.0 for row in rows)
        _, duplicates, finished = await self.run.commit([(slot, record) for slot, record, _ in group], spent)
        for row in rows:
            self._held.pop(row.index, None)
        for item in malformed:
            self._held.pop(item.line, None)
        self.duplicates += duplicates
        self._heard(finished)
        self.on_committed(rows, malformed)

    async def drain(self) -> None:
        while self._committing is not None:
            await asyncio.shield(self._committing)

    async def close(self) -> None:
        """Commit what is left, stop renewing, and give back the rows held but not finished."""
        with contextlib.suppress(Exception):
            await self.drain()
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
        unfinished = list(self._held.values())
        self._held.clear()
        self._queue.clear()
        with contextlib.suppress(Exception):  # unreachable: the leases run out instead
            await self.run.release(unfinished)
        self.slots.close()


def row_record(outcome: RowOutcome) -> str:
    """A finished row as the server keeps it: what the summary reads, and its output line."""
    return _COMPACT({
        "status": outcome.status, "error_class": outcome.error_class, "model_id": outcome.model_id,
        "cost_usd": outcome.cost_usd, "cost_known": outcome.cost_usd is not None,
        "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens, "latency_ms": outcome.latency_ms,
        "cache_hit": outcome.cache_hit, "attempts": _COMPACT([a.to_list() for a in outcome.attempts]), "result": outcome.line,
    })


class SharedRecords:
    """The run's finished rows read back from the server, in input order. Each read is one pass
    over them (the server is paged through, never held whole): the output lines, with the
    malformed lines gathered on the way for the errors report; or the summary."""

    def __init__(self, run: SharedRun) -> None:
        self.run = run
        self.malformed: list[Malformed] = []  # gathered by the last pass

    def _decoded(self) -> Iterator[dict[str, Any]]:
        for _, record, prior_usd in self.run.records():
            decoded = json.loads(record)
            decoded["prior_cost_usd"] = prior_usd
            yield decoded

    def _rows(self) -> Iterator[dict[str, Any]]:
        """The answered rows' records; the malformed lines go to ``malformed``."""
        self.malformed = []
        for record in self._decoded():
            if "malformed" in record:
                self.malformed.append(Malformed(**record["malformed"]))
            else:
                yield record

    def slots_with(self, status: str) -> list[int]:
        return [slot for slot, record, _ in self.run.records() if json.loads(record).get("status") == status]

    def output_lines(self) -> Iterator[str]:
        return (record["result"] for record in self._rows())

    def summary(self) -> BatchSummary:
        summary = summarize_rows(self._rows(), total_rows=self.run.total, malformed=0)
        return replace(summary, malformed=len(self.malformed))
