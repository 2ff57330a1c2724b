"""``mmo batch`` at work: runs the use case with Ctrl-C wired to it, and renders its progress, its
report or the dry run's estimate. Progress, notices and the summary go to standard error;
standard output carries the answers only when the output goes there (input from standard input
without ``-o``).

Ctrl-C stops scheduling rows and lets those in flight finish (for ``BatchJob.grace_s``), then
writes the output, the summary and the run log record, and exits 130; a second Ctrl-C cancels the
rows in flight at once (they stay pending); a third is Python's own KeyboardInterrupt. Before the
rows start, Ctrl-C stops at once. SIGTERM (``kill``, a service manager, a container stopping) and
SIGHUP (the terminal closed) are handled the same way, exiting 128 + their number (143, 129); a
third of them ends the process as the signal would.
"""

from __future__ import annotations

import contextlib
import sys
from typing import IO, TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

import typer

from mmo.cli.batch_progress import ProgressObserver
from mmo.cli.batch_report import exit_code_of, render_report, report_json

if TYPE_CHECKING:
    from rich.console import Console

    from mmo.app.batch.control import BatchControl
    from mmo.app.batch.job import BatchJob, BatchReport
    from mmo.app.settings import AppEnv

T = TypeVar("T")

LOG_WIDTH = 140


def run_batch_command(job: BatchJob, *, dry_run: bool, json_summary: bool = False) -> None:
    """The command's work, once its options are parsed into ``job``. With ``json_summary`` the
    summary is one JSON object on standard output, which must then not carry the rows."""
    import asyncio
    import os

    from mmo.app.settings import AppEnv
    from mmo.cli.terminal import SafeConsole

    err = SafeConsole(stderr=True)
    if not err.is_terminal and "COLUMNS" not in os.environ:
        err.width = LOG_WIDTH  # a log file or a CI console: wide enough for the summary table
    if json_summary and (job.output == "-" or (job.output is None and job.input == "-")):
        from mmo.core.errors import ConfigError

        raise ConfigError("--json prints the summary on standard output, where the rows would go too: give -o FILE")
    env = AppEnv.from_process()
    stdin = sys.stdin.buffer if job.input == "-" and sys.stdin is not None else None
    if dry_run:
        from mmo.app.batch.dry_run import dry_run as estimate
        from mmo.cli.batch_estimate import estimate_table

        err.print(estimate_table(asyncio.run(estimate(job, env, stdin=stdin))))
        return
    report, signum = asyncio.run(_run_with_signals(job, env, stdin, err))
    if report.output_closed:
        from mmo.cli.errors import silence_stdout

        silence_stdout()  # what is left in its buffer would fail again at exit
    with contextlib.suppress(OSError):  # standard error is gone too (a closed terminal): all is written
        if json_summary:
            import json

            sys.stdout.write(json.dumps(report_json(report, exit_code_of(report)), indent=2) + "\n")
        else:
            render_report(report, err)
    raise typer.Exit(_exit_code(report, signum))


def _exit_code(report: BatchReport, signum: int | None) -> int:
    """The report's code; an interruption by SIGTERM or SIGHUP exits 128 + its number."""
    from mmo.cli.errors import EXIT_INTERRUPTED

    code = exit_code_of(report)
    return 128 + signum if code == EXIT_INTERRUPTED and signum is not None else code


_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # those present on this platform are handled


async def _run_with_signals(job: BatchJob, env: AppEnv, stdin: IO[bytes] | None, err: Console) -> tuple[BatchReport, int | None]:
    """Run the batch with Ctrl-C, SIGTERM and SIGHUP wired to it (``run_with_signals``)."""
    from mmo.app.batch.run import run_batch

    observer = ProgressObserver(err)
    try:
        return await run_with_signals(
            lambda control: run_batch(job, env, stdin=stdin, stdout=sys.stdout, observer=observer, control=control), observer.notice
        )
    finally:
        observer.close()


async def run_with_signals(work: Callable[[BatchControl], Awaitable[T]], notice: Callable[[str], None]) -> tuple[T, int | None]:
    """Run ``work`` with Ctrl-C, SIGTERM and SIGHUP wired to its ``BatchControl``; returns its
    result and the signal that interrupted it, if it was not Ctrl-C. Until rows start, a signal
    stops at once, as anywhere else (nothing is running, so nothing is lost; and a read of
    standard input waiting for a terminal can only be stopped so); once they run, it goes through
    ``BatchControl``."""
    import asyncio
    import signal

    from mmo.app.batch.control import BatchControl
    from mmo.cli.errors import Terminated

    control = BatchControl()
    loop = asyncio.get_running_loop()
    handled = [getattr(signal, name) for name in _SIGNALS if hasattr(signal, name)]
    received: list[int] = []

    def interrupt(press: int, name: str) -> None:
        control.interrupt()
        with contextlib.suppress(OSError):  # standard error is gone (SIGHUP: the terminal closed)
            if press == 1:
                notice(f"{name}: no new rows start; rows in flight may finish ({name} again cancels them)")
            else:
                notice(f"{name} again: cancelling the rows in flight (they stay pending)")

    def on_signal(signum: int, frame: Any) -> None:
        if not control.attached:
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
        received.append(signum)
        if len(received) > 1:  # a third is the signal's own: Python's KeyboardInterrupt, or the end
            for each in handled:
                signal.signal(each, signal.default_int_handler if each == signal.SIGINT else signal.SIG_DFL)
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        loop.call_soon_threadsafe(interrupt, len(received), name)  # the handler may run anywhere: act in the loop

    try:
        previous = {each: signal.signal(each, on_signal) for each in handled}
    except ValueError:  # not the main thread: leave the signals as they are
        previous = {}
    try:
        result = await work(control)
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)
    first = received[0] if received else None
    return result, None if first is None or first == signal.SIGINT else first
