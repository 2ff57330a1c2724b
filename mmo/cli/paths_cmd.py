"""``mmo paths``: where mmo keeps its profiles, cache, run log and batch state, and its keys."""

import typer

from mmo.cli.options import JsonOption


def register(app: typer.Typer) -> None:
    app.command("paths")(paths)


def paths(json_out: JsonOption = False) -> None:
    """Where mmo keeps its files (MMO_HOME moves them all) and which keyring holds its keys.

    Examples:

      mmo paths

      MMO_HOME=/tmp/mmo mmo paths --json
    """
    from dataclasses import asdict

    from mmo.app.paths import mmo_paths
    from mmo.app.settings import AppEnv
    from mmo.cli.errors import guarded

    def action() -> None:
        found = asdict(mmo_paths(AppEnv.from_process()))
        if json_out:
            import json

            typer.echo(json.dumps({name: str(value) for name, value in found.items()}, indent=2))
            return
        for name, value in found.items():
            typer.echo(f"{name.replace('_', ' '):12} {value}")

    guarded(False, action)
