"""``mmo batch``: the command's options; ``mmo.cli.batch_run`` runs it and renders what it shows,
loaded only when the command runs (``mmo --help`` imports this module, so it stays small)."""

from typing import Annotated

import typer

from mmo.cli.options import (
    DebugOption,
    FailFastOption,
    ModelOption,
    NoCacheOption,
    ParamOption,
    ProfileOption,
    RefreshOption,
    ReplayDataOption,
    SimulateOutageOption,
    positive_amount,
    run_settings,
)


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


def batch(
    input: Annotated[
        str, typer.Argument(metavar="INPUT", help="JSONL file of rows ({prompt|messages, id?, system?, params?, tags?, metadata?, model?, tools?, tool_choice?}); '-' reads standard input.")
    ],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Output JSONL (default: INPUT.out.jsonl beside the input; standard output for '-').")
    ] = None,
    profile: ProfileOption = None,
    model: ModelOption = None,
    replay_data: ReplayDataOption = None,
    param: ParamOption = [],
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", min=1, help="Rows in flight at once (default: MMO_CONCURRENCY, then `mmo config`, then 16)."),
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", metavar="USD", parser=positive_amount, help="Hard cap on the run's spend: no call starts that could pass it."),
    ] = None,
    allow_unknown_prices: Annotated[
        bool, typer.Option("--allow-unknown-prices", help="With --max-cost, run models with no known price (counted as $0 up front).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Estimate tokens and cost per model (best, expected, worst); call nothing.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse the whole input if any line is malformed (checked before any call).")] = False,
    unordered: Annotated[bool, typer.Option("--unordered", help="Write output rows in completion order instead of input order.")] = False,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Name the run (to resume it by name, e.g. for standard input).")] = None,
    retry_errors: Annotated[
        bool, typer.Option("--retry-errors", help="Also re-run rows that failed for infrastructure reasons (429, 5xx, timeouts, drops).")
    ] = False,
    provider_batch: Annotated[
        bool, typer.Option("--provider-batch", help="Send the rows to the providers' batch APIs (half price, answers within 24 h); `mmo jobs` collects them.")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="With --provider-batch: wait for the jobs, then collect their answers.")] = False,
    shared: Annotated[
        bool, typer.Option("--shared", help="Work on one run with other workers (machines) through the state server (MMO_STATE_URL); each row is answered once.")
    ] = False,
    claim_timeout: Annotated[
        float,
        typer.Option("--claim-timeout", metavar="SECONDS", min=1, help="With --shared: a worker's rows go to the others this long after it was last heard from."),
    ] = 60.0,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    no_log: Annotated[bool, typer.Option("--no-log", help="Keep the rows' prompt and answer text out of the run log.")] = False,
    json_summary: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object on standard output (the rows go to the output file).")] = False,
    fail_fast: FailFastOption = False,
    simulate_outage: SimulateOutageOption = [],
    debug: DebugOption = False,
) -> None:
    """Run every row of a JSONL file through a profile: resumable (run it again to continue), with a
    cost cap, progress and a per-model summary.

    Examples:

      mmo batch questions.jsonl -P fast -c 16 --max-cost 2

      mmo batch questions.jsonl --dry-run

      cat rows.jsonl | mmo batch - --run-id nightly -o answers.jsonl

      mmo batch questions.jsonl --provider-batch --dry-run

      MMO_STATE_URL=redis://queue-host:6379/0 mmo batch questions.jsonl --shared --run-id nightly

    Exit codes: 0 every row answered; 1 some rows failed or were malformed; 2 usage or configuration
    error; 3 missing or refused key; 4 the cost cap or a budget stopped the run; 130 Ctrl-C (143
    SIGTERM, 129 SIGHUP); 141 the output's reader closed it.
    """
    from mmo.cli.errors import guarded

    def action() -> None:
        from mmo.app.batch.job import BatchJob
        from mmo.app.settings import AppEnv
        from mmo.app.user_config import default_concurrency
        from mmo.cli.batch_run import run_batch_command

        settings = run_settings(
            profile, model, param, no_cache=no_cache, refresh=refresh, fail_fast=fail_fast, simulate_outage=simulate_outage, replay_data=replay_data
        )
        job = BatchJob(
            input=input,
            output=output,
            settings=settings,
            concurrency=default_concurrency(AppEnv.from_process(), concurrency),
            max_cost_usd=max_cost,
            allow_unknown_prices=allow_unknown_prices,
            strict=strict,
            unordered=unordered,
            run_id=run_id,
            retry_errors=retry_errors,
            log_text=not no_log,
            shared=shared,
            claim_timeout_s=claim_timeout,
        )
        if provider_batch and shared:
            from mmo.core.errors import ConfigError

            raise ConfigError("--provider-batch and --shared are two ways to run one batch: the providers' batch jobs, or live workers sharing the rows; pick one")
        if provider_batch:
            from mmo.cli.jobs_run import submit_command

            submit_command(job, dry_run=dry_run, wait=wait, json_out=json_summary)
            return
        if wait:
            from mmo.core.errors import ConfigError

            raise ConfigError("--wait waits for provider batch jobs: add --provider-batch")
        run_batch_command(job, dry_run=dry_run, json_summary=json_summary)

    guarded(debug, action)
