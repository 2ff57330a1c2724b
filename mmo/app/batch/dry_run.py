"""``mmo batch --dry-run``: the estimate of every row of the input (``estimate``), with the same
engine, tree and caps a run would use; nothing is called or recorded."""

from __future__ import annotations

from typing import IO, Mapping

from mmo.app.batch.estimate import BatchEstimate, BatchTotals, estimate_rows
from mmo.app.batch.input import InputRow
from mmo.app.batch.job import BatchJob
from mmo.app.batch.source import opened_input, unfinished
from mmo.app.engine import open_engine
from mmo.app.model_nodes import model_check
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv
from mmo.core.protocols import Provider, leaf_targets
from mmo.runtime.estimator import TreeEstimator
from mmo.runtime.spend import Budgets, RunCap


async def dry_run(job: BatchJob, env: AppEnv, *, stdin: IO[bytes] | None = None, providers: Mapping[str, Provider] | None = None) -> BatchEstimate:
    job.check()
    spool_dir = env.paths.data_dir / "batches"
    resolved = resolve_profile(job.settings.choice, env)
    models = model_check(resolved.profile, providers)
    with opened_input(job.input, env.cwd, spool_dir, stdin, job.settings.params, strict=job.strict, models=models) as (source, parser):
        async with open_engine(job.settings, env, resolved=resolved, providers=providers, log_runs=False) as engine:
            budget = engine.resolved.profile.budget
            run_cap = RunCap(job.max_cost_usd, 0.0, job.allow_unknown_prices) if job.max_cost_usd is not None else None
            totals = BatchTotals(Budgets(per_request_usd=budget.per_request_usd), run_cap)
            rows = (item for item in unfinished(source.path, parser, iter(())) if isinstance(item, InputRow))
            order = list(dict.fromkeys(target.id for target in leaf_targets(engine.root)))
            return estimate_rows(engine, rows, TreeEstimator(engine.services), totals, order)
