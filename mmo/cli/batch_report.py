"""The end of a ``mmo batch`` run: the summary table, what happened to the rows, and the exit code."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmo.cli.formats import dollars, duration, millis, partial_dollars, plural

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mmo.app.batch.job import BatchReport

EXIT_ROW_ERRORS = 1


def exit_code_of(report: BatchReport) -> int:
    from mmo.app.batch.progress import ACCOUNT, BUDGET, COST_CAP, INTERRUPTED, STATE_SERVER
    from mmo.cli.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_CLOSED, exit_code

    if report.output_closed:
        return EXIT_OUTPUT_CLOSED
    stop = report.stop
    if stop is not None:
        if stop.reason == INTERRUPTED:
            return EXIT_INTERRUPTED
        if stop.reason in (COST_CAP, BUDGET):
            return EXIT_BUDGET
        if stop.reason in (ACCOUNT, STATE_SERVER) and stop.error is not None:
            return exit_code(stop.error)
    summary = report.summary
    return EXIT_ROW_ERRORS if summary.failed or summary.infra_errors or summary.malformed else EXIT_OK


def render_report(report: BatchReport, console: Console) -> None:
    from mmo.cli.terminal import warning_text

    for warning in report.warnings:
        console.print(warning_text(warning), highlight=False)
    console.print(summary_table(report))
    if report.shared is not None:
        console.print(workers_table(report))
    for line in [*error_lines(report), *outcome_lines(report)]:
        console.print(line, highlight=False, markup=False)


def summary_table(report: BatchReport) -> Table:
    from rich.table import Table

    summary = report.summary
    table = Table(title=f"batch run {report.run_id}  ·  profile {report.profile}", title_justify="left", title_style="bold",
                  box=None, header_style="bold", pad_edge=False)
    # The errors (often long: "RateLimited 3, Timeout 1") are lines under the table: at 80
    # columns a column for them was squeezed out.
    for column in ("model", "rows", "calls", "errors", "tokens in/out", "cost", "p50", "p95", "cache"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True, overflow="fold" if column == "model" else "ellipsis")
    for stats in summary.models:
        cost = partial_dollars(stats.cost_usd, stats.unknown_cost_calls, "call")
        table.add_row(stats.model_id, str(stats.rows), str(stats.calls), str(sum(stats.errors.values())), f"{stats.input_tokens}/{stats.output_tokens}",
                      cost, millis(stats.p50_ms), millis(stats.p95_ms), str(stats.cache_hits))
    total_cost = partial_dollars(summary.cost_usd, summary.unknown_cost_rows, "row")
    table.add_row("total", f"{summary.done}/{summary.total_rows}", "", str(sum(summary.errors.values())), f"{summary.input_tokens}/{summary.output_tokens}",
                  total_cost, millis(summary.p50_ms), millis(summary.p95_ms), str(summary.cache_hits), style="bold")
    table.caption = "rows: answers delivered (total: done / input rows) · errors: per call (models), per row (total); their kinds below"
    table.caption_justify = "left"
    return table


def workers_table(report: BatchReport) -> Table:
    """A shared run's workers: who, rows each recorded, its spend, when it was last heard from."""
    from rich.table import Table

    assert report.shared is not None
    table = Table(title=f"workers of shared run {report.run_id}", title_justify="left", title_style="bold", box=None, header_style="bold", pad_edge=False)
    for column in ("worker", "rows", "duplicates", "spent", "last heard"):
        table.add_column(column, justify="left" if column == "worker" else "right", overflow="fold")
    for worker in report.shared.workers:
        name = f"{worker.worker} (this one)" if worker.worker == report.shared.worker else worker.worker
        heard = "-" if worker.seen_ms_ago is None else f"{duration(worker.seen_ms_ago / 1000)} ago"
        table.add_row(name, str(worker.rows), str(worker.duplicates), dollars(worker.spent_usd), heard)
    return table


def error_lines(report: BatchReport) -> list[str]:
    """The kinds of errors, one line per model that had any, then the rows' final errors."""
    summary = report.summary
    lines = [f"errors of {stats.model_id}: {_errors(stats.errors)}" for stats in summary.models if stats.errors]
    if summary.errors:
        lines.append(f"rows ended by: {_errors(summary.errors)}")
    return lines


def report_json(report: BatchReport, exit_code: int) -> dict[str, Any]:
    """The summary as ``--json`` prints it."""
    summary = report.summary
    models = [
        {"model": s.model_id, "rows": s.rows, "calls": s.calls, "errors": dict(s.errors), "input_tokens": s.input_tokens,
         "output_tokens": s.output_tokens, "cost_usd": s.cost_usd, "unknown_cost_calls": s.unknown_cost_calls,
         "p50_ms": s.p50_ms, "p95_ms": s.p95_ms, "cache_hits": s.cache_hits}
        for s in summary.models
    ]
    return {
        "run_id": report.run_id, "profile": report.profile, "exit_code": exit_code,
        "output": str(report.output) if report.output is not None else None, "state": str(report.run_dir),
        "errors_report": str(report.errors_report) if report.errors_report is not None else None,
        "rows": {"total": summary.total_rows, "done": summary.done, "failed": summary.failed, "infra_errors": summary.infra_errors,
                 "malformed": summary.malformed, "pending": summary.pending},
        "errors": dict(summary.errors), "cost_usd": summary.cost_usd, "unknown_cost_rows": summary.unknown_cost_rows,
        "spent_usd": report.spent_usd, "max_cost_usd": report.max_cost_usd,
        "input_tokens": summary.input_tokens, "output_tokens": summary.output_tokens, "p50_ms": summary.p50_ms, "p95_ms": summary.p95_ms,
        "cache_hits": summary.cache_hits, "models": models, "stop": report.stop.reason if report.stop is not None else None,
        "warnings": list(report.warnings),
        **({} if report.shared is None else {"shared": _shared_json(report)}),
    }


def _shared_json(report: BatchReport) -> dict[str, Any]:
    shared = report.shared
    assert shared is not None
    workers = [
        {"worker": w.worker, **dict(w.who), "rows": w.rows, "duplicates": w.duplicates, "spent_usd": w.spent_usd, "seen_ms_ago": w.seen_ms_ago}
        for w in shared.workers
    ]
    return {"worker": shared.worker, "complete": shared.complete, "output_written": shared.complete, "workers": workers,
            "round_trips": shared.round_trips}


def _errors(errors: Any) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(errors.items(), key=lambda item: (-item[1], item[0]))) or "-"


def outcome_lines(report: BatchReport) -> list[str]:
    summary = report.summary
    parts = [f"{summary.done} done"]
    if summary.failed:
        parts.append(f"{summary.failed} failed")
    if summary.infra_errors:
        parts.append(f"{plural(summary.infra_errors, 'infra error')} (re-run them with --retry-errors)")
    if summary.malformed:
        parts.append(f"{plural(summary.malformed, 'malformed line')} (see {report.errors_report})")
    if summary.pending:
        parts.append(f"{summary.pending} pending")
    lines = [f"{plural(summary.total_rows, 'row')}: " + ", ".join(parts)]
    lines.append(_output_line(report))
    this_run = report.progress
    so_far = partial_dollars(report.spent_usd, summary.unknown_cost_rows, "row")
    lines.append(
        f"this invocation: {plural(this_run.finished_now, 'row')} in {duration(this_run.elapsed_s)}, "
        f"{partial_dollars(this_run.cost_usd, this_run.unknown_cost_rows, 'row')}"
        f"  ·  the run so far: {so_far}" + (f" of the {dollars(report.max_cost_usd)} cap" if report.max_cost_usd else "")
    )
    if this_run.cap_waits:
        lines.append(
            f"--max-cost held back {plural(this_run.cap_waits, 'call')} until calls in flight ended: each reserves its worst case "
            "(max_tokens) under the cap; a lower max_tokens or a higher cap runs more at once"
        )
    if report.stop is not None:
        lines.append(_stop_line(report))
    elif report.output_closed:
        lines.append(f"the output's reader closed it early: {_RESUME_OUTPUT}")
    return lines


def _output_line(report: BatchReport) -> str:
    where = report.output if report.output is not None else "standard output"
    if report.shared is None:
        return f"output: {where}  ·  state: {report.run_dir}"
    if report.shared.complete:
        return f"output: {where} (every row of the shared run)  ·  state: the state server"
    return (f"output: not written yet: {plural(report.summary.pending, 'row')} of the shared run are not finished; the worker that "
            f"finishes the run writes {where} (or run the same command again to help finish it)")


_RESUME_OUTPUT = "every finished row is kept in the state; run the same command to write them again (nothing is paid twice)."


def _stop_line(report: BatchReport) -> str:
    from mmo.app.batch.progress import BUDGET, COST_CAP, INTERRUPTED, OUTPUT_CLOSED

    stop, summary = report.stop, report.summary
    assert stop is not None
    got = f"{summary.finished} of {summary.total_rows - summary.malformed} rows finished, {summary.pending} not run"
    if stop.reason == COST_CAP:
        return f"stopped: {stop.message}. {got}; raise --max-cost and run the same command to continue."
    if stop.reason == BUDGET:
        return f"stopped: {stop.message}. {got}; run the same command when the budget allows."
    if stop.reason == INTERRUPTED:
        return f"interrupted: {got}; run the same command to resume."
    if stop.reason == OUTPUT_CLOSED:
        return f"stopped: the output's reader closed it, so no new row started. {got}; {_RESUME_OUTPUT}"
    return f"stopped: {stop.message}. {got}; fix it and run the same command to resume."
