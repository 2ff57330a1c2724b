"""``mmo keys``: API keys in the keyring. Values are read, stored and never shown.

``keys set`` checks the provider name and the keyring backend before it asks for the secret;
``keys list`` says where each key comes from (``--json`` for scripts).
"""

import sys

import typer

from mmo.cli.completing import complete_profile, complete_provider
from mmo.cli.options import JsonOption

app = typer.Typer(
    help="Store, list and remove API keys in the keyring (an environment variable wins).\n\nExamples:\n\n  mmo keys set openai\n\n"
    "  mmo keys list --json",
    no_args_is_help=True,
)


@app.command("set")
def set_key(
    provider: str = typer.Argument(
        ..., help="Provider name: openai, anthropic, gemini, groq, ... or one a profile declares.", autocompletion=complete_provider
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        "-P",
        help="Also accept the providers this profile declares (default: the default profile's).",
        autocompletion=complete_profile,
    ),
    key_file: bool = typer.Option(
        False,
        "--key-file",
        help="Store it in mmo's key file: PLAIN TEXT on disk, readable only by you (0600), for machines without a keyring "
        "(default: MMO_KEY_FILE, then `mmo config set key_file true`).",
    ),
) -> None:
    """Store a key: typed at a hidden prompt, or piped on standard input."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _set(provider, profile, key_file))


def _set(provider: str, profile: str | None, key_file: bool) -> None:
    from mmo.app.keys import key_target, store_key
    from mmo.app.settings import AppEnv

    env = AppEnv.from_process()
    target = key_target(provider, env, profile, key_file=key_file)  # before the prompt: a typo or no backend asks for nothing
    if sys.stdin is not None and sys.stdin.isatty():
        value = typer.prompt(f"API key for {provider}", hide_input=True)
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
    shadowing = store_key(target, value, env)
    where = target.backend if target.in_key_file else f"the keyring ({target.backend})"
    typer.echo(f"stored the key for {provider} in {where}")
    if shadowing:
        typer.echo(f"note: {shadowing} is set in this environment and takes precedence over the keyring", err=True)


@app.command("list")
def list_keys(
    profile: str | None = typer.Option(
        None, "--profile", "-P", help="Also list the providers this profile declares.", autocompletion=complete_profile
    ),
    json_out: JsonOption = False,
) -> None:
    """Which providers have a key, and where it comes from (never the value)."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _list(profile, json_out))


def _list(profile_name: str | None, json_out: bool) -> None:
    from rich.table import Table

    from mmo.app.keys import key_rows
    from mmo.app.settings import AppEnv
    from mmo.cli.terminal import SafeConsole

    rows = key_rows(AppEnv.from_process(), profile_name)
    if json_out:
        import json

        typer.echo(json.dumps([{"provider": r.provider, "env_var": r.env_var, "source": r.source} for r in rows], indent=2))
        return
    table = Table("provider", "environment variable", "key from", box=None, header_style="bold")
    for row in rows:
        table.add_row(row.provider, row.env_var or "-", row.source)
    SafeConsole().print(table)


@app.command("rm")
def remove_key(provider: str = typer.Argument(..., help="Provider name.", autocompletion=complete_provider)) -> None:
    """Remove a provider's key from the keyring and the key file."""
    from mmo.cli.errors import guarded

    guarded(False, lambda: _remove(provider))


def _remove(provider: str) -> None:
    from mmo.app.keys import remove_key
    from mmo.app.settings import AppEnv

    removed = remove_key(provider, AppEnv.from_process())
    typer.echo(f"removed the key for {provider}" if removed else f"no key for {provider} in the keyring or the key file")
    if not removed:
        raise typer.Exit(1)


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="keys")
