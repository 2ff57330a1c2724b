"""The options several commands share, declared once (``Annotated`` types), and the one
``RunSettings`` they make. Importing this module costs only typer's import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mmo.cli.completing import complete_model, complete_profile

if TYPE_CHECKING:
    from mmo.app.settings import RunSettings

def positive_amount(value: str | float) -> float:
    """A money or time flag's value: a finite number above 0. NaN would disable every comparison
    made with it (``--max-cost nan`` capped nothing), an infinity or a negative number is never
    meant; each is a usage error (exit 2)."""
    import math

    try:
        number = float(value)
    except (TypeError, ValueError):
        raise typer.BadParameter(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise typer.BadParameter(f"{value!r} must be a finite number above 0")
    return number


ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-P", help="Profile name or YAML path (default: MMO_PROFILE, then 'default').", autocompletion=complete_profile)
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Skip the strategy: one model, as provider:model or a profile alias.", autocompletion=complete_model),
]
ParamOption = Annotated[
    list[str],
    typer.Option("--param", "-p", help="Parameter key=value for every request (temperature=0.2, max_tokens=200, any provider field)."),
]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")]
RefreshOption = Annotated[bool, typer.Option("--refresh", help="Ignore cached answers, but store the new ones.")]
FailFastOption = Annotated[bool, typer.Option("--fail-fast", help="Never wait to retry: move to the next model at once.")]
SimulateOutageOption = Annotated[
    list[str],
    typer.Option(
        "--simulate-outage", metavar="PROVIDER[:MODEL]", help="Failover drill: every call to this provider, model or alias fails (repeatable)."
    ),
]
ReplayDataOption = Annotated[
    str | None,
    typer.Option(
        "--replay-data",
        metavar="NAME|PATH",
        help="Recorded data for the profile's replay providers: mmlu_pro (all 11,954), mmlu_pro_sample (300) or a replay file "
        "(default: MMO_REPLAY_DATA, then the profile's path).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ExplainOption = Annotated[bool, typer.Option("--explain", help="Show the decision trace as a tree.")]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]


def run_settings(
    profile: str | None,
    model: str | None,
    param: list[str],
    *,
    no_cache: bool,
    refresh: bool,
    fail_fast: bool,
    simulate_outage: list[str],
    replay_data: str | None = None,
) -> RunSettings:
    """The settings every request of the command's run shares, from the shared options."""
    from mmo.app.params import parse_param_pairs
    from mmo.app.settings import ProfileChoice, RunSettings

    return RunSettings(
        choice=ProfileChoice(profile, model, replay_data),
        params=parse_param_pairs(param),
        read_cache=not (no_cache or refresh),
        write_cache=not no_cache,
        fail_fast=fail_fast,
        simulate_outage=tuple(simulate_outage),
    )
