"""``mmo logs``: recent runs from the run log, and ``mmo logs show RUN`` for one in full.

Only typer is imported here at start-up; rich and the app layer load inside the commands.
"""

import json
import sys
from typing import TYPE_CHECKING, Any, Callable

import typer

if TYPE_CHECKING:
    from rich.console import JustifyMethod
    from rich.table import Table

    from mmo.app.logs import RunDetails, RunRecord

app = typer.Typer(
    help="Recent runs from the run log (filter by model, status, profile); `mmo logs show RUN` for one.\n\n"
    "Examples:\n\n  mmo logs -n 50 --status error\n\n  mmo logs show 3f2a9c1b",
    invoke_without_command=True,
)

PROMPT_PREVIEW_CHARS = 1000
# ``mmo logs --format csv``: a stable set (``--format jsonl`` has every field).
EXPORT_COLUMNS = ("run_id", "started_at", "command", "profile", "strategy", "model_id", "status", "error_class", "input_tokens",
                  "output_tokens", "cost_usd", "cost_source", "latency_ms", "cached", "conversation_id", "prompt", "answer")


def _guarded(action: Callable[[], Any]) -> None:
    from mmo.cli.errors import guarded

    guarded(False, action)


def _echo_json(value: Any) -> None:
    import json

    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@app.callback()
def logs(
    ctx: typer.Context,
    limit: int | None = typer.Option(None, "--limit", "-n", help="How many runs, newest first (default 20; exports: all)."),
    model: str | None = typer.Option(None, "--model", "-m", help="Only runs where this provider:model answered or was tried."),
    status: str | None = typer.Option(None, "--status", help="Only runs that ended so: ok, error or interrupted."),
    profile: str | None = typer.Option(None, "--profile", "-P", help="Only runs of this profile."),
    query: str | None = typer.Option(None, "--query", "-q", metavar="TEXT", help="Only runs whose prompt or answer holds this text (any case)."),
    since: str | None = typer.Option(None, "--since", metavar="WHEN", help="From this time: 2026-12-01, 7d, 24h, today, yesterday."),
    until: str | None = typer.Option(None, "--until", metavar="WHEN", help="Before this time (same forms as --since)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: one object per run."),
    fmt: str = typer.Option("table", "--format", metavar="table|jsonl|csv", help="jsonl or csv: export the matching runs, streamed."),
) -> None:
    """Recent runs: time, run id, profile, model, status, tokens, cost and latency.

    Examples:

      mmo logs -n 50 --status error

      mmo logs show 3f2a9c1b
    """
    if ctx.invoked_subcommand is not None:
        return
    from mmo.app.logs import LogQuery

    if fmt in ("jsonl", "csv"):
        wanted = LogQuery(limit, model, status, profile, query, since, until)
        _guarded(lambda: _export(wanted, fmt))
        return
    if fmt != "table":
        _guarded(lambda: _bad_format(fmt))
    listed = LogQuery(20 if limit is None else limit, model, status, profile, query, since, until)
    _guarded(lambda: _list(listed, json_out))


def _bad_format(fmt: str) -> None:
    from mmo.core.errors import ConfigError

    raise ConfigError(f"--format {fmt!r}: give table, jsonl or csv")


def _export(query: Any, fmt: str) -> None:
    from mmo.app.logs import exported_runs, run_to_dict
    from mmo.app.settings import AppEnv
    from mmo.cli.usage_render import safe_cell

    rows = (run_to_dict(run) for run in exported_runs(AppEnv.from_process(), query))
    if fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([safe_cell(value) if isinstance(value, str) else "" if value is None else value for value in (row.get(c) for c in EXPORT_COLUMNS)])


@app.command("stats")
def stats(
    by: str = typer.Option("day", "--by", help="Group by day (UTC), model, provider or profile."),
    since: str | None = typer.Option(None, "--since", metavar="WHEN", help="From this time: 2026-12-01, 2026-12-01T08:00, 7d, 24h, today, yesterday."),
    until: str | None = typer.Option(None, "--until", metavar="WHEN", help="Before this time (same forms as --since)."),
    profile: str | None = typer.Option(None, "--profile", "-P", help="Show this profile's daily budget: used today and left."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: one object per group, and the budget."),
    fmt: str = typer.Option("table", "--format", metavar="table|csv", help="csv: one row per group."),
) -> None:
    """Spend, calls, errors, tokens and p50/p95 latency by day, model, provider or profile, with a
    bar chart of spend; unknown prices are counted apart, never as $0.

    Examples:

      mmo logs stats --since 7d

      mmo logs stats --by model --since yesterday --until today

      mmo spend -P fast --json
    """
    _guarded(lambda: show_usage(by, since, until, profile, json_out, fmt))


def show_usage(by: str, since: str | None, until: str | None, profile: str | None, json_out: bool, fmt: str) -> None:
    """``mmo logs stats`` and ``mmo spend``."""
    from mmo.app.log_stats import usage_report
    from mmo.app.settings import AppEnv
    from mmo.cli.usage_render import budget_line, spend_bars, usage_csv, usage_json, usage_table
    from mmo.core.errors import ConfigError

    if fmt not in ("table", "csv"):
        raise ConfigError(f"--format {fmt!r}: give table or csv (or --json)")
    report = usage_report(AppEnv.from_process(), by=by, since=since, until=until, profile=profile)
    if json_out:
        _echo_json(usage_json(report))
        return
    if fmt == "csv":
        sys.stdout.write(usage_csv(report))
        return
    from mmo.cli.terminal import SafeConsole

    console = SafeConsole()
    if not report.groups:
        console.print("no calls logged in this window" if since or until else "no calls logged yet: `mmo ask` records every run")
    else:
        console.print(usage_table(report))
        console.print()
        for line in spend_bars(report):
            console.print(line, highlight=False, markup=False)
    budget = budget_line(report)
    if budget:
        console.print(budget, highlight=False, markup=False)


@app.command("show")
def show(
    run: str = typer.Argument(..., help="A run id or a unique prefix of one (as `mmo logs` shows)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: the run, its attempts and its trace."),
) -> None:
    """One run: its details, every model attempt, and the decision trace as a tree."""
    _guarded(lambda: _show(run, json_out))


def _list(query: Any, json_out: bool) -> None:
    from mmo.app.logs import recent_runs, run_to_dict
    from mmo.app.settings import AppEnv

    runs = recent_runs(AppEnv.from_process(), query)
    if json_out:
        _echo_json([run_to_dict(r) for r in runs])
        return
    from mmo.cli.terminal import SafeConsole

    console = SafeConsole()
    if not runs:
        console.print("no runs logged" + (" match these filters" if _filtered(query) else " yet: `mmo ask` records every run"))
        return
    if console.width < WIDE_ENOUGH:
        for line in runs_lines(runs):
            console.print(line, highlight=False, markup=False)
        return
    console.print(runs_table(runs))


WIDE_ENOUGH = 120  # below this, each run is two lines: its numbers, then its model and error


def runs_lines(runs: "list[RunRecord]") -> list[str]:
    """Each run in two lines that fit 80 columns: time, run, status, tokens, cost, latency; then,
    indented, the profile, the model that answered and the error, whole."""
    from mmo.cli.render import millis, money
    from mmo.core.types import Cost

    lines = []
    for run in runs:
        tokens = f"{run.input_tokens}/{run.output_tokens}"
        cost = money(Cost(run.cost_usd, run.cost_source or "unknown"))
        lines.append(f"{local_time(run.started_at, seconds=False)}  {run.run_id[:8]}  {run.status:<11} {tokens:>11} {cost:>10} "
                     f"{millis(run.latency_ms):>9}")
        detail = f"    {run.profile or '-'}  ·  {run.model_id or 'no model answered'}" + (f"  ·  {run.error_class}" if run.error_class else "")
        lines.append(detail)
    return lines


def _filtered(query: Any) -> bool:
    return any(v is not None for v in (query.model, query.status, query.profile, query.text, query.since, query.until))


def _show(run_id: str, json_out: bool) -> None:
    from mmo.app.logs import run_details
    from mmo.app.settings import AppEnv

    details = run_details(AppEnv.from_process(), run_id)
    if json_out:
        _echo_json(details.to_dict())
        return
    from mmo.cli.render import trace_tree
    from mmo.cli.terminal import SafeConsole

    console = SafeConsole()
    console.print(run_header(details), highlight=False)
    console.print()
    console.print(attempts_table(details))
    if details.trace is not None:
        console.print()
        console.print(trace_tree(details.trace))


def local_time(iso: str, *, seconds: bool = True) -> str:
    from datetime import datetime

    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _status(status: str, error_class: str | None) -> str:
    return "ok" if status == "ok" else f"{status}: {error_class}" if error_class else status


_MIN_WIDTHS = {"profile": 6, "model": 12, "status": 5}


def runs_table(runs: "list[RunRecord]") -> "Table":
    from rich.table import Table

    from mmo.cli.render import millis, money
    from mmo.core.types import Cost

    table = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
    for column in ("time", "run", "profile", "model", "status", "tokens", "cost", "latency"):
        wraps = column in {"profile", "model", "status"}
        justify: JustifyMethod = "right" if column in {"cost", "latency"} else "left"
        table.add_column(column, no_wrap=not wraps, overflow="fold", justify=justify, min_width=_MIN_WIDTHS.get(column))
    for run in runs:
        table.add_row(
            local_time(run.started_at, seconds=False),
            run.run_id[:8],
            run.profile or "-",
            run.model_id or "-",
            _status(run.status, run.error_class),
            f"{run.input_tokens}/{run.output_tokens}",
            money(Cost(run.cost_usd, run.cost_source or "unknown")),
            millis(run.latency_ms),
            style=None if run.status == "ok" else "red",
        )
    return table


def run_header(details: "RunDetails") -> Any:
    from rich.text import Text

    from mmo.cli.render import millis, money
    from mmo.core.shown import shown
    from mmo.core.types import Cost

    run = details.run
    rows = [
        ("run", run.run_id),
        ("time", f"{local_time(run.started_at)} ({run.started_at} UTC)"),
        ("command", run.command),
        ("profile", run.profile or "-"),
        ("strategy", run.strategy),
        ("status", _status(run.status, run.error_class)),
        ("answered by", run.model_id or "-"),
        ("tokens", f"{run.input_tokens} in / {run.output_tokens} out"),
        ("cost", f"{money(Cost(run.cost_usd, run.cost_source or 'unknown'))} ({run.cost_source or 'unknown'})"),
        ("latency", millis(run.latency_ms)),
    ]
    if run.batch_run_id is not None:
        where = f"line {run.batch_line} of batch run {run.batch_run_id}" if run.batch_line is not None else f"batch run {run.batch_run_id}"
        rows.append(("batch", where))
    if run.error_message:
        rows.append(("error", run.error_message))
    rows.append(("prompt", _preview(run.prompt)))
    rows.append(("answer", _answer(run)))
    text = Text()
    for name, value in rows:
        text.append(f"{name:>12}  ", style="bold")
        text.append(f"{shown(str(value))}\n")  # the log holds what servers and users sent
    text.rstrip()
    return text


def _answer(run: "RunRecord") -> str:
    if run.answer is not None:
        return run.answer
    if run.prompt is None:
        return "(not logged: --no-log)"
    if run.command == "batch-run":
        return "(in the batch's output file; each row is a run of its own in the log)"
    return "(none: the run was interrupted)" if run.status == "interrupted" else "(none: no model answered)"


def _preview(prompt: str | None) -> str:
    if prompt is None:
        return "(not logged: --no-log)"
    if len(prompt) <= PROMPT_PREVIEW_CHARS:
        return prompt
    return f"{prompt[:PROMPT_PREVIEW_CHARS]}… ({len(prompt) - PROMPT_PREVIEW_CHARS} more characters; --json has it all)"


def attempts_table(details: "RunDetails") -> "Table":
    from rich.table import Table

    from mmo.cli.render import millis, money
    from mmo.core.types import Cost

    table = Table(title="attempts", title_justify="left", title_style="bold", box=None, header_style="bold", pad_edge=False)
    for column in ("#", "node", "model", "result", "latency", "TTFT", "tokens", "cost", "cache"):
        wraps = column in {"node", "model", "result"}
        table.add_column(column, no_wrap=not wraps, overflow="fold", justify="right" if column in {"#", "latency", "TTFT", "cost"} else "left")
    for attempt in details.attempts:
        cost = Cost(attempt.cost_usd, attempt.cost_source or "unknown") if attempt.cost_source else None
        table.add_row(
            str(attempt.seq + 1),
            attempt.node_path or "/",
            attempt.model_id,
            "ok" if attempt.status == "ok" else (attempt.error_class or attempt.status),
            millis(attempt.latency_ms),
            millis(attempt.ttft_ms),
            f"{attempt.input_tokens}/{attempt.output_tokens}" if attempt.input_tokens or attempt.output_tokens else "-",
            money(cost),
            "hit" if attempt.cache_hit else "-",
        )
    if not details.attempts:
        table.add_row("-", "", "no model was called", "", "", "", "", "", "")
    return table


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="logs")
