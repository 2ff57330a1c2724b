"""``mmo batch`` at work: runs the use case with Ctrl-C wired to it, and renders its progress, its
report or the dry run's estimate. Progress, notices and the summary go to standard error;
standard output carries the answers only when the output goes there (input from standard input
without ``-o``).

Ctrl-C stops scheduling rows and lets those in flight finish (for ``BatchJob.grace_s``), then
writes the output, the summary and the run log record, and exits 130; a second Ctrl-C cancels the
rows in flight at once (they stay pending); a third is Python's own KeyboardInterrupt. Before the
rows start, Ctrl-C stops at once.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any

import typer

from mmo.cli.batch_progress import ProgressObserver
from mmo.cli.batch_report import exit_code_of, render_report

if TYPE_CHECKING:
    from rich.console import Console

    from mmo.app.batch.job import BatchJob, BatchReport
    from mmo.app.settings import AppEnv

LOG_WIDTH = 140


def run_batch_command(job: BatchJob, *, dry_run: bool) -> None:
    """The command's work, once its options are parsed into ``job``."""
    import asyncio
    import os

    from rich.console import Console

    from mmo.app.settings import AppEnv

    err = Console(stderr=True)
    if not err.is_terminal and "COLUMNS" not in os.environ:
        err.width = LOG_WIDTH  # a log file or a CI console: wide enough for the summary table
    env = AppEnv.from_process()
    stdin = sys.stdin.buffer if job.input == "-" and sys.stdin is not None else None
    if dry_run:
        from mmo.app.batch.dry_run import dry_run as estimate
        from mmo.cli.batch_estimate import estimate_table

        err.print(estimate_table(asyncio.run(estimate(job, env, stdin=stdin))))
        return
    report = asyncio.run(_run_with_ctrl_c(job, env, stdin, err))
    if report.output_closed:
        from mmo.cli.errors import silence_stdout

        silence_stdout()  # what is left in its buffer would fail again at exit
    render_report(report, err)
    raise typer.Exit(exit_code_of(report))


async def _run_with_ctrl_c(job: BatchJob, env: AppEnv, stdin: IO[bytes] | None, err: Console) -> BatchReport:
    """Run the batch with Ctrl-C wired to it. Until the rows start, Ctrl-C stops at once, as
    anywhere else (nothing is running, so nothing is lost; and a read of standard input waiting
    for a terminal can only be stopped so); once they run, it goes through ``BatchControl``."""
    import asyncio
    import signal

    from mmo.app.batch.control import BatchControl
    from mmo.app.batch.run import run_batch

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
