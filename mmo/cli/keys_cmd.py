"""``mmo keys``: API keys in the OS keyring. Values are read, stored and never shown."""

import sys

import typer

from mmo.cli.options import complete_profile, complete_provider

app = typer.Typer(help="Store, list and remove API keys in the OS keyring (an environment variable wins).\n\nExamples:\n\n  mmo keys set openai\n\n  mmo keys list --json", no_args_is_help=True)


@app.command("set")
def set_key(
    provider: str = typer.Argument(..., help="Provider name: openai, anthropic, gemini, groq, ... or one a profile declares.", autocompletion=complete_provider),
    profile: str | None = typer.Option(None, "--profile", "-P", help="A profile that declares the provider (default: MMO_PROFILE).", autocompletion=complete_profile),
) -> None:
    """Store a key: typed at a hidden prompt, or piped on standard input. The provider and the
    keyring backend are checked before the key is asked for."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _set(provider, profile))


def _set(provider: str, profile: str | None) -> None:
    from mmo.app.keys import backend_description, check_key_target, store_key
    from mmo.app.settings import AppEnv

    env = AppEnv.from_process()
    backend = check_key_target(provider, env, profile)
    if sys.stdin is not None and sys.stdin.isatty():
        value = typer.prompt(f"API key for {provider}", hide_input=True)
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
    shadowing = store_key(provider, value, env)
    typer.echo(f"stored the key for {provider} in the keyring backend {backend_description(backend)}")
    if shadowing:
        typer.echo(f"note: {shadowing} is set in this environment and takes precedence over the keyring", err=True)


@app.command("list")
def list_keys(
    profile: str | None = typer.Option(None, "--profile", "-P", help="Also list the providers this profile declares."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: one object per provider (never a key)."),
) -> None:
    """Which providers have a key, and where it comes from (never the value)."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _list(profile, json_out))


def _list(profile_name: str | None, json_out: bool) -> None:
    import json

    from rich.table import Table

    from mmo.app.keys import key_rows
    from mmo.app.settings import AppEnv
    from mmo.cli.terminal import SafeConsole

    rows = key_rows(AppEnv.from_process(), profile_name)
    if json_out:
        listed = [{"provider": row.provider, "env_var": row.env_var, "source": row.source} for row in rows]
        sys.stdout.write(json.dumps(listed, indent=2) + "\n")
        return
    table = Table("provider", "environment variable", "key from", box=None, header_style="bold")
    for row in rows:
        table.add_row(row.provider, row.env_var or "-", row.source)
    SafeConsole().print(table)


@app.command("rm")
def remove_key(provider: str = typer.Argument(..., help="Provider name.")) -> None:
    """Remove a provider's key from the OS keyring."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _remove(provider))


def _remove(provider: str) -> None:
    from mmo.app.keys import remove_key
    from mmo.app.settings import AppEnv

    removed = remove_key(provider, AppEnv.from_process())
    typer.echo(f"removed the key for {provider}" if removed else f"no key for {provider} in the keyring")
    if not removed:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="keys")
