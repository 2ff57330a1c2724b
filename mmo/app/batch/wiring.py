"""What every invocation of a batch run is wired with, whether its state is local (``run``) or
on a state server (``shared_batch``): one engine for its rows, the row runner, the output and
errors report written from the state, and the invocation's record for the run log."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import AsyncIterator, Callable, Iterable, Mapping

from mmo.app.batch.client import batch_client
from mmo.app.batch.control import BatchObserver
from mmo.app.batch.input import Malformed
from mmo.app.batch.job import BatchJob
from mmo.app.batch.output import LineOutput, OutputTargets, write_errors_report, write_lines_atomically
from mmo.app.batch.progress import BatchStop
from mmo.app.batch.run_record import InvocationInfo, InvocationTally
from mmo.app.batch.runner import Committed, RowRunner, RowWriter
from mmo.app.batch.state import BatchState
from mmo.app.engine import Engine, open_engine
from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError
from mmo.core.protocols import Provider, concurrent_calls
from mmo.runtime.services import Services
from mmo.runtime.spend import RunCap
from mmo.strategies.build import build_tree


@asynccontextmanager
async def batch_engine(
    job: BatchJob, env: AppEnv, resolved: ResolvedProfile, providers: Mapping[str, Provider] | None, run_cap: RunCap | None,
    wrap: Callable[[Provider, Services], Provider] | None = None,
) -> AsyncIterator[Engine]:
    """ONE engine for every row of the invocation, its HTTP pool sized for ``-c`` rows at once;
    with ``--max-cost``, every model it can call must have a price before anything runs."""
    client = batch_client(job.concurrency * concurrent_calls(build_tree(resolved.profile)), env.environ)
    async with open_engine(job.settings, env, resolved=resolved, providers=providers, client_factory=client, run_cap=run_cap,
                           wrap_providers=wrap) as engine:
        _refuse_unpriced(job, engine)
        yield engine


def batch_runner(job: BatchJob, engine: Engine, state: BatchState | None, *, total: int, finished_before: int, observer: BatchObserver,
                 writer: Callable[[Committed], RowWriter] | None = None) -> RowRunner:
    return RowRunner(
        engine,
        state,
        concurrency=job.concurrency,
        total=total,
        finished_before=finished_before,
        grace_s=job.grace_s,
        on_progress=observer.progress,
        progress_interval_s=observer.progress_interval_s,
        writer=writer,
    )


def _refuse_unpriced(job: BatchJob, engine: Engine) -> None:
    """With ``--max-cost``, every model the profile can call needs a price, before anything runs."""
    if job.max_cost_usd is None or job.allow_unknown_prices:
        return
    missing = engine.unpriced_models()
    if missing:
        raise ConfigError(
            f"--max-cost needs a price for every model the profile can call; none is known for {', '.join(missing)}. "
            "Give them a price under `models:` in the profile, or pass --allow-unknown-prices (their calls then count $0 "
            "before they run, and their recorded cost, if any, after)"
        )


def write_output(lines: Iterable[str], targets: OutputTargets, piped: LineOutput | None) -> bool:
    """The output (from the state); False when its reader closed it before every line was written."""
    if targets.output is None:
        assert piped is not None  # checked before the run
        piped.write(lines)
        return not piped.closed
    try:
        if targets.in_place:
            return _write_in_place(targets.output, lines)
        write_lines_atomically(targets.output, lines)
    except OSError as error:
        raise ConfigError(f"cannot write the output {str(targets.output)!r}: {error.strerror or error}; {_KEPT}") from None
    return True


def write_errors(malformed: list[Malformed], target: Path) -> Path | None:
    try:
        return write_errors_report(target, malformed)
    except OSError as error:
        raise ConfigError(f"cannot write the errors report {str(target)!r}: {error.strerror or error}; {_KEPT}") from None


_KEPT = "every finished row is kept in the run's state: run the same command again (with -o elsewhere if need be); nothing is paid twice"


def _write_in_place(target: Path, lines: Iterable[str]) -> bool:
    """A device or a FIFO, written directly (opening a FIFO waits for its reader)."""
    handle = target.open("w", encoding="utf-8", newline="\n")
    output = LineOutput(handle)
    output.write(lines)
    try:
        handle.close()
    except BrokenPipeError:
        output.closed = True
    return not output.closed


def invocation_info(engine: Engine, tally: InvocationTally, stop: BatchStop | None, run_id: str, label: str, started_at: datetime, clock: float) -> InvocationInfo:
    stop_class = None
    if stop is not None:
        stop_class = "Interrupted" if stop.error is None else type(stop.error).__name__
    return InvocationInfo(
        batch_run_id=run_id,
        started_at=started_at,
        wall_ms=(time.perf_counter() - clock) * 1000.0,
        profile=engine.profile_name,
        strategy=engine.strategy,
        input_label=label,
        stop_class=stop_class,
        stop_message=stop.message if stop is not None else None,
    )
