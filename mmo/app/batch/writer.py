"""``StateWriter``: finished rows committed to the batch state in groups, one transaction per turn
of the event loop, before a row counts as finished."""

from __future__ import annotations

import asyncio
from typing import Callable, Sequence

from mmo.app.batch.input import Malformed
from mmo.app.batch.outcome import RowOutcome
from mmo.app.batch.state import BatchState

MAX_GROUP = 512  # rows per transaction at most, however many finish in one turn of the loop


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
        except Exception as error:
            self.error = error

    async def drain(self) -> None:
        self.flush()

    def flush(self) -> None:
        self._scheduled = False
        rows, malformed = self._rows, self._malformed
        if not rows and not malformed:
            return
        self._rows, self._malformed = [], []
        self.state.record(rows, malformed)
        self.on_committed(rows, malformed)
