"""``mmo profiles``: list, show, validate and export profiles. Parse, call the app layer, render.

Only typer is imported here at start-up; rich and the app layer load inside the commands.
"""

from pathlib import Path
from typing import Any, Callable

import typer

app = typer.Typer(help="List, show, validate and export profiles.\n\nExamples:\n\n  mmo profiles list\n\n  mmo profiles show three-tier > profiles/mine.yaml\n\n  mmo profiles validate profiles/mine.yaml", no_args_is_help=True)


def _guarded(action: Callable[[], Any]) -> None:
    from mmo.cli.errors import guarded

    guarded(False, action)


def _echo_json(value: Any) -> None:
    import json

    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@app.command("list")
def list_profiles(
    json_out: bool = typer.Option(False, "--json", help="Print JSON: one object per profile."),
) -> None:
    """Every profile mmo can see: ./profiles, your config directory, then the built-ins."""
    _guarded(lambda: _list(json_out))


def _list(json_out: bool) -> None:
    from mmo.app.profiles import summaries

    rows = summaries()
    if json_out:
        _echo_json([row.to_dict() for row in rows])
        return
    from rich.table import Table
    from rich.text import Text

    from mmo.cli.terminal import SafeConsole, shown, shown_line

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("name", "origin", "description", "path"):
        table.add_column(column, overflow="fold")
    for row in rows:
        origin = row.origin if row.shadowed_by is None else f"{row.origin} (shadowed by {row.shadowed_by})"
        description = Text(shown(row.description))
        if row.problem is not None:
            description = Text(shown(f"invalid: {row.problem}"), style="red")
        name, location = Text(shown_line(row.name), style="bold"), Text(shown_line(row.location))
        table.add_row(name, Text(origin), description, location, style="dim" if row.shadowed_by else None)
    console = SafeConsole()
    console.print(table)
    if any(row.shadowed_by for row in rows):
        console.print(Text("A shadowed profile is hidden by one of the same name found earlier (./profiles, then the config directory, then built-ins).", style="dim"))


@app.command("show")
def show_profile(
    name: str = typer.Argument(..., help="Profile name or path to a YAML file."),
    resolved: bool = typer.Option(False, "--resolved", help="Show the profile with every default filled in, not the file as written."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: source, resolved profile and YAML text."),
) -> None:
    """Show a profile's YAML and where it was found."""
    _guarded(lambda: _show(name, resolved, json_out))


def _show(name: str, resolved: bool, json_out: bool) -> None:
    from mmo.app.profiles import show

    view = show(name)
    if json_out:
        _echo_json(view.to_dict())
        return
    text = _as_yaml(view.resolved) if resolved else view.yaml_text
    # A YAML comment, so `mmo profiles show demo > profiles/mine.yaml` gives a valid file.
    header = f"# profile {view.name!r} ({view.origin}): {view.location}\n"
    from mmo.cli.terminal import SafeConsole, shown

    console = SafeConsole()
    if not console.is_terminal:
        typer.echo(header + text, nl=False)
        return
    from rich.syntax import Syntax
    from rich.text import Text

    console.print(Text(shown(header.rstrip("\n")), style="dim"))
    console.print(Syntax(shown(text.rstrip("\n")), "yaml", background_color="default", word_wrap=True))


def _as_yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


@app.command("validate")
def validate_profile(
    file: str = typer.Argument(..., help="A profile YAML file (or the name of a profile)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: valid, and each problem with file, line and key path."),
) -> None:
    """Check a profile as a run would (YAML, schema, names, where keys go, the strategy tree), without
    keys or network; warn about missing keys and unpriced models. Exits with code 2 and one line
    per problem (file:line: key.path: message) when it is invalid."""
    from mmo.app.profiles import validate
    from mmo.cli.errors import EXIT_USAGE
    from mmo.core.shown import shown

    result = validate(file)
    if json_out:
        _echo_json(result.to_dict())
    else:
        if result.ok and result.profile is not None:
            profile = result.profile
            typer.echo(shown(f"{result.location}: ok: profile {profile.name!r}, {len(profile.models)} models"))
        for problem in result.problems:
            typer.echo(shown(str(problem)))
        for warning in result.warnings:
            typer.echo(shown(f"warning: {warning}"), err=True)
    if not result.ok:
        raise typer.Exit(EXIT_USAGE)


@app.command("schema")
def export_schema(
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the schema to this file instead of standard output.", dir_okay=False),
) -> None:
    """Print the JSON Schema of profile files, for editor completion and checks."""
    _guarded(lambda: _schema(output))


def _schema(output: Path | None) -> None:
    import json

    from mmo.app.profiles import schema
    from mmo.core.errors import ConfigError

    text = json.dumps(schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {output}: {error.strerror or error}") from None
    typer.echo(f"wrote {output}", err=True)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="profiles")
