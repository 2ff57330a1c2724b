"""``mmo spend``: ``mmo logs stats`` under the name people look for."""

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("spend")(spend)


def spend(
    by: Annotated[str, typer.Option("--by", help="Group by day (UTC), model, provider or profile.")] = "day",
    since: Annotated[str | None, typer.Option("--since", metavar="WHEN", help="From this time: 2026-12-01, 7d, 24h, today, yesterday.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="WHEN", help="Before this time (same forms as --since).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", "-P", help="Show this profile's daily budget: used today and left.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON: one object per group, and the budget.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="table|csv", help="csv: one row per group.")] = "table",
) -> None:
    """What was spent, on what: `mmo logs stats` (spend, calls, errors, tokens, latency by day, model,
    provider or profile; a profile's daily budget).

    Examples:

      mmo spend --since 7d

      mmo spend --by model --json
    """
    from mmo.cli.errors import guarded
    from mmo.cli.logs_cmd import show_usage

    guarded(False, lambda: show_usage(by, since, until, profile, json_out, fmt))
