"""Batch rows in the run log, each one logged as an ``ask`` is: the run, every model attempt
(failed, retried and cancelled ones too) with its tokens and cost, the decision trace, and the
prompt and answer unless ``--no-log``; each record names its batch run and input line.

Rows are written in groups, as the batch state commits them (one transaction of two
``executemany`` per turn of the event loop), so logging keeps up with the batch. Rows whose
spend never reaches the state are logged too: a row that stopped the run (the cost cap was
reached after it had paid for an attempt) and a row cancelled in flight (status
``interrupted``, its attempts in flight counted at their cancel-cost estimate). Failing to write
the log is a warning, never a lost row: the batch state and output hold every answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from mmo.app.batch.input import InputRow
from mmo.app.outcome import RunOutcome
from mmo.app.run_log_rows import outcome_records

if TYPE_CHECKING:
    from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord

LoggedRun = tuple["RunRecord", "list[AttemptRecord]"]


class RowLogger:
    """Builds each row's records as it finishes and writes them in groups."""

    def __init__(self, runlog: RunLog, *, batch_run_id: str, log_text: bool, warn: Callable[[str], None]) -> None:
        self.runlog, self.batch_run_id, self.log_text, self.warn = runlog, batch_run_id, log_text, warn
        self.written = 0
        self.failed = 0
        self._pending: list[LoggedRun] = []

    def records(self, row: InputRow, outcome: RunOutcome) -> LoggedRun:
        return outcome_records(
            outcome, row.request, command="batch", log_text=self.log_text, batch_run_id=self.batch_run_id, batch_line=row.index
        )

    def add(self, logged: LoggedRun) -> None:
        """A row whose records go out with the next group (it is not committed to the state)."""
        self._pending.append(logged)

    def write(self, group: Sequence[LoggedRun] = ()) -> None:
        """Write ``group`` and any rows added since the last write, in one transaction."""
        runs = [*self._pending, *group] if self._pending else list(group)
        self._pending = []
        if not runs:
            return
        try:
            self.runlog.record_many(runs)
        except Exception as error:  # a locked or full disk: the rows are safe in the batch state
            if not self.failed:
                self.warn(f"could not write batch rows to the run log {self.runlog.path} ({type(error).__name__}: {error}); "
                          "their answers are in the batch output, but `mmo logs` and daily budgets miss their spend")
            self.failed += len(runs)
            return
        self.written += len(runs)
