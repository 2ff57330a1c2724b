"""``mmo batch IN.jsonl --provider-batch``: the rows' first calls as provider batch jobs.

The run is the same run a live ``mmo batch`` of that input and profile would be (same run id,
same state): rows already finished are not sent, rows a job not yet collected holds are not sent
twice. Each row's first call (``first_call``) is grouped by provider and model, and split into
jobs under the vendor's limits (``BatchEndpoint.max_requests`` / ``max_bytes``). Every job is
recorded before it is created and its id as soon as it exists (``store``); then the command
returns: the jobs run on the vendor's side for up to a day, and ``mmo jobs wait`` / ``mmo jobs
collect`` take it from there, in this terminal or another.

Cost: each row's first call is estimated as ``--dry-run`` estimates it, at the live price and at
the batch price (``BatchEndpoint.discount``). ``--max-cost`` holds at the batch price: rows are
sent while the run's spend so far plus their worst case fits under it; the rest stay pending,
said in a notice (a later ``--provider-batch`` or live run takes them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from mmo.app.batch.input import InputRow
from mmo.app.batch.job import BatchJob
from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR
from mmo.app.batch.run import choose_batch_run, opened_state
from mmo.app.batch.source import opened_input, unfinished
from mmo.app.engine import Engine, open_engine
from mmo.app.model_nodes import model_check
from mmo.app.profile_choice import resolve_profile
from mmo.app.provider_batch.first_call import FirstCall, NotSubmittable, first_call
from mmo.app.provider_batch.store import JobStore
from mmo.app.settings import AppEnv
from mmo.core.errors import ConfigError, ProviderError
from mmo.providers.batch_api import BatchEndpoint, BatchItem
from mmo.runtime.cache import cache_key
from mmo.runtime.estimator import TreeEstimator


@dataclass(slots=True)
class PlannedJob:
    label: str
    number: int
    provider: str
    model: str
    endpoint: BatchEndpoint
    rows: list[tuple[int, BatchItem, str]] = field(default_factory=list)  # (row, item, key)
    size: int = 0

    @property
    def model_id(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class SubmitReport:
    run_id: str
    jobs: tuple[tuple[str, str, str, int], ...]  # (label, job id, model, requests)
    rows: int
    live_usd: float  # the submitted rows' first calls, expected, at the live price
    batch_usd: float  # the same at the batch price
    worst_batch_usd: float
    left_for_cap: int  # rows not sent: --max-cost
    dry_run: bool
    notices: tuple[str, ...] = ()


async def submit_provider_batch(job: BatchJob, env: AppEnv, *, dry_run: bool = False) -> SubmitReport:
    """Plan the jobs of ``job``'s unfinished rows and (unless ``dry_run``) create them."""
    job.check()
    if job.input == "-":
        raise ConfigError(_FILE_NEEDED)
    resolved = resolve_profile(job.settings.choice, env)
    models = model_check(resolved.profile)
    with opened_input(job.input, env.cwd, env.paths.data_dir / "batches", None, job.settings.params, strict=job.strict, models=models) as (source, parser):
        if source.user_path is None:
            raise ConfigError(_FILE_NEEDED)
        chosen = choose_batch_run(job, env, source, resolved)
        identity = chosen.identity
        with opened_state(identity) as state, JobStore(identity.directory) as store:
            skip = (DONE, FAILED) if job.retry_errors else (DONE, FAILED, INFRA_ERROR)
            async with open_engine(job.settings, env, resolved=resolved, log_runs=False) as engine:
                recovered = [] if dry_run else await _recover_unrecorded(store, engine)  # a dry run changes nothing
                held = store.rows_in_open_jobs()
                rows = (row for row in unfinished(source.path, parser, state.finished_indices(skip)) if isinstance(row, InputRow) and row.index not in held)
                planner = _Planner(engine, store.next_label_number(), identity.run_id)
                cap_room = None if job.max_cost_usd is None else job.max_cost_usd - state.spent_usd()
                planned, left = planner.plan(rows, cap_room)
                if not dry_run:
                    store.save_invocation(_invocation(job, source.user_path))
                    jobs = [await _create(store, plan) for plan in planned]
                else:
                    jobs = [(plan.label, "(dry run)", plan.model_id, len(plan.rows)) for plan in planned]
            notices = (*recovered, *_notices(held, left, job.max_cost_usd))
            return SubmitReport(identity.run_id, tuple(jobs), sum(len(p.rows) for p in planned), planner.live_usd, planner.batch_usd,
                                planner.worst_batch_usd, left, dry_run, notices)


_FILE_NEEDED = "--provider-batch reads its input again when the jobs are collected: give a file, not standard input"


def plan_label(run_id: str, number: int) -> str:
    """A job's label: the run and the job's number (``BatchEndpoint.find`` looks jobs up by it)."""
    return f"mmo-{run_id[:48]}-{number}"


class _Planner:
    """Rows into jobs: each row's first call, by provider and model, split at the vendor's limits."""

    def __init__(self, engine: Engine, first_number: int, run_id: str) -> None:
        self.engine, self.first_number, self.run_id = engine, first_number, run_id
        self.estimator = TreeEstimator(engine.services)
        self.live_usd = self.batch_usd = self.worst_batch_usd = 0.0
        self._open: dict[tuple[str, str], PlannedJob] = {}
        self._done: list[PlannedJob] = []
        self._endpoints: dict[str, BatchEndpoint] = {}

    def plan(self, rows: Iterable[InputRow], cap_room: float | None) -> tuple[list[PlannedJob], int]:
        left = 0
        for row in rows:
            node = self.engine.root if row.model is None else self.engine.model_node(row.model)
            call = first_call(node, row.request, self.engine.services)
            endpoint = self._endpoint(call.target.ref.provider)
            expected, worst = self._estimate(call)
            if cap_room is not None and self.worst_batch_usd + worst * endpoint.discount > cap_room:
                left += 1
                continue
            self.live_usd += expected
            self.batch_usd += expected * endpoint.discount
            self.worst_batch_usd += worst * endpoint.discount
            self._add(row, call, endpoint)
        return [*self._done, *self._open.values()], left

    def _estimate(self, call: FirstCall) -> tuple[float, float]:
        cost = self.estimator.call(call.target, call.request)
        return cost.expected.usd, cost.worst.usd

    def _endpoint(self, provider_name: str) -> BatchEndpoint:
        from mmo.providers.batch_api import batch_endpoint

        if provider_name not in self._endpoints:
            provider = self.engine.services.providers.get(provider_name)
            endpoint = batch_endpoint(provider)
            if endpoint is None:
                raise NotSubmittable(f"provider {provider_name!r} has no batch API (OpenAI, Anthropic and Gemini have): run it live, without --provider-batch")
            self._endpoints[provider_name] = endpoint
        return self._endpoints[provider_name]

    def _add(self, row: InputRow, call: FirstCall, endpoint: BatchEndpoint) -> None:
        ref = call.target.ref
        group = (ref.provider, ref.name)
        plan = self._open.get(group) or self._new_job(group, endpoint)
        item = BatchItem(f"j{plan.number}-r{row.index}", call.request)
        size = endpoint.request_bytes(item, ref.name)
        if plan.rows and (len(plan.rows) >= endpoint.max_requests or plan.size + size > endpoint.max_bytes):
            self._done.append(self._open.pop(group))  # full: the next job of this model
            plan = self._new_job(group, endpoint)
            item = BatchItem(f"j{plan.number}-r{row.index}", call.request)
        key = cache_key(self.engine.services.providers.get(ref.provider).identity(), ref.name, call.request)
        plan.rows.append((row.index, item, key))
        plan.size += size

    def _new_job(self, group: tuple[str, str], endpoint: BatchEndpoint) -> PlannedJob:
        number = self.first_number + len(self._done) + len(self._open)
        plan = self._open[group] = PlannedJob(plan_label(self.run_id, number), number, group[0], group[1], endpoint)
        return plan


async def _create(store: JobStore, plan: PlannedJob) -> tuple[str, str, str, int]:
    """One job: recorded, created, its id recorded. A creation that failed is looked up by its
    label before it is given up (the vendor may have created it before the connection broke)."""
    label = plan.label
    store.add_job(label, plan.provider, plan.model, ((item.custom_id, row, key) for row, item, key in plan.rows))
    try:
        remote = await plan.endpoint.submit([item for _, item, _ in plan.rows], plan.model, label=label)
    except ProviderError:
        found = await _found(plan.endpoint, label)
        if found is None:
            store.drop_unsent(label)
            raise
        remote = found
    store.update_job(label, remote)
    return label, remote.job_id, plan.model_id, len(plan.rows)


async def _recover_unrecorded(store: JobStore, engine: Engine) -> list[str]:
    """Jobs recorded without a vendor id (the process ended between creating one and recording
    its id): found again by label and recorded, or, when the vendor has no job of that label,
    dropped so their rows are sent again. Only a submitting invocation does this: it holds the
    run, so no other process is creating a job of it at the same time."""
    from mmo.providers.batch_api import batch_endpoint

    said = []
    for record in store.jobs():
        if record.job_id is not None:
            continue
        endpoint = batch_endpoint(engine.services.providers.get(record.provider))
        found = await _found(endpoint, record.label) if endpoint is not None else None
        if found is not None:
            store.update_job(record.label, found)
            said.append(f"job {record.label} was created before the last submit stopped: found it again ({found.job_id})")
        else:
            store.drop_unsent(record.label)
            said.append(f"job {record.label} was never created (the last submit stopped first): its {record.total} rows are sent again")
    return said


async def _found(endpoint: BatchEndpoint, label: str) -> Any:
    try:
        jobs = await endpoint.find(label)
    except ProviderError:
        return None
    return jobs[0] if jobs else None


def _invocation(job: BatchJob, input_path: Any) -> dict[str, Any]:
    """What collecting needs to run the rows again as this command would."""
    choice = job.settings.choice
    return {
        "input": str(input_path),
        "output": job.output,
        "profile": choice.profile,
        "model": choice.model,
        "replay_data": choice.replay_data,
        "params": dict(job.settings.params),
        "run_id": job.run_id,
        "unordered": job.unordered,
        "strict": job.strict,
        "log_text": job.log_text,
        "max_cost_usd": job.max_cost_usd,
        "allow_unknown_prices": job.allow_unknown_prices,
    }


def _notices(held: set[int], left: int, cap: float | None) -> Iterator[str]:
    if held:
        yield f"{len(held)} rows are in jobs not yet collected: not sent again (`mmo jobs collect` takes their answers)"
    if left:
        yield f"{left} rows not sent: their worst case at the batch price would pass --max-cost ${cap}"
