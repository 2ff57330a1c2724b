"""``mmo batch IN --shared``: one run worked on by several workers (processes, machines) through the
state server (``MMO_STATE_URL``), every row answered once.

The run is named by ``--run-id`` or by what decides its answers (the input's content, the profile,
the parameters; never the input's path, which differs across machines), and the first worker
records that fingerprint: a worker that differs is refused before it claims a row. Each worker
claims rows (``SharedRows``: leases that a long call keeps renewing and a crashed worker's let go
of after ``--claim-timeout``), runs them through its own engine (its limits shared through the
same server), and commits their records to the server, where a row is written once. A worker
stays until every row of the run is finished (taking over rows whose worker died), then writes
the whole output, in input order, from the server: any worker that ends so writes the same
file. A worker stopped early (Ctrl-C, the cost cap) gives its unfinished rows back and writes
nothing: the output is never partial. The state lives on the server only; each worker's run log
keeps every call it paid for. No typer, no rich.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Mapping

from mmo.app.batch.control import BatchControl, BatchObserver
from mmo.app.batch.identity import differences, shared_run
from mmo.app.batch.input import RowParser
from mmo.app.batch.job import BatchJob, BatchReport, SharedOutcome
from mmo.app.batch.outcome import INFRA_ERROR
from mmo.app.batch.output import LineOutput, OutputTargets, check_writable, output_lock, output_targets
from mmo.app.batch.progress import BatchStop
from mmo.app.batch.row_log import RowLogger
from mmo.app.batch.run_record import run_records, started_now
from mmo.app.batch.runner import RowRunner
from mmo.app.batch.shared_rows import SharedRecords, SharedRows
from mmo.app.batch.slots import SlotIndex
from mmo.app.batch.source import BatchInput
from mmo.app.batch.wiring import batch_engine, batch_runner, invocation_info, write_errors, write_output
from mmo.app.engine import Engine, shared_state_url
from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError
from mmo.core.protocols import Provider
from mmo.runtime.shared_budget import SharedRunCap
from mmo.runtime.shared_run import SharedRun, worker_name
from mmo.runtime.spend import RunCap

OUTPUT_LOCK_WAIT_S = 60.0  # another worker on this machine writing the same output: wait for it


async def run_shared_batch(
    job: BatchJob,
    env: AppEnv,
    resolved: ResolvedProfile,
    source: BatchInput,
    parser: RowParser,
    *,
    stdout: IO[str] | None,
    observer: BatchObserver,
    control: BatchControl | None,
    providers: Mapping[str, Provider] | None,
) -> BatchReport:
    url = shared_state_url(env)
    if url is None:
        raise ConfigError(
            "--shared works through a state server that every worker reaches: set MMO_STATE_URL=redis://HOST:6379/0 "
            "(or `mmo config set state redis://HOST:6379/0`) on each of them"
        )
    profile = resolved.profile.model_dump(mode="json", by_alias=True)
    run_id, fingerprint, parts = shared_run(source.sha256, profile, job.settings.params, explicit=job.run_id)
    run_dir = env.paths.data_dir / "batches" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    targets = check_writable(output_targets(source.user_path, job.output, cwd=env.cwd, run_dir=run_dir), run_dir)
    if targets.output is None and stdout is None:
        raise ConfigError("the output would go to standard output, but there is none: pass -o FILE")
    slots = SlotIndex(source.path)
    run = SharedRun(url, run_id, worker_name(), total=len(slots), lease_s=job.claim_timeout_s)
    try:
        stored = await run.join(fingerprint, parts)
        if stored is not None:
            raise ConfigError(
                f"shared run {run_id!r} was started with another {differences(stored, parts)}: every worker of a run needs the same "
                "input content, profile and -p parameters; give this one another --run-id"
            )
        invocation = _SharedInvocation(job, env, resolved, source, run, slots, parser, targets, observer)
        return await invocation.run(stdout, control, providers)
    finally:
        slots.close()
        await run.aclose()


@dataclass(frozen=True, slots=True)
class _SharedInvocation:
    job: BatchJob
    env: AppEnv
    resolved: ResolvedProfile
    source: BatchInput
    shared: SharedRun
    slots: SlotIndex
    parser: RowParser
    targets: OutputTargets
    observer: BatchObserver

    async def run(self, stdout: IO[str] | None, control: BatchControl | None, providers: Mapping[str, Provider] | None) -> BatchReport:
        self.observer.notice(f"worker {self.shared.worker} on shared run {self.shared.run_id} ({self.shared.total} rows)")
        if self.job.retry_errors:
            again = await self.shared.requeue(SharedRecords(self.shared).slots_with(INFRA_ERROR), INFRA_ERROR)
            self.observer.notice(f"retrying {again} rows that failed for infrastructure reasons (every worker of the run takes them)")
        started_at, clock = started_now(), time.perf_counter()
        async with batch_engine(self.job, self.env, self.resolved, providers, self._run_cap()) as engine:
            rows = SharedRows(self.shared, self.slots, self.parser, claim_size=_claim_size(self.job.concurrency))
            runner = batch_runner(self.job, engine, None, total=self.shared.total, finished_before=0, observer=self.observer, writer=rows.writer)
            rows.stopping, rows.on_finished = (lambda: runner.stop is not None), runner.finished_in_run
            if engine.runlog is not None:
                runner.row_log = RowLogger(engine.runlog, batch_run_id=self.shared.run_id, log_text=self.job.log_text, warn=engine.services.warn)
            if control is not None:
                control.attach(runner)
            try:
                stop = await runner.run(rows)
            finally:
                await rows.close()
            complete = rows.finished >= self.shared.total
            try:
                errors_report = self._write(stdout) if complete else None
            finally:  # written or not, this worker's spend is recorded
                info = invocation_info(engine, runner.tally, stop, self.shared.run_id, self.source.label, started_at, clock)
                engine.record(*run_records(info, runner.tally))
        return self._report(engine, runner, stop, rows, complete, errors_report)

    def _run_cap(self) -> RunCap | None:
        """``--max-cost`` over the whole run, every worker's spend and calls in flight included."""
        if self.job.max_cost_usd is None:
            return None
        shared = SharedRunCap(self.shared.url, self.shared.run_id, self.shared.worker, self.job.claim_timeout_s)
        return RunCap(self.job.max_cost_usd, 0.0, self.job.allow_unknown_prices, shared=shared)

    def _write(self, stdout: IO[str] | None) -> Path | None:
        """The whole output and the errors report, from the server, in input order."""
        records = SharedRecords(self.shared)
        piped = LineOutput(stdout) if self.targets.output is None and stdout is not None else None
        with output_lock(self.targets.replaced, f"shared run {self.shared.run_id}, worker {self.shared.worker}", wait_s=OUTPUT_LOCK_WAIT_S):
            write_output(records.output_lines(), self.targets, piped)
            return write_errors(records.malformed, self.targets.errors)  # gathered while the output was written

    def _report(self, engine: Engine, runner: RowRunner, stop: BatchStop | None, rows: SharedRows, complete: bool, errors_report: Path | None) -> BatchReport:
        summary = SharedRecords(self.shared).summary()
        workers = tuple(self.shared.workers())
        shared = SharedOutcome(self.shared.worker, workers, complete, rows.duplicates, self.shared.round_trips)
        return BatchReport(
            run_id=self.shared.run_id,
            run_dir=self.env.paths.data_dir / "batches" / self.shared.run_id,
            profile=engine.profile_name,
            output=self.targets.output,
            errors_report=errors_report,
            summary=summary,
            progress=runner.progress(),
            stop=stop,
            notices=(),
            warnings=engine.warnings,
            max_cost_usd=self.job.max_cost_usd,
            spent_usd=sum(worker.spent_usd for worker in workers),
            shared=shared,
        )


def _claim_size(concurrency: int) -> int:
    """Rows claimed per round trip: enough to keep ``concurrency`` rows in flight, few enough that
    a crash leaves little for the others to wait for."""
    return max(1, min(concurrency, 64))
