"""``mmo batch`` at work: runs the use case, wires Ctrl-C to it, and renders progress, the summary
and the dry run's estimate. Progress, notices and the summary go to standard error; standard
output carries the answers only when the output goes there (input from standard input without
``-o``).

Ctrl-C stops scheduling rows and lets those in flight finish (for ``BatchJob.grace_s``), then
writes the output, the summary and the run log record, and exits 130; a second Ctrl-C cancels the
rows in flight at once (they stay pending); a third is Python's own KeyboardInterrupt. Before the
rows start, Ctrl-C stops at once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

    from mmo.app.batch.job import BatchJob, BatchReport
    from mmo.app.batch.runner import BatchProgress

PLAIN_PROGRESS_EVERY_S = 10.0
LOG_WIDTH = 140
EXIT_ROW_ERRORS = 1


def job_from_flags(flags: dict[str, Any]) -> BatchJob:
    from mmo.app.batch.job import BatchJob
    from mmo.app.params import parse_param_pairs
    from mmo.app.session import ProfileChoice

    return BatchJob(
        input=flags["input"],
        output=flags["output"],
        choice=ProfileChoice(flags["profile"], flags["model"]),
        params=parse_param_pairs(flags["param"]),
        concurrency=flags["concurrency"],
        max_cost_usd=flags["max_cost"],
        allow_unknown_prices=flags["allow_unknown_prices"],
        strict=flags["strict"],
        unordered=flags["unordered"],
        run_id=flags["run_id"],
        retry_errors=flags["retry_errors"],
        read_cache=not (flags["no_cache"] or flags["refresh"]),
        write_cache=not flags["no_cache"],
        fail_fast=flags["fail_fast"],
        simulate_outage=tuple(flags["simulate_outage"]),
    )


def run_batch_command(flags: dict[str, Any]) -> None:
    """The command's work, once its options are parsed (by name, as ``batch`` received them;
    ``debug`` is handled there)."""
    import asyncio
    import os

    from rich.console import Console

    from mmo.app.session import AppEnv

    err = Console(stderr=True)
    if not err.is_terminal and "COLUMNS" not in os.environ:
        err.width = LOG_WIDTH  # a log file or a CI console: wide enough for the summary table
    job = job_from_flags(flags)
    env = AppEnv.from_process()
    stdin = sys.stdin.buffer if job.input == "-" and sys.stdin is not None else None
    if flags["dry_run"]:
        from mmo.app.batch.job import dry_run

        estimate = asyncio.run(dry_run(job, env, stdin=stdin))
        err.print(estimate_table(estimate))
        return
    report = asyncio.run(_run_with_ctrl_c(job, env, stdin, err))
    render_report(report, err)
    raise typer.Exit(exit_code_of(report))


async def _run_with_ctrl_c(job: BatchJob, env: Any, stdin: Any, err: Console) -> BatchReport:
    """Run the batch with Ctrl-C wired to it. Until the rows start, Ctrl-C stops at once, as
    anywhere else (nothing is running, so nothing is lost; and a read of standard input waiting
    for a terminal can only be stopped so); once they run, it goes through ``BatchControl``."""
    import asyncio
    import signal

    from mmo.app.batch.job import BatchControl, run_batch

    control = BatchControl()
    observer = ProgressObserver(err)
    loop = asyncio.get_running_loop()
    presses = 0

    def interrupt(press: int) -> None:
        if press == 1:
            observer.notice("Ctrl-C: no new rows start; rows in flight may finish (Ctrl-C again cancels them)")
        else:
            observer.notice("Ctrl-C again: cancelling the rows in flight (they stay pending)")
        control.interrupt()

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal presses
        if not control.attached:
            raise KeyboardInterrupt
        presses += 1
        if presses > 1:
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a third Ctrl-C is Python's own
        loop.call_soon_threadsafe(interrupt, presses)  # the handler may run anywhere: act in the loop

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: leave Ctrl-C as it is
        previous = None
    try:
        return await run_batch(job, env, stdin=stdin, stdout=sys.stdout, observer=observer, control=control)
    finally:
        observer.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def exit_code_of(report: BatchReport) -> int:
    from mmo.app.batch.runner import ACCOUNT, BUDGET, COST_CAP, INTERRUPTED
    from mmo.cli.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_OK, exit_code

    stop = report.stop
    if stop is not None:
        if stop.reason == INTERRUPTED:
            return EXIT_INTERRUPTED
        if stop.reason in (COST_CAP, BUDGET):
            return EXIT_BUDGET
        if stop.reason == ACCOUNT and stop.error is not None:
            return exit_code(stop.error)
    summary = report.summary
    return EXIT_ROW_ERRORS if summary.failed or summary.infra_errors or summary.malformed else EXIT_OK


# --- progress ------------------------------------------------------------------------------------


class ProgressObserver:
    """A rich progress bar on a terminal; a plain line every ``PLAIN_PROGRESS_EVERY_S`` otherwise
    (and at the end), so logs of unattended runs stay readable."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress_interval_s = 0.2 if self.live else 0.5
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_plain = 0.0
        self._last: BatchProgress | None = None

    def notice(self, message: str) -> None:
        self.console.print(f"[bold]note:[/] {message}", highlight=False)

    def progress(self, snapshot: BatchProgress) -> None:
        self._last = snapshot
        if self.live:
            self._update_bar(snapshot)
        elif snapshot.elapsed_s - self._last_plain >= PLAIN_PROGRESS_EVERY_S:
            self._last_plain = snapshot.elapsed_s
            self.console.print(progress_line(snapshot), highlight=False, markup=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._last is not None:
            self.console.print(progress_line(self._last), highlight=False, markup=False)

    def _update_bar(self, snapshot: BatchProgress) -> None:
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}  ETA {task.fields[eta]}  {task.fields[cost]}  errors {task.fields[errors]}  cache hits {task.fields[cache]}"),
                console=self.console,
                auto_refresh=False,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("batch", total=snapshot.total, **_fields(snapshot))
        assert self._task is not None
        self._bar.update(self._task, completed=snapshot.completed, **_fields(snapshot))
        self._bar.refresh()


def _fields(snapshot: BatchProgress) -> dict[str, str]:
    return {
        "rate": f"{snapshot.rate:.1f} rows/s",
        "eta": duration(snapshot.eta_s),
        "cost": dollars(snapshot.cost_usd),
        "errors": str(snapshot.errors),
        "cache": str(snapshot.cache_hits),
    }


def progress_line(snapshot: BatchProgress) -> str:
    share = snapshot.completed / snapshot.total * 100 if snapshot.total else 100.0
    return (
        f"batch: {snapshot.completed}/{snapshot.total} rows ({share:.0f}%) · {snapshot.rate:.1f} rows/s · "
        f"ETA {duration(snapshot.eta_s)} · {dollars(snapshot.cost_usd)} · {plural(snapshot.errors, 'error')} · "
        f"{plural(snapshot.cache_hits, 'cache hit')}"
    )


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def dollars(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


# --- the end of a run ----------------------------------------------------------------------------


def render_report(report: BatchReport, console: Console) -> None:
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(summary_table(report))
    for line in outcome_lines(report):
        console.print(line, highlight=False, markup=False)


def summary_table(report: BatchReport) -> Table:
    from rich.table import Table

    summary = report.summary
    table = Table(title=f"batch run {report.run_id}  ·  profile {report.profile}", title_justify="left", title_style="bold",
                  box=None, header_style="bold", pad_edge=False)
    for column in ("model", "rows", "calls", "errors", "tokens in/out", "cost", "p50", "p95", "cache"):
        table.add_column(column, justify="left" if column in ("model", "errors") else "right", no_wrap=column != "errors")
    for stats in summary.models:
        cost = dollars(stats.cost_usd) + (f" + {stats.unknown_cost_calls} unknown" if stats.unknown_cost_calls else "")
        table.add_row(stats.model_id, str(stats.rows), str(stats.calls), _errors(stats.errors), f"{stats.input_tokens}/{stats.output_tokens}",
                      cost, millis(stats.p50_ms), millis(stats.p95_ms), str(stats.cache_hits))
    total_cost = dollars(summary.cost_usd) + (f" + {summary.unknown_cost_rows} rows unknown" if summary.unknown_cost_rows else "")
    table.add_row("total", f"{summary.done}/{summary.total_rows}", "", _errors(summary.errors), f"{summary.input_tokens}/{summary.output_tokens}",
                  total_cost, millis(summary.p50_ms), millis(summary.p95_ms), str(summary.cache_hits), style="bold")
    table.caption = "rows: answers delivered (total: done / input rows) · errors: per call (models), per row (total)"
    table.caption_justify = "left"
    return table


def _errors(errors: Any) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(errors.items(), key=lambda item: (-item[1], item[0]))) or "-"


def outcome_lines(report: BatchReport) -> list[str]:
    summary = report.summary
    parts = [f"{summary.done} done"]
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    if summary.infra_errors:
        parts.append(f"{plural(summary.infra_errors, 'infra error')} (re-run them with --retry-errors)")
    if summary.malformed:
        parts.append(f"{plural(summary.malformed, 'malformed line')} (see {report.errors_report})")
    if summary.pending:
        parts.append(f"{summary.pending} pending")
    lines = [f"{plural(summary.total_rows, 'row')}: " + ", ".join(parts)]
    lines.append(f"output: {report.output if report.output is not None else 'standard output'}  ·  state: {report.run_dir}")
    this_run = report.progress
    lines.append(
        f"this invocation: {plural(this_run.finished_now, 'row')} in {duration(this_run.elapsed_s)}, {dollars(this_run.cost_usd)}"
        f"  ·  the run so far: {dollars(report.spent_usd)}" + (f" of the {dollars(report.max_cost_usd)} cap" if report.max_cost_usd else "")
    )
    if report.stop is not None:
        lines.append(_stop_line(report))
    return lines


def _stop_line(report: BatchReport) -> str:
    from mmo.app.batch.runner import BUDGET, COST_CAP, INTERRUPTED

    stop, summary = report.stop, report.summary
    assert stop is not None
    got = f"{summary.finished} of {summary.total_rows - summary.malformed} rows finished, {summary.pending} not run"
    if stop.reason == COST_CAP:
        return f"stopped: {stop.message}. {got}; raise --max-cost and run the same command to continue."
    if stop.reason == BUDGET:
        return f"stopped: {stop.message}. {got}; run the same command when the budget allows."
    if stop.reason == INTERRUPTED:
        return f"interrupted: {got}; run the same command to resume."
    return f"stopped: {stop.message}. {got}; fix it and run the same command to resume."


# --- dry run -------------------------------------------------------------------------------------


def estimate_table(estimate: Any) -> Table:
    """The ``--dry-run`` estimate: per model rows, tokens and cost as cheapest-dearest ranges."""
    from rich.table import Table

    table = Table(title=f"dry run: {estimate.rows} rows, nothing called", title_justify="left", title_style="bold",
                  box=None, header_style="bold", pad_edge=False)
    for column in ("model", "rows", "input tokens", "output tokens", "cost", "price"):
        table.add_column(column, justify="left" if column in ("model", "price") else "right")
    for model in estimate.models:
        table.add_row(
            model.model_id,
            str(model.rows),
            _span(model.input_tokens_low, model.input_tokens_high),
            _span(model.output_tokens_low, model.output_tokens_high),
            _money_span(model.cost_low_usd, model.cost_high_usd),
            model.price_source,
        )
    unknown = f" (+ {estimate.unknown_price_rows} rows at unknown prices)" if estimate.unknown_price_rows else ""
    table.add_row("total", str(estimate.rows), "", "", _money_span(estimate.low_usd, estimate.high_usd) + unknown, "", style="bold")
    notes = [f"input tokens: {estimate.method}", f"output tokens: {estimate.output_method}", *estimate.notes]
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    return table


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def _money_span(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "unknown"
    return dollars(low) if low == high else f"{dollars(low)}-{dollars(high)}"
