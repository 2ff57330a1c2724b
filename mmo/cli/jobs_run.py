"""``mmo batch --provider-batch`` and ``mmo jobs ...`` at work: run the use cases of
``mmo.app.provider_batch`` and render what they report (tables and progress on standard error,
``--json`` on standard output)."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Sequence

import typer

from mmo.cli.errors import EXIT_OK, EXIT_PENDING
from mmo.cli.terminal import SafeConsole

if TYPE_CHECKING:
    from mmo.app.batch.job import BatchJob
    from mmo.app.provider_batch.store import JobRecord
    from mmo.app.provider_batch.submit import SubmitReport


def submit_command(job: BatchJob, *, dry_run: bool, wait: bool, json_out: bool) -> None:
    from mmo.app.provider_batch.submit import submit_provider_batch
    from mmo.app.settings import AppEnv

    report = asyncio.run(submit_provider_batch(job, AppEnv.from_process(), dry_run=dry_run))
    if json_out and not wait:
        sys.stdout.write(json.dumps(_submit_json(report), indent=2) + "\n")
    else:
        _render_submit(report, SafeConsole(stderr=True))
    if wait and not dry_run and report.jobs:
        wait_command(report.run_id, collect=True, poll_s=30.0, timeout_s=None, json_summary=json_out)


def _submit_json(report: SubmitReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "dry_run": report.dry_run,
        "rows": report.rows,
        "jobs": [{"label": label, "job_id": job_id, "model": model, "requests": n} for label, job_id, model, n in report.jobs],
        "expected_cost_usd": {"live": report.live_usd, "batch": report.batch_usd},
        "worst_batch_cost_usd": report.worst_batch_usd,
        "rows_left_by_max_cost": report.left_for_cap,
        "notices": list(report.notices),
    }


def _render_submit(report: SubmitReport, console: SafeConsole) -> None:
    from rich.table import Table

    for notice in report.notices:
        console.print(notice, style="dim", highlight=False, markup=False)
    if not report.jobs:
        console.print(f"run {report.run_id}: no rows to send", highlight=False, markup=False)
        return
    table = Table(box=None, title=None)
    for column in ("job", "id", "model", "requests"):
        table.add_column(column, justify="right" if column == "requests" else "left", overflow="fold")
    for label, job_id, model, count in report.jobs:
        table.add_row(label, job_id, model, f"{count:,}")
    console.print(table)
    verb = "would send" if report.dry_run else "sent"
    console.print(
        f"run {report.run_id}: {verb} {report.rows:,} rows in {len(report.jobs)} job(s); expected "
        f"${report.batch_usd:.4f} at the batch price (live: ${report.live_usd:.4f}); worst ${report.worst_batch_usd:.4f}",
        highlight=False, markup=False,
    )
    if not report.dry_run:
        console.print(f"next: `mmo jobs wait {report.run_id} --collect` (or `mmo jobs show`, later `mmo jobs collect`)", style="dim", highlight=False, markup=False)


def list_command(json_out: bool) -> None:
    from mmo.app.provider_batch.collect import job_runs
    from mmo.app.provider_batch.store import JobStore
    from mmo.app.settings import AppEnv

    runs: list[dict[str, Any]] = []
    for run_dir in job_runs(AppEnv.from_process()):
        with JobStore(run_dir) as store:
            jobs = store.jobs()
        states = _count_states(jobs)
        runs.append({"run_id": run_dir.name, "jobs": len(jobs), "requests": sum(j.total for j in jobs), "states": states})
    if json_out:
        sys.stdout.write(json.dumps(runs, indent=2) + "\n")
        return
    console = SafeConsole()
    if not runs:
        console.print("no provider batch jobs yet (`mmo batch IN.jsonl --provider-batch`)", highlight=False, markup=False)
    for run in runs:
        shown = ", ".join(f"{n} {state}" for state, n in run["states"].items())
        console.print(f"{run['run_id']}  {run['jobs']} job(s), {run['requests']:,} requests: {shown}", highlight=False, markup=False)


def _count_states(jobs: Sequence[JobRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for job in jobs:
        state = "collected" if job.collected else job.state
        counts[state] = counts.get(state, 0) + 1
    return counts


def show_command(run: str | None, json_out: bool) -> None:
    from mmo.app.provider_batch.collect import find_run, show_jobs
    from mmo.app.settings import AppEnv

    env = AppEnv.from_process()
    run_dir = find_run(env, run)
    jobs = asyncio.run(show_jobs(run_dir, env))
    if json_out:
        sys.stdout.write(json.dumps({"run_id": run_dir.name, "jobs": [_job_json(job) for job in jobs]}, indent=2) + "\n")
        return
    SafeConsole().print(jobs_table(run_dir.name, jobs))


def _job_json(job: JobRecord) -> dict[str, Any]:
    return {"label": job.label, "job_id": job.job_id, "model": f"{job.provider}:{job.model}", "state": job.state, "vendor_state": job.raw_state,
            "requests": job.total, "succeeded": job.succeeded, "failed": job.failed, "message": job.message, "collected": job.collected}


def jobs_table(run_id: str, jobs: Sequence[JobRecord]) -> Any:
    from rich.table import Table

    table = Table(box=None, title=f"run {run_id}", title_justify="left")
    for column in ("job", "model", "state", "requests", "done", "failed"):
        table.add_column(column, justify="right" if column in ("requests", "done", "failed") else "left", overflow="fold")
    for job in jobs:
        state = f"{job.state} (collected)" if job.collected else job.state
        if job.message:
            state += f": {job.message}"
        table.add_row(f"{job.label}\n{job.job_id or '(not created)'}", f"{job.provider}:{job.model}", state, f"{job.total:,}", _count(job.succeeded), _count(job.failed))
    return table


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def wait_command(run: str | None, *, collect: bool, poll_s: float, timeout_s: float | None, json_summary: bool = False) -> None:
    from mmo.app.provider_batch.collect import WaitPolicy, find_run, wait_for_jobs
    from mmo.app.settings import AppEnv

    env = AppEnv.from_process()
    run_dir = find_run(env, run)
    err = SafeConsole(stderr=True)
    started = time.monotonic()

    def progress(jobs: list[JobRecord]) -> None:
        ended = sum(1 for job in jobs if job.ended)
        done = sum(job.succeeded or 0 for job in jobs)
        total = sum(job.total for job in jobs)
        err.print(f"{time.monotonic() - started:6.0f} s  {ended}/{len(jobs)} jobs ended, {done:,}/{total:,} requests answered so far",
                  highlight=False, markup=False)

    policy = WaitPolicy(first_s=poll_s, max_s=max(poll_s, 300.0), timeout_s=timeout_s)
    jobs = asyncio.run(wait_for_jobs(run_dir, env, policy, progress))
    if not all(job.ended or job.job_id is None for job in jobs):
        err.print(f"jobs still running; `mmo jobs wait {run_dir.name}` again later", highlight=False, markup=False)
        raise typer.Exit(EXIT_PENDING)
    if collect:
        collect_command(run_dir.name, json_summary)
    raise typer.Exit(EXIT_OK)


def collect_command(run: str | None, json_summary: bool) -> None:
    from mmo.app.provider_batch.collect import collect_jobs, find_run
    from mmo.app.settings import AppEnv
    from mmo.cli.batch_report import exit_code_of, render_report, report_json

    env = AppEnv.from_process()
    run_dir = find_run(env, run)
    report = asyncio.run(collect_jobs(run_dir, env))
    err = SafeConsole(stderr=True)
    if report.batch is None:
        err.print(f"run {run_dir.name}: no ended job to collect ({report.pending} still running)", highlight=False, markup=False)
        raise typer.Exit(EXIT_PENDING if report.pending else EXIT_OK)
    if json_summary:
        shown = report_json(report.batch, exit_code_of(report.batch)) | {"jobs_collected": len(report.jobs), "jobs_running": report.pending}
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    else:
        render_report(report.batch, err)
        if report.pending:
            err.print(f"{report.pending} job(s) still running: collect again when they end", style="dim", highlight=False, markup=False)
    raise typer.Exit(exit_code_of(report.batch))


def cancel_command(run: str | None) -> None:
    from mmo.app.provider_batch.collect import cancel_jobs, find_run
    from mmo.app.settings import AppEnv

    env = AppEnv.from_process()
    run_dir = find_run(env, run)
    jobs = asyncio.run(cancel_jobs(run_dir, env))
    SafeConsole().print(jobs_table(run_dir.name, jobs))
