"""``mmo batch`` progress: a rich bar on a terminal, plain lines in a log. Costs with unknown
parts say so (never ``$0``); while ``--max-cost`` holds calls back (calls in flight reserve their
worst case under the cap), the line says so."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmo.app.batch.control import BatchObserver
from mmo.cli.formats import duration, partial_dollars, plural

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from mmo.app.batch.progress import BatchProgress

PLAIN_PROGRESS_EVERY_S = 10.0


class ProgressObserver(BatchObserver):
    """A rich progress bar on a terminal; a plain line every ``PLAIN_PROGRESS_EVERY_S`` otherwise
    (and at the end), so logs of unattended runs stay readable."""

    def __init__(self, console: Console, label: str = "batch") -> None:
        self.console = console
        self.label = label  # what the bar and the lines are of (a bench names its target)
        self.live = console.is_terminal
        self.progress_interval_s = 0.2 if self.live else 0.5
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_plain = 0.0
        self._last: BatchProgress | None = None

    def notice(self, message: str) -> None:
        from mmo.cli.terminal import warning_text

        self.console.print(warning_text(message, label="note"), highlight=False)

    def progress(self, snapshot: BatchProgress) -> None:
        self._last = snapshot
        if self.live:
            self._update_bar(snapshot)
        elif snapshot.elapsed_s - self._last_plain >= PLAIN_PROGRESS_EVERY_S:
            self._last_plain = snapshot.elapsed_s
            self.console.print(progress_line(snapshot, self.label), highlight=False, markup=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._last is not None:
            self.console.print(progress_line(self._last, self.label), highlight=False, markup=False)

    def _update_bar(self, snapshot: BatchProgress) -> None:
        if self._bar is None:
            from rich.markup import escape
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn(f"[bold]{escape(self.label)}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(
                    "{task.fields[fields][rate]}  ETA {task.fields[fields][eta]}  {task.fields[fields][cost]}  errors {task.fields[fields][errors]}  "
                    "cache hits {task.fields[fields][cache]}{task.fields[fields][cap]}"
                ),
                console=self.console,
                auto_refresh=False,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("batch", total=snapshot.total, fields=_fields(snapshot))
        assert self._task is not None
        self._bar.update(self._task, completed=snapshot.completed, fields=_fields(snapshot))
        self._bar.refresh()


def _fields(snapshot: BatchProgress) -> dict[str, str]:
    return {
        "rate": f"{snapshot.rate:.1f} rows/s",
        "eta": duration(snapshot.eta_s),
        "cost": partial_dollars(snapshot.cost_usd, snapshot.unknown_cost_rows, "row"),
        "errors": str(snapshot.errors),
        "cache": str(snapshot.cache_hits),
        "cap": f"  {cap_throttle(snapshot)}" if snapshot.cap_waiting else "",
    }


def cap_throttle(snapshot: BatchProgress) -> str:
    """Said while --max-cost holds calls back: rows wait for room the calls in flight reserve at
    their worst case, so the cap, not the provider, sets the pace."""
    return f"--max-cost throttling: {plural(snapshot.cap_waiting, 'call')} waiting for the worst-case reservations in flight"


def progress_line(snapshot: BatchProgress, label: str = "batch") -> str:
    share = snapshot.completed / snapshot.total * 100 if snapshot.total else 100.0
    line = (
        f"{label}: {snapshot.completed}/{snapshot.total} rows ({share:.0f}%) · {snapshot.rate:.1f} rows/s · "
        f"ETA {duration(snapshot.eta_s)} · {partial_dollars(snapshot.cost_usd, snapshot.unknown_cost_rows, 'row')} · {plural(snapshot.errors, 'error')} · "
        f"{plural(snapshot.cache_hits, 'cache hit')}"
    )
    return f"{line} · {cap_throttle(snapshot)}" if snapshot.cap_waiting else line
