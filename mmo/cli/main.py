"""The ``mmo`` command: parse arguments, call the app layer, render. Nothing else.

Start-up time matters (``mmo --help`` is run by shells and completion scripts): this module imports
only typer; the app layer, rich renderers and every heavy library load inside the commands.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import typer

from mmo._version import __version__
from mmo.cli import batch_cmd, cache_cmd, keys_cmd, logs_cmd, profiles_cmd

app = typer.Typer(
    name="mmo",
    help="Multi-model orchestrator: route, cascade and fail over across LLM providers.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(cache_cmd.app, name="cache")
app.add_typer(profiles_cmd.app, name="profiles")
app.add_typer(logs_cmd.app, name="logs")
app.command("batch")(batch_cmd.batch)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Multi-model orchestrator: route, cascade and fail over across LLM providers."""


@app.command()
def ask(
    prompt: Optional[str] = typer.Argument(None, help="The prompt; read from standard input when absent or '-'."),
    profile: Optional[str] = typer.Option(None, "--profile", "-P", help="Profile name or YAML path (default: MMO_PROFILE, then 'default')."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Skip the strategy: one model, as provider:model or a profile alias."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    param: list[str] = typer.Option([], "--param", "-p", help="Parameter key=value (temperature=0.2, max_tokens=200, any provider field)."),
    meta: list[str] = typer.Option([], "--meta", help="Request metadata key=value (router rules, replay ids)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag for router rules and the run log."),
    stream: Optional[bool] = typer.Option(None, "--stream/--no-stream", help="Stream the answer (default: when stdout is a terminal)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object (answer, models, cost, trace); nothing partial."),
    explain: bool = typer.Option(False, "--explain", help="Show the decision trace as a tree."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the response cache."),
    refresh: bool = typer.Option(False, "--refresh", help="Ignore cached answers, but store the new one."),
    no_log: bool = typer.Option(False, "--no-log", help="Keep prompt and answer text out of the run log."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Never wait to retry: move to the next model at once."),
    simulate_outage: list[str] = typer.Option(
        [], "--simulate-outage", metavar="PROVIDER[:MODEL]", help="Failover drill: every call to this provider, model or alias fails (repeatable)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Answer one prompt through a profile's strategy and show which model answered, why, and the cost."""
    from mmo.cli.ask_cmd import AskFlags, run_ask

    flags = AskFlags(profile, model, system, param, meta, tag, stream, json_out, explain, no_cache, refresh, no_log, fail_fast, tuple(simulate_outage))
    _guarded(debug, lambda: run_ask(prompt, flags))


@app.command()
def demo(
    task: Optional[str] = typer.Option(None, "--id", help="A task id from the bundled MMLU-Pro sample (default: the first)."),
    profile: str = typer.Option("demo", "--profile", "-P", help="An offline profile: demo, cascade, cascade-agree, router, vote, hedge."),
    explain: bool = typer.Option(False, "--explain", help="Show the decision trace as a tree."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Offline demo: a recorded MMLU-Pro question through an offline profile (default 'demo'). No key needed."""
    from mmo.cli.ask_cmd import run_demo

    _guarded(debug, lambda: run_demo(task, profile=profile, explain=explain, json_out=json_out))


@app.command()
def models(
    provider: Optional[str] = typer.Option(None, "--provider", help="Only this provider (openai, anthropic, gemini, groq, ...)."),
    search: Optional[str] = typer.Option(None, "--search", help="Only models whose id contains this text."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Known models with prices (USD per 1M tokens) and context windows."""
    from mmo.cli.models_cmd import run_models

    _guarded(debug, lambda: run_models(provider, search, json_out))


def _guarded(debug: bool, action: Callable[[], Any]) -> None:
    """Run a command; turn mmo's errors into a one-line message and a documented exit code."""
    from mmo.cli.errors import exit_code, message

    try:
        action()
    except typer.Exit:
        raise
    except (Exception, KeyboardInterrupt) as error:
        from mmo.core.errors import AllAttemptsFailed, MmoError

        if debug or not isinstance(error, (MmoError, AllAttemptsFailed, KeyboardInterrupt)):
            if not debug:
                typer.echo(f"internal error: {type(error).__name__}: {error} (run with --debug for the traceback)", err=True)
                raise typer.Exit(70) from None
            raise
        typer.echo(message(error), err=True)
        raise typer.Exit(exit_code(error)) from None
