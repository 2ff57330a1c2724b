"""A run's provider batch jobs after they were submitted: show, wait, collect, cancel
(``mmo jobs ...``). Each command reopens the run from its ``jobs.sqlite3`` (the invocation that
submitted it, so it runs in any terminal, later) and asks the vendors through the profile's
providers, with the same keys a live run uses.

Collecting reads every ended job's results into the store (committed as they are read), gives
each request of an ended job that came back without a result the error its job's end explains
(expired, cancelled, the job failed as a whole), then runs those rows as ``mmo batch`` would,
with the jobs' answers in place of their first calls (``answers``): the same state, output file,
run log, summary and ``--retry-errors`` as a live run, answers priced at the batch price.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import AsyncIterator, Callable, Mapping

from mmo.app.batch.job import BatchJob, BatchReport, JobCollection
from mmo.app.engine import open_engine
from mmo.app.provider_batch.answers import JobAnswers
from mmo.app.provider_batch.store import JobRecord, JobStore
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import ConfigError, ProviderError, ServerError
from mmo.core.protocols import Provider
from mmo.core.types import Completion
from mmo.providers.batch_api import BatchEndpoint, BatchRequestCancelled, BatchRequestExpired, ItemResult
from mmo.runtime.services import Services

_RESULTS_CHUNK = 1000


def job_runs(env: AppEnv) -> list[Path]:
    """Run directories holding provider batch jobs, newest first."""
    root = env.paths.data_dir / "batches"
    found = [path.parent for path in root.glob("*/jobs.sqlite3")] if root.is_dir() else []
    return sorted(found, key=lambda run: (run / "jobs.sqlite3").stat().st_mtime, reverse=True)


def find_run(env: AppEnv, run_id: str | None) -> Path:
    """The run named (an id or a unique prefix), else the newest with jobs."""
    runs = job_runs(env)
    if not runs:
        raise ConfigError("no provider batch jobs yet: submit some with `mmo batch IN.jsonl --provider-batch`")
    if run_id is None:
        return runs[0]
    matches = [run for run in runs if run.name == run_id] or [run for run in runs if run.name.startswith(run_id)]
    if len(matches) != 1:
        names = ", ".join(run.name for run in runs[:10])
        what = "no run" if not matches else "several runs"
        raise ConfigError(f"{what} with provider batch jobs match {run_id!r}; runs: {names}")
    return matches[0]


def job_of(invocation: Mapping[str, object]) -> BatchJob:
    """The ``mmo batch`` invocation that submitted the jobs, to run their rows as it would."""
    choice = ProfileChoice(_text(invocation.get("profile")), _text(invocation.get("model")), _text(invocation.get("replay_data")))
    params = invocation.get("params")
    cap = invocation.get("max_cost_usd")
    return BatchJob(
        input=str(invocation["input"]),
        output=_text(invocation.get("output")),
        settings=RunSettings(choice=choice, params=dict(params) if isinstance(params, dict) else {}),
        run_id=_text(invocation.get("run_id")),
        unordered=bool(invocation.get("unordered")),
        strict=bool(invocation.get("strict")),
        log_text=bool(invocation.get("log_text", True)),
        max_cost_usd=float(cap) if isinstance(cap, int | float) else None,
        allow_unknown_prices=bool(invocation.get("allow_unknown_prices")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@asynccontextmanager
async def _endpoints(store: JobStore, env: AppEnv) -> AsyncIterator[Callable[[str], BatchEndpoint]]:
    """Each provider's batch endpoint by name, through the submitting invocation's profile."""
    from mmo.providers.batch_api import batch_endpoint

    job = job_of(store.invocation())
    async with open_engine(job.settings, env, log_runs=False) as engine:
        def endpoint(name: str) -> BatchEndpoint:
            found: BatchEndpoint | None = batch_endpoint(engine.services.providers.get(name))
            if found is None:
                raise ConfigError(f"provider {name!r} of this run has no batch API any more: was the profile changed?")
            return found

        yield endpoint


async def refresh(store: JobStore, endpoint: Callable[[str], BatchEndpoint]) -> list[JobRecord]:
    """Every job, with the vendor's word on those not yet ended."""
    for record in store.jobs():
        if record.job_id is not None and not record.ended:
            store.update_job(record.label, await endpoint(record.provider).status(record.job_id))
    return store.jobs()


async def show_jobs(run_dir: Path, env: AppEnv) -> list[JobRecord]:
    with JobStore(run_dir) as store:
        async with _endpoints(store, env) as endpoint:
            return await refresh(store, endpoint)


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """How often to ask: ``first_s``, then each wait ``factor`` times longer up to ``max_s``; give up
    after ``timeout_s`` (``None``: wait as long as the jobs run, a day at most at the vendor)."""

    first_s: float = 30.0
    max_s: float = 300.0
    factor: float = 1.5
    timeout_s: float | None = None


async def wait_for_jobs(run_dir: Path, env: AppEnv, policy: WaitPolicy, on_progress: Callable[[list[JobRecord]], None]) -> list[JobRecord]:
    """Poll the run's jobs with back-off until every one ended (or the timeout); the last status."""
    started, delay = time.monotonic(), policy.first_s
    with JobStore(run_dir) as store:
        async with _endpoints(store, env) as endpoint:
            while True:
                jobs = await refresh(store, endpoint)
                on_progress(jobs)
                if all(job.ended or job.job_id is None for job in jobs):
                    return jobs
                if policy.timeout_s is not None and time.monotonic() - started + delay > policy.timeout_s:
                    return jobs
                await asyncio.sleep(delay)
                delay = min(policy.max_s, delay * policy.factor)


async def cancel_jobs(run_dir: Path, env: AppEnv) -> list[JobRecord]:
    """Ask the vendor to cancel every job not yet ended (requests already answered are kept, and
    collected like the others)."""
    with JobStore(run_dir) as store:
        async with _endpoints(store, env) as endpoint:
            for record in store.jobs():
                if record.job_id is not None and not record.ended:
                    store.update_job(record.label, await endpoint(record.provider).cancel(record.job_id))
            return store.jobs()


@dataclass(frozen=True, slots=True)
class CollectReport:
    jobs: tuple[JobRecord, ...]  # the jobs collected now
    pending: int  # jobs not yet ended
    batch: BatchReport | None  # the run of their rows (None: nothing to collect)


async def collect_jobs(run_dir: Path, env: AppEnv) -> CollectReport:
    """Read the ended jobs' results and run their rows with them; jobs still running are left."""
    with JobStore(run_dir) as store:
        async with _endpoints(store, env) as endpoint:
            jobs = await refresh(store, endpoint)
            ready = [job for job in jobs if job.ended and not job.collected and job.job_id is not None]
            discounts = {job.provider: endpoint(job.provider).discount for job in ready}
            for job in ready:
                await _read_results(store, job, endpoint(job.provider))
        pending = sum(1 for job in jobs if not job.ended)
        if not ready:
            return CollectReport((), pending, None)
        answers: dict[str, Completion | ProviderError] = {}
        rows: set[int] = set()
        for result in store.results_of(job.label for job in ready):
            rows.add(result.row_idx)
            answers[result.key] = result.completion if result.completion is not None else (result.error or ServerError("no result"))
        collecting = JobCollection(frozenset(rows), _wrapper(answers, discounts), run_dir.name)
        from mmo.app.batch.run import run_batch

        # Rows a job answered run even when an earlier try left them infra errors (their resend).
        rerun = replace(job_of(store.invocation()), retry_errors=True)
        report = await run_batch(rerun, env, collecting=collecting)
        if report.stop is None:
            for job in ready:
                store.mark_collected(job.label)
        return CollectReport(tuple(ready), pending, report)


def _wrapper(answers: Mapping[str, Completion | ProviderError], discounts: Mapping[str, float]) -> Callable[[Provider, Services], Provider]:
    def wrap(provider: Provider, services: Services) -> Provider:
        discount = discounts.get(provider.name)
        if discount is None:
            return provider  # a provider no collected job used: live, as it is
        return JobAnswers(provider, answers, services.catalog.cost, discount)

    return wrap


async def _read_results(store: JobStore, job: JobRecord, endpoint: BatchEndpoint) -> None:
    """The job's results into the store; each request left without one gets its job's end."""
    assert job.job_id is not None
    chunk: list[ItemResult] = []
    if job.state != "failed":
        async for result in endpoint.results(job.job_id, job.model):
            chunk.append(result)
            if len(chunk) >= _RESULTS_CHUNK:
                store.add_results(chunk)
                chunk = []
    store.add_results(chunk)
    store.add_results(ItemResult(custom_id, error=_unanswered(job)) for custom_id in store.unanswered(job.label))


def _unanswered(job: JobRecord) -> ProviderError:
    if job.state == "expired":
        return BatchRequestExpired(f"batch job {job.job_id} expired before this request ran", provider=job.provider, model=job.model)
    if job.state == "cancelled":
        return BatchRequestCancelled(f"batch job {job.job_id} was cancelled before this request ran", provider=job.provider, model=job.model)
    if job.state == "failed":
        message = f"batch job {job.job_id} failed as a whole: {job.message or 'no reason given'}"
        return ServerError(message, provider=job.provider, model=job.model, code="batch_failed")
    return ServerError(f"batch job {job.job_id} ended without a result for this request", provider=job.provider, model=job.model, code="batch_no_result")
