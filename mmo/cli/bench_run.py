"""``mmo bench`` at work: the dry run's estimates, or the bench run with Ctrl-C wired to it (as
``mmo batch``: rows in flight may finish, the stored answers are scored, ``--resume`` goes on),
then the report: tables and a scatter plot on standard error, or JSON / CSV on standard output;
an HTML file with ``--report``; the comparison with ``--compare``.

Exit codes: 0 done; 1 a significant regression against ``--compare``'s run, or tasks that
failed; 4 the cost cap or a budget stopped the bench; 130 / 143 / 129 interrupted.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from mmo.app.batch.control import BatchControl
    from mmo.app.bench.bench import BenchOutcome, BenchRequest
    from mmo.app.bench.results import BenchDir, Target
    from mmo.app.settings import AppEnv


@dataclass(frozen=True, slots=True)
class BenchView:
    report_html: str | None = None
    json_out: bool = False
    csv_out: bool = False
    compare: str | None = None
    alpha: float = 0.05


def run_bench_command(request: BenchRequest | None, view: BenchView, *, dry_run: bool = False, from_run: str | None = None) -> None:
    from mmo.app.settings import AppEnv
    from mmo.cli.terminal import SafeConsole

    err = SafeConsole(stderr=True)
    env = AppEnv.from_process()
    if dry_run and request is not None:
        _show_estimates(request, env, err)
        return
    from mmo.app.bench.store import find_bench

    # Found before the run, so that --compare latest means the run before this one.
    previous = find_bench(view.compare, env.paths, env.cwd) if view.compare is not None else None
    if from_run is not None:
        bench, code = find_bench(from_run, env.paths, env.cwd), 0
    else:
        assert request is not None
        bench, code = _run(request, env, err)
    regression = _report(bench, previous, view, env, err)
    raise typer.Exit(1 if regression and code == 0 else code)


def _run(request: BenchRequest, env: AppEnv, err: Console) -> tuple[BenchDir, int]:
    from mmo.app.bench.bench import run_bench
    from mmo.cli.batch_progress import ProgressObserver
    from mmo.cli.batch_run import run_with_signals

    observers: list[ProgressObserver] = []

    def observer_for(target: Target) -> ProgressObserver:
        for finished in observers:  # the previous target's bar ends where the next one starts
            finished.close()
        observers.clear()
        observers.append(ProgressObserver(err, label=target.label))
        return observers[0]

    async def work(control: BatchControl) -> BenchOutcome:
        try:
            return await run_bench(request, env, observer_for=observer_for, control=control)
        finally:
            for finished in observers:
                finished.close()

    outcome, signum = asyncio.run(run_with_signals(work, lambda message: err.print(message, highlight=False, markup=False)))
    return outcome.bench, _outcome_code(outcome, signum, err)


def _outcome_code(outcome: BenchOutcome, signum: int | None, err: Console) -> int:
    """What the run's end means for the exit code, said on standard error when it is not 0."""
    from mmo.app.batch.progress import BUDGET, COST_CAP, INTERRUPTED
    from mmo.cli.errors import EXIT_BUDGET, EXIT_INTERRUPTED, exit_code

    stop = outcome.stop
    if stop is None and not outcome.pending:
        return 0
    left = ", ".join(t.label for t in outcome.not_run)
    resume = f"`mmo bench {outcome.info.tasks_path} ... --resume {outcome.info.bench_id}` goes on"
    if stop is not None:
        err.print(f"bench stopped: {stop.message}" + (f"; not run: {left}" if left else "") + f"; {resume}", highlight=False, markup=False)
        if stop.reason == INTERRUPTED:
            return 128 + signum if signum is not None else EXIT_INTERRUPTED
        if stop.reason in (COST_CAP, BUDGET):
            return EXIT_BUDGET
        return exit_code(stop.error) if stop.error is not None else 1  # a missing or refused key: 3
    err.print(f"{outcome.pending} task answer(s) still pending (failed for infrastructure reasons); {resume}", highlight=False, markup=False)
    return 1


def _report(bench: BenchDir, previous_run: BenchDir | None, view: BenchView, env: AppEnv, err: Console) -> bool:
    """Render the stored run (and its comparison with ``--compare``'s run); returns whether the
    comparison found a significant regression."""
    import json

    from mmo.app.bench.compare import compare
    from mmo.app.bench.report import summarize, summary_csv, summary_json
    from mmo.app.bench.stored import load_run

    current = load_run(bench.root)
    summary = summarize(current.results, current.tasks, title=bench.root.name)
    comparison = None
    if previous_run is not None:
        comparison = compare(load_run(previous_run.root), current, level=view.alpha)
    if view.json_out:
        document = summary_json(summary)
        if comparison is not None:
            from mmo.app.bench.compare import comparison_json

            document = {**document, "comparison": comparison_json(comparison)}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif view.csv_out:
        sys.stdout.write(summary_csv(summary))
    else:
        from mmo.cli.bench_render import render_comparison, render_summary

        render_summary(err, summary)
        if comparison is not None:
            render_comparison(err, comparison)
    if view.report_html is not None:
        from mmo.app.bench.html_report import write_html

        written = write_html(env.cwd / view.report_html, summary, comparison)
        err.print(f"report: {written}", highlight=False, markup=False)
    return comparison is not None and comparison.regressed


def _show_estimates(request: BenchRequest, env: AppEnv, err: Console) -> None:
    """Each target's estimate as ``mmo batch --dry-run`` shows it, then one line per target and
    the bench's total: what a ``--max-cost`` for the whole bench must cover."""
    from rich.table import Table
    from rich.text import Text

    from mmo.app.bench.bench import dry_run_bench
    from mmo.cli.batch_estimate import estimate_table
    from mmo.cli.formats import dollars

    estimates = asyncio.run(dry_run_bench(request, env))
    for target, estimate in estimates:
        err.print(Text(target.label, style="bold"))
        err.print(estimate_table(estimate))
    table = Table(title="bench estimate: nothing called", title_justify="left", box=None)
    for column in ("target", "expected", "worst"):
        table.add_column(column, justify="left" if column == "target" else "right", overflow="fold")
    for target, estimate in estimates:
        unknown = " + ?" if estimate.unknown_price_rows else ""
        table.add_row(Text(target.label), dollars(estimate.cost_usd.expected) + unknown, dollars(estimate.cost_usd.worst) + unknown)
    any_unknown = " + ?" if any(e.unknown_price_rows for _, e in estimates) else ""
    expected = sum(e.cost_usd.expected for _, e in estimates)
    worst = sum(e.cost_usd.worst for _, e in estimates)
    table.add_row(Text("total", style="bold"), dollars(expected) + any_unknown, dollars(worst) + any_unknown)
    err.print(table)
    if any_unknown:
        err.print("+ ?: some calls go to models with no known price; the sums leave them out", highlight=False, markup=False)
