"""The ``batch`` use case end to end: find the run, resume it, run the rows, write what it leaves.

``run_batch`` reads the input once to hash it (the run's identity and the row count for
progress), picks the run (``identity``), opens its state and ONE engine for every row (shared
HTTP client, cache, run log, limits, breakers; ``--max-cost`` as the engine's run cap), and runs
the rows not yet finished; each row is logged in the run log as it is committed (``RowLogger``).
A row may name its own model (checked before it runs, as ``-m`` resolves it). Before the first
call the output is checked (``check_writable``) and locked against other runs writing the same
file (``output_lock``). However it ends (finished, stopped by the cap, Ctrl-C, its output's
reader gone), it then writes the output and the errors report from the state, the summary, and
the invocation's summary record in the run log. A ``--shared`` run keeps its state on the
state server instead, worked on by several workers (``shared_batch``); what both are wired with
is in ``wiring``. No typer, no rich.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Iterator, Mapping, Sequence

from mmo.app.batch.control import BatchControl, BatchObserver
from mmo.app.batch.identity import STDIN_LABEL, RunChoice, RunIdentity, choose_run, fingerprint_parts, record_run
from mmo.app.batch.input import Malformed, RowParser
from mmo.app.batch.job import BatchJob, BatchReport, JobCollection
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, RowOutcome
from mmo.app.batch.output import LineOutput, OutputTargets, check_writable, output_lock, output_targets
from mmo.app.batch.progress import OUTPUT_CLOSED, BatchStop
from mmo.app.batch.row_log import RowLogger
from mmo.app.batch.run_record import run_records, started_now
from mmo.app.batch.runner import RowRunner
from mmo.app.batch.shared_batch import run_shared_batch
from mmo.app.batch.source import BatchInput, opened_input, unfinished
from mmo.app.batch.state import STATE_FILE, BatchState
from mmo.app.batch.summary import summarize
from mmo.app.batch.wiring import batch_engine, batch_runner, invocation_info, write_errors, write_output
from mmo.app.engine import Engine
from mmo.app.model_nodes import model_check
from mmo.app.profile_choice import ResolvedProfile, resolve_profile
from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError
from mmo.core.protocols import Provider
from mmo.runtime.spend import RunCap


async def run_batch(
    job: BatchJob,
    env: AppEnv,
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
    observer: BatchObserver | None = None,
    control: BatchControl | None = None,
    providers: Mapping[str, Provider] | None = None,
    collecting: JobCollection | None = None,
) -> BatchReport:
    """Run (or resume) the batch. ``providers`` adds ready-made providers by name, as for ``ask``;
    ``collecting`` runs only the rows provider batch jobs answered, with their answers
    (``mmo.app.provider_batch.collect``)."""
    job.check()
    resolved = resolve_profile(job.settings.choice, env)
    models = model_check(resolved.profile, providers)
    with opened_input(job.input, env.cwd, env.paths.data_dir / "batches", stdin, job.settings.params, strict=job.strict, models=models) as (source, parser):
        if job.shared:
            return await run_shared_batch(job, env, resolved, source, parser, stdout=stdout, observer=observer or BatchObserver(), control=control,
                                          providers=providers)
        chosen = choose_batch_run(job, env, source, resolved)
        if collecting is not None and chosen.identity.run_id != collecting.run_id:
            raise ConfigError(
                f"the jobs of run {collecting.run_id!r} were submitted for another input, profile or parameters than "
                f"{job.input!r} and its profile hold now (that would be run {chosen.identity.run_id!r}): restore them to collect, "
                "or submit the rows again; nothing was called"
            )
        with opened_state(chosen.identity) as state:
            invocation = _Invocation(job, env, resolved, source, parser, chosen, state, observer or BatchObserver(), collecting)
            return await invocation.run(stdout, control, providers)


@contextmanager
def opened_state(identity: RunIdentity) -> Iterator[BatchState]:
    """The run's state, opened (and its directory made) before anything is spent; a state that
    cannot be (a read-only data directory, a damaged file) is a usage error naming it."""
    import sqlite3

    from mmo.runtime.sqlite_files import file_problem, is_damaged

    try:
        record_run(identity)
        state = BatchState(identity.directory)
    except (OSError, sqlite3.Error) as error:
        path = identity.directory / STATE_FILE
        if is_damaged(error):
            raise ConfigError(f"the state of run {identity.run_id!r} ({path}) is damaged: start a new run with --run-id NAME") from None
        raise ConfigError(f"cannot use the state of run {identity.run_id!r}: {file_problem(path, error)}") from None
    with state:
        yield state


@dataclass(frozen=True, slots=True)
class _Invocation:
    """One invocation of a run whose input, identity and state are settled."""

    job: BatchJob
    env: AppEnv
    resolved: ResolvedProfile
    source: BatchInput
    parser: RowParser
    chosen: RunChoice
    state: BatchState
    observer: BatchObserver
    collecting: JobCollection | None = None

    @property
    def skip(self) -> tuple[str, ...]:
        """Statuses of rows this invocation does not run again."""
        return (DONE, FAILED) if self.job.retry_errors else (DONE, FAILED, INFRA_ERROR)

    async def run(self, stdout: IO[str] | None, control: BatchControl | None, providers: Mapping[str, Provider] | None) -> BatchReport:
        job, run_dir = self.job, self.chosen.identity.directory
        targets = check_writable(output_targets(self.source.user_path, job.output, cwd=self.env.cwd, run_dir=run_dir), run_dir)
        if targets.output is None and stdout is None:
            raise ConfigError("the output would go to standard output, but there is none: pass -o FILE")
        with output_lock(targets.replaced, f"run {self.chosen.identity.run_id}, pid {os.getpid()}"):
            return await self._run_locked(targets, stdout, control, providers)

    async def _run_locked(
        self, targets: OutputTargets, stdout: IO[str] | None, control: BatchControl | None, providers: Mapping[str, Provider] | None
    ) -> BatchReport:
        job, state = self.job, self.state
        notices = _notices(self.chosen, state.counts(), self.source.rows - len(state.malformed()), job.retry_errors)
        for notice in notices:
            self.observer.notice(notice)
        started_at, clock = started_now(), time.perf_counter()
        run_cap = RunCap(job.max_cost_usd, state.spent_usd(), job.allow_unknown_prices) if job.max_cost_usd is not None else None
        piped = LineOutput(stdout) if targets.output is None and stdout is not None else None
        wrap = self.collecting.wrap if self.collecting is not None else None
        async with batch_engine(job, self.env, self.resolved, providers, run_cap, wrap) as engine:
            stream_to = piped if job.unordered else None
            runner, stop = await self._run_rows(engine, stream_to, control)
            if truncated := runner.tally.truncated_rows:
                engine.services.warn(f"{truncated} answer(s) cut at max_tokens (\"truncated\": true in the output): raise it with -p max_tokens=N")
            try:
                delivered = write_output(state.output_lines(ordered=not job.unordered), targets, piped) if stream_to is None else not stream_to.closed
                errors_report = write_errors(state.malformed(), targets.errors)
            finally:  # written or not, the run's spend is recorded
                info = invocation_info(engine, runner.tally, stop, self.chosen.identity.run_id, self.source.label, started_at, clock)
                engine.record(*run_records(info, runner.tally))
        return self._report(engine, targets, errors_report, runner, stop, notices, output_closed=not delivered)

    async def _run_rows(self, engine: Engine, stream_to: LineOutput | None, control: BatchControl | None) -> tuple[RowRunner, BatchStop | None]:
        if stream_to is not None:
            # --unordered to standard output: rows finished earlier first, then each row as it is
            # committed; every line is written whole.
            stream_to.write(self.state.output_lines(ordered=False, statuses=self.skip))
        counts = self.state.counts()
        finished_before = sum(counts.get(status, 0) for status in self.skip)
        runner = batch_runner(self.job, engine, self.state, total=self.source.rows, finished_before=finished_before, observer=self.observer)
        if engine.runlog is not None:
            warn = engine.services.warn
            runner.row_log = RowLogger(engine.runlog, batch_run_id=self.chosen.identity.run_id, log_text=self.job.log_text, warn=warn)
        if stream_to is not None:
            runner.on_rows = partial(_stream_rows, stream_to, runner)
            if stream_to.closed:
                runner.stop_early(_OUTPUT_CLOSED)
        if control is not None:
            control.attach(runner)
        rows = unfinished(self.source.path, self.parser, self.state.finished_indices(self.skip))
        if self.collecting is not None:
            rows = (row for row in rows if isinstance(row, Malformed) or row.index in self.collecting.rows)  # only rows a job answered
        stop = await runner.run(rows)
        return runner, stop

    def _report(
        self,
        engine: Engine,
        targets: OutputTargets,
        errors_report: Path | None,
        runner: RowRunner,
        stop: BatchStop | None,
        notices: Sequence[str],
        *,
        output_closed: bool,
    ) -> BatchReport:
        return BatchReport(
            run_id=self.chosen.identity.run_id,
            run_dir=self.chosen.identity.directory,
            profile=engine.profile_name,
            output=targets.output,
            errors_report=errors_report,
            summary=summarize(self.state, total_rows=self.source.rows),
            progress=runner.progress(),
            stop=stop,
            notices=tuple(notices),
            warnings=engine.warnings,
            max_cost_usd=self.job.max_cost_usd,
            spent_usd=self.state.spent_usd(),
            output_closed=output_closed,
        )


_OUTPUT_CLOSED = BatchStop(OUTPUT_CLOSED, "the output was closed by its reader")


def _stream_rows(output: LineOutput, runner: RowRunner, rows: Sequence[RowOutcome]) -> None:
    """Each committed row to the stream; once its reader has gone, no new row starts (rows that
    finish meanwhile stay in the state, for a later run to write)."""
    output.write(outcome.line for outcome in rows)
    if output.closed:
        runner.stop_early(_OUTPUT_CLOSED)


def choose_batch_run(job: BatchJob, env: AppEnv, source: BatchInput, resolved: ResolvedProfile) -> RunChoice:
    """The run this input, profile and parameters belong to (``identity``)."""
    profile = resolved.profile.model_dump(mode="json", by_alias=True)
    label = str(source.user_path) if source.user_path is not None else STDIN_LABEL
    parts = fingerprint_parts(label, source.sha256, profile, job.settings.params)
    stem = source.user_path.stem if source.user_path is not None else "stdin"
    return choose_run(env.paths.data_dir / "batches", parts, explicit=job.run_id, stem=stem)


def _notices(chosen: RunChoice, counts: Mapping[str, int], total: int, retry_errors: bool) -> list[str]:
    notices = [chosen.notice] if chosen.notice else []
    finished = sum(counts.values())
    if chosen.resumed and finished:
        infra = counts.get(INFRA_ERROR, 0)
        retry = f"; retrying {infra} rows that failed for infrastructure reasons" if retry_errors and infra else ""
        notices.append(f"resuming run {chosen.identity.run_id}: {finished} of {total} rows already finished{retry}")
    return notices


