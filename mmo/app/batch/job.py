"""The ``batch`` use case end to end: find the run, resume it, run the rows, write what it leaves.

``run_batch`` reads the input once to hash it (the run's identity and the row count for
progress), picks the run (``identity``), opens its state and ONE session for every row (shared
HTTP client, cache, limits, breakers), adds the cost-cap guard, and runs the rows not yet
finished. However it ends (finished, stopped by the cap, Ctrl-C), it then writes the output and
the errors report from the state, the summary, and one record in the run log. ``dry_run``
estimates instead of calling. No typer, no rich.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from mmo.app.session import AppEnv, ProfileChoice, ResolvedProfile, Session, open_session, resolve_profile
from mmo.core.errors import ConfigError
from mmo.runtime.context import RunOptions

from mmo.app.batch.cost_cap import CostCapGuard, unpriced_models
from mmo.app.batch.identity import STDIN_LABEL, RunChoice, choose_run, fingerprint_parts, record_run
from mmo.app.batch.input import InputRow, Malformed, RowParser, digest_file, first_malformed, numbered_lines, spool
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, RowOutcome
from mmo.app.batch.output import OutputTargets, output_targets, write_errors_report, write_lines, write_lines_atomically
from mmo.app.batch.run_record import InvocationInfo, InvocationTally, run_records, started_now
from mmo.app.batch.runner import BatchProgress, BatchStop, RowRunner
from mmo.app.batch.state import BatchState
from mmo.app.batch.summary import BatchSummary, summarize

if TYPE_CHECKING:
    import httpx

DEFAULT_CONCURRENCY = 16
DEFAULT_GRACE_S = 10.0


@dataclass(frozen=True, slots=True)
class BatchJob:
    input: str  # a path, or "-" for standard input
    output: str | None = None  # a path, or "-" for standard output; default beside the input
    choice: ProfileChoice = field(default_factory=ProfileChoice)
    params: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = DEFAULT_CONCURRENCY
    max_cost_usd: float | None = None
    allow_unknown_prices: bool = False
    strict: bool = False
    unordered: bool = False
    run_id: str | None = None
    retry_errors: bool = False
    read_cache: bool = True
    write_cache: bool = True
    fail_fast: bool = False
    simulate_outage: tuple[str, ...] = ()
    grace_s: float = DEFAULT_GRACE_S  # after Ctrl-C, how long rows in flight may finish

    def check(self) -> None:
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1, not {self.concurrency}")
        if self.max_cost_usd is not None and self.max_cost_usd <= 0:
            raise ConfigError(f"--max-cost must be above 0, not {self.max_cost_usd}")


@dataclass(frozen=True, slots=True)
class BatchReport:
    run_id: str
    run_dir: Path
    profile: str
    output: Path | None  # None: written to standard output
    errors_report: Path | None  # None: no malformed lines
    summary: BatchSummary
    progress: BatchProgress  # this invocation
    stop: BatchStop | None
    notices: tuple[str, ...]
    warnings: tuple[str, ...]
    max_cost_usd: float | None = None
    spent_usd: float = 0.0  # by the whole run, earlier invocations included


class BatchControl:
    """How the command line reaches a running batch (Ctrl-C), before or after it started."""

    def __init__(self) -> None:
        self._runner: RowRunner | None = None
        self._early = 0

    def interrupt(self) -> None:
        if self._runner is not None:
            self._runner.interrupt()
        else:
            self._early += 1

    @property
    def attached(self) -> bool:
        """Whether rows are about to run (or running): before, there is nothing to stop cleanly."""
        return self._runner is not None

    def attach(self, runner: RowRunner) -> None:
        self._runner = runner
        for _ in range(self._early):
            runner.interrupt()


class BatchObserver:
    """What a batch tells its caller as it runs; the defaults ignore everything."""

    progress_interval_s: float = 0.5

    def notice(self, message: str) -> None:
        return None

    def progress(self, snapshot: BatchProgress) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Input:
    label: str  # as the user wrote it ("-" for standard input)
    path: Path  # the file read (a spool file for standard input)
    user_path: Path | None  # None for standard input
    sha256: str
    rows: int


async def run_batch(
    job: BatchJob,
    env: AppEnv,
    *,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
    observer: BatchObserver | None = None,
    control: BatchControl | None = None,
) -> BatchReport:
    job.check()
    observer = observer or BatchObserver()
    resolved = resolve_profile(job.choice, env)
    batches = env.paths.data_dir / "batches"
    source = _read_input(job, env, batches, stdin)
    try:
        parser = RowParser(job.params)
        _check_strict(job, source, parser)
        chosen = _choose(job, source, resolved, batches)
        record_run(chosen.identity)
        with BatchState(chosen.identity.directory) as state:
            return await _run_in_state(job, env, source, parser, resolved, chosen, state, stdout, observer, control)
    finally:
        if source.user_path is None:
            source.path.unlink(missing_ok=True)


async def _run_in_state(
    job: BatchJob,
    env: AppEnv,
    source: _Input,
    parser: RowParser,
    resolved: ResolvedProfile,
    chosen: RunChoice,
    state: BatchState,
    stdout: IO[str] | None,
    observer: BatchObserver,
    control: BatchControl | None,
) -> BatchReport:
    targets = output_targets(source.user_path, job.output, cwd=env.cwd, run_dir=chosen.identity.directory)
    if targets.output is None and stdout is None:
        raise ConfigError("the output would go to standard output, but there is none: pass -o FILE")
    skip = (DONE, FAILED) if job.retry_errors else (DONE, FAILED, INFRA_ERROR)
    counts = state.counts()
    finished_before = sum(counts.get(status, 0) for status in skip)
    notices = _notices(chosen, counts, source.rows - len(state.malformed()), job.retry_errors)
    for notice in notices:
        observer.notice(notice)
    started_at, clock = started_now(), time.perf_counter()
    session = open_session(
        resolved,
        env,
        use_cache=job.read_cache or job.write_cache,
        simulate_outage=job.simulate_outage,
        client_factory=batch_client(job.concurrency, env.environ),
    )
    stream_to = stdout if job.unordered and targets.output is None else None
    if stream_to is not None:
        # --unordered to standard output: rows finished earlier first, then each row as it is
        # committed; every line is written whole.
        write_lines(stream_to, state.output_lines(ordered=False, statuses=skip))
    try:
        _add_cost_cap(job, session, state.spent_usd())
        runner = _runner(job, session, state, total=source.rows, finished_before=finished_before, observer=observer, stream_to=stream_to)
        if control is not None:
            control.attach(runner)
        stop = await runner.run(_unfinished(source.path, parser, state.finished_indices(skip)))
    finally:
        await session.aclose()
    if stream_to is None:
        _write_outputs(state, targets, job.unordered, stdout)
    errors_report = write_errors_report(targets.errors, state.malformed())
    summary = summarize(state, total_rows=source.rows)
    _log_invocation(env, session, runner.tally, stop, chosen.identity.run_id, source.label, started_at, clock)
    return BatchReport(
        run_id=chosen.identity.run_id,
        run_dir=chosen.identity.directory,
        profile=resolved.name,
        output=targets.output,
        errors_report=errors_report,
        summary=summary,
        progress=runner.progress(),
        stop=stop,
        notices=tuple(notices),
        warnings=tuple(session.services.warnings.items),
        max_cost_usd=job.max_cost_usd,
        spent_usd=state.spent_usd(),
    )


def _runner(
    job: BatchJob, session: Session, state: BatchState, *, total: int, finished_before: int, observer: BatchObserver, stream_to: IO[str] | None
) -> RowRunner:
    return RowRunner(
        session,
        state,
        options=RunOptions(read_cache=job.read_cache, write_cache=job.write_cache, fail_fast=job.fail_fast),
        concurrency=job.concurrency,
        total=total,
        finished_before=finished_before,
        grace_s=job.grace_s,
        daily_cap_usd=session.resolved.profile.budget.daily_usd,
        on_progress=observer.progress,
        progress_interval_s=observer.progress_interval_s,
        on_rows=None if stream_to is None else partial(_stream_rows, stream_to),
    )


def _stream_rows(stream: IO[str], rows: Sequence[RowOutcome]) -> None:
    write_lines(stream, (outcome.line for outcome in rows))


def _read_input(job: BatchJob, env: AppEnv, batches: Path, stdin: IO[bytes] | None) -> _Input:
    if job.input == STDIN_LABEL:
        if stdin is None:
            raise ConfigError("input '-' means standard input, but there is none")
        spooled = batches / f".stdin-{uuid.uuid4().hex}.jsonl"
        spool(stdin, spooled)
        digest = digest_file(spooled)
        return _Input(STDIN_LABEL, spooled, None, digest.sha256, digest.rows)
    path = (env.cwd / job.input).resolve()
    if not path.is_file():
        raise ConfigError(f"input {job.input!r} is not a file")
    digest = digest_file(path)
    return _Input(job.input, path, path, digest.sha256, digest.rows)


def _check_strict(job: BatchJob, source: _Input, parser: RowParser) -> None:
    """``--strict``: the whole input is checked before anything is spent."""
    if not job.strict:
        return
    bad = first_malformed(source.path, parser)
    if bad is not None:
        raise ConfigError(f"{source.label}:{bad.line}: {bad.reason} (--strict stops at the first malformed line)")


def _choose(job: BatchJob, source: _Input, resolved: ResolvedProfile, batches: Path) -> RunChoice:
    profile = resolved.profile.model_dump(mode="json", by_alias=True)
    label = str(source.user_path) if source.user_path is not None else STDIN_LABEL
    parts = fingerprint_parts(label, source.sha256, profile, job.params)
    stem = source.user_path.stem if source.user_path is not None else "stdin"
    return choose_run(batches, parts, explicit=job.run_id, stem=stem)


def _notices(chosen: RunChoice, counts: Mapping[str, int], total: int, retry_errors: bool) -> list[str]:
    notices = [chosen.notice] if chosen.notice else []
    finished = sum(counts.values())
    if chosen.resumed and finished:
        infra = counts.get(INFRA_ERROR, 0)
        retry = f"; retrying {infra} rows that failed for infrastructure reasons" if retry_errors and infra else ""
        notices.append(f"resuming run {chosen.identity.run_id}: {finished} of {total} rows already finished{retry}")
    return notices


def _add_cost_cap(job: BatchJob, session: Session, spent_before: float) -> None:
    """With ``--max-cost``: refuse unpriced models before anything runs, then guard every call."""
    if job.max_cost_usd is None:
        return
    missing = unpriced_models(session.root, session.services.prices)
    if missing and not job.allow_unknown_prices:
        raise ConfigError(
            f"--max-cost needs a price for every model the profile can call; none is known for {', '.join(missing)}. "
            "Give them a price under `models:` in the profile, or pass --allow-unknown-prices (their calls then count $0 "
            "before they run, and their recorded cost, if any, after)"
        )
    cap = CostCapGuard(job.max_cost_usd, spent_before_usd=spent_before, allow_unknown_prices=job.allow_unknown_prices)
    session.services.guards = (*session.services.guards, cap)  # last: after any guard that waits


def _unfinished(path: Path, parser: RowParser, finished: Iterator[int]) -> Iterator[InputRow | Malformed]:
    """The input's rows, minus those already finished (a merge of two ascending sequences, so
    memory stays flat); finished lines are not even parsed."""
    next_finished = next(finished, None)
    for number, raw in numbered_lines(path):
        while next_finished is not None and next_finished < number:
            next_finished = next(finished, None)
        if number == next_finished:
            continue
        yield parser.parse(number, raw)


def _write_outputs(state: BatchState, targets: OutputTargets, unordered: bool, stdout: IO[str] | None) -> None:
    lines = state.output_lines(ordered=not unordered)
    if targets.output is None:
        assert stdout is not None  # checked before the run
        write_lines(stdout, lines)
    else:
        write_lines_atomically(targets.output, lines)


def _log_invocation(env: AppEnv, session: Session, tally: InvocationTally, stop: BatchStop | None, run_id: str, label: str, started_at: Any, clock: float) -> None:
    from mmo.runtime.runlog import RunLog
    from mmo.strategies.build import describe

    stop_class = None
    if stop is not None:
        stop_class = "Interrupted" if stop.error is None else type(stop.error).__name__
    info = InvocationInfo(
        batch_run_id=run_id,
        started_at=started_at,
        wall_ms=(time.perf_counter() - clock) * 1000.0,
        profile=session.resolved.name,
        strategy=describe(session.root),
        input_label=label,
        stop_class=stop_class,
        stop_message=stop.message if stop is not None else None,
    )
    run, attempts = run_records(info, tally)
    with RunLog(env.paths.runlog_path) as log:
        log.record(run, attempts)


def batch_client(concurrency: int, environ: Mapping[str, str]) -> Callable[[], httpx.AsyncClient]:
    """The batch's HTTP client, sized for its concurrency: httpx over aiohttp
    (``mmo.providers.fast_client``), or plain httpx where that module is absent."""
    try:
        from mmo.providers.fast_client import batch_client_factory
    except ModuleNotFoundError as missing:
        if missing.name != "mmo.providers.fast_client":
            raise
        from mmo.providers.http import make_client

        return lambda: make_client(max_connections=concurrency)
    return batch_client_factory(concurrency, environ)


async def dry_run(job: BatchJob, env: AppEnv, *, stdin: IO[bytes] | None = None) -> Any:
    """``--dry-run``: the estimate of ``mmo.app.batch.estimate`` (tokens and cost per model, as
    a range, with its method) for the rows of the input; nothing is called or recorded."""
    try:
        from mmo.app.batch.estimate import estimate_batch, learnt_estimator
    except ModuleNotFoundError as missing:
        if missing.name != "mmo.app.batch.estimate":
            raise
        raise ConfigError("--dry-run is not available in this build of mmo (no mmo.app.batch.estimate)") from None

    job.check()
    resolved = resolve_profile(job.choice, env)
    source = _read_input(job, env, env.paths.data_dir / "batches", stdin)
    session = open_session(resolved, env, use_cache=False)
    try:
        parser = RowParser(job.params)
        _check_strict(job, source, parser)
        rows = (item.request for item in _unfinished(source.path, parser, iter(())) if isinstance(item, InputRow))
        return estimate_batch(session, rows, learnt_estimator(session))
    finally:
        await session.aclose()
        if source.user_path is None:
            source.path.unlink(missing_ok=True)
