"""``mmo bench``: the command's options; ``mmo.cli.bench_run`` runs it and renders the report,
loaded only when the command runs (``mmo --help`` imports this module, so it stays small)."""

from typing import Annotated

import typer

from mmo.cli.options import DebugOption, NoCacheOption, ParamOption, ProfileOption, RefreshOption, ReplayDataOption, positive_amount, run_settings


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


def bench(
    tasks: Annotated[
        str | None,
        typer.Argument(metavar="TASKS", help="Task set: JSONL, YAML or CSV file, or builtin:NAME (e.g. builtin:mmlu_pro_sample). Not with --from."),
    ] = None,
    models: Annotated[str | None, typer.Option("--models", metavar="A,B,...", help="Models to bench (provider:model or aliases of -P's profile).")] = None,
    profiles: Annotated[str | None, typer.Option("--profiles", metavar="P1,P2,...", help="Profiles to bench, each with its own strategy.")] = None,
    profile: ProfileOption = None,
    param: ParamOption = [],
    replay_data: ReplayDataOption = None,
    check: Annotated[
        str | None, typer.Option("--check", metavar="KIND|JSON", help="Default check for tasks without one: choice, number, exact, ... or a JSON object.")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, metavar="N", help="Tasks in flight at once, per target.")] = 16,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", metavar="USD", parser=positive_amount, help="Hard cap on the whole bench's spend (every target together)."),
    ] = None,
    allow_unknown_prices: Annotated[
        bool, typer.Option("--allow-unknown-prices", help="With --max-cost, run models with no known price (counted as $0 up front).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show expected and worst-case cost per model and profile; call nothing.")] = False,
    resume: Annotated[str | None, typer.Option("--resume", metavar="ID", help="Continue a bench run (its id, 'latest' or its directory).")] = None,
    from_run: Annotated[
        str | None, typer.Option("--from", metavar="ID", help="Report a stored bench run (id, 'latest', directory or results file); no calls.")
    ] = None,
    output_dir: Annotated[str | None, typer.Option("--output", "-o", metavar="DIR", help="Keep the run in DIR instead of the data dir.")] = None,
    report: Annotated[str | None, typer.Option("--report", metavar="FILE.html", help="Also write a self-contained HTML report to share.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON instead of tables.")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="Print one CSV row per target instead of tables.")] = False,
    compare: Annotated[
        str | None, typer.Option("--compare", metavar="PREVIOUS", help="List tasks that flipped since PREVIOUS; exit 1 on a significant regression.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", metavar="P", min=0.0001, max=0.5, help="Significance level of --compare (McNemar).")] = 0.05,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep the tasks' prompt and answer text out of the run log.")] = False,
    debug: DebugOption = False,
) -> None:
    """Measure models and profiles on your own tasks: accuracy with its interval, cost, cost per
    correct answer, latency, the cost/accuracy frontier. Every answer and verdict is stored, so
    reports, --compare and `mmo tune` need no new calls.

    Examples:

      mmo bench builtin:mmlu_pro_sample -P demo --models flash,pro,gpt4o --profiles cascade-agree

      mmo bench tasks.jsonl --models openai:gpt-4o-mini,anthropic:claude-haiku-4-5 --dry-run

      mmo bench tasks.jsonl --models openai:gpt-4o-mini --compare latest   (exit 1 on a regression)

    Exit codes: 0 done (no significant regression); 1 --compare found a significant regression, or
    some tasks failed; 2 usage or configuration error; 3 missing key; 4 the cost cap or a budget
    stopped the bench (--resume continues it); 130 Ctrl-C.
    """
    from mmo.cli.errors import guarded

    def action() -> None:
        from mmo.app.bench.bench import BenchRequest
        from mmo.cli.bench_run import BenchView, run_bench_command
        from mmo.core.errors import ConfigError

        settings = run_settings(profile, None, param, no_cache=no_cache, refresh=refresh, fail_fast=False, simulate_outage=[], replay_data=replay_data)
        view = BenchView(report_html=report, json_out=json_out, csv_out=csv_out, compare=compare, alpha=alpha)
        if from_run is not None:
            if tasks is not None or models or profiles or dry_run or resume:
                raise ConfigError("--from reports a stored run: give no TASKS, --models, --profiles, --dry-run or --resume with it")
            run_bench_command(None, view, from_run=from_run)
            return
        if tasks is None:
            raise ConfigError("give TASKS (a task-set file or builtin:NAME), or --from ID to report a stored run")
        request = BenchRequest(
            tasks=tasks,
            models=_names(models),
            profiles=_names(profiles),
            settings=settings,
            concurrency=concurrency,
            max_cost_usd=max_cost,
            allow_unknown_prices=allow_unknown_prices,
            log_text=not no_log,
            resume=resume,
            output_dir=output_dir,
            default_check=check,
        )
        run_bench_command(request, view, dry_run=dry_run)

    guarded(debug, action)
