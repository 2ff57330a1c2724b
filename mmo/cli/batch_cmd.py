"""``mmo batch``: the command's options. ``mmo.cli.batch_render`` runs it and renders what it
shows, loaded only when the command runs (``mmo --help`` imports this module, so it stays small).
"""

from __future__ import annotations

from typing import Optional

import typer


def batch(
    input: str = typer.Argument(..., metavar="INPUT", help="JSONL file of rows ({prompt|messages, id?, system?, params?, tags?, metadata?}); '-' reads standard input."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Output JSONL (default: INPUT.out.jsonl beside the input; standard output for '-')."),
    profile: Optional[str] = typer.Option(None, "--profile", "-P", help="Profile name or YAML path (default: MMO_PROFILE, then 'default')."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Skip the strategy: one model, as provider:model or a profile alias."),
    param: list[str] = typer.Option([], "--param", "-p", help="Parameter key=value for every row (a row's own params win)."),
    concurrency: int = typer.Option(16, "--concurrency", "-c", min=1, help="Rows in flight at once."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", metavar="USD", help="Hard cap on the run's spend: no call starts that could pass it."),
    allow_unknown_prices: bool = typer.Option(False, "--allow-unknown-prices", help="With --max-cost, run models with no known price (counted as $0 up front)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Estimate tokens and cost per model; call nothing."),
    strict: bool = typer.Option(False, "--strict", help="Refuse the whole input if any line is malformed (checked before any call)."),
    unordered: bool = typer.Option(False, "--unordered", help="Write output rows in completion order instead of input order."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name the run (to resume it by name, e.g. for standard input)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Also re-run rows that failed for infrastructure reasons (429, 5xx, timeouts, drops)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore cached answers, but store the new ones."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Never wait to retry: move to the next model at once."),
    simulate_outage: list[str] = typer.Option(
        [], "--simulate-outage", metavar="PROVIDER[:MODEL]", help="Failover drill: every call to this provider, model or alias fails (repeatable)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Run every row of a JSONL file through a profile: resumable (run it again to continue), with a
    cost cap, progress and a per-model summary.

    Exit codes: 0 every row answered; 1 some rows failed or were malformed; 2 usage or configuration
    error; 3 missing or refused key; 4 the cost cap or a budget stopped the run; 130 Ctrl-C.
    """
    flags = dict(locals())  # first: every option by name, nothing else
    from mmo.cli.batch_render import run_batch_command
    from mmo.cli.main import _guarded

    _guarded(debug, lambda: run_batch_command(flags))
