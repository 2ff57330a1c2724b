"""``mmo keys``: API keys in the OS keyring. Values are read, stored and never shown."""

from __future__ import annotations

import sys
from typing import Optional

import typer

app = typer.Typer(help="Store, list and remove API keys in the OS keyring (an environment variable wins).", no_args_is_help=True)


@app.command("set")
def set_key(
    provider: str = typer.Argument(..., help="Provider name: openai, anthropic, gemini, groq, ... or one a profile declares."),
) -> None:
    """Store a key: typed at a hidden prompt, or piped on standard input."""
    from mmo.cli.main import _guarded

    _guarded(False, lambda: _set(provider))


def _set(provider: str) -> None:
    import os

    from mmo.providers.catalogue import BUILTIN_PROVIDERS
    from mmo.runtime.keys import KeyStore

    if sys.stdin is not None and sys.stdin.isatty():
        value = typer.prompt(f"API key for {provider}", hide_input=True)
    else:
        value = sys.stdin.read() if sys.stdin is not None else ""
    value = value.strip()
    builtin = BUILTIN_PROVIDERS.get(provider)
    env_var = builtin.key_env if builtin else None
    KeyStore(dict(os.environ)).set(provider, value, env_var=env_var)
    typer.echo(f"stored the key for {provider} in the OS keyring")
    if env_var and os.environ.get(env_var):
        typer.echo(f"note: {env_var} is set in this environment and takes precedence over the keyring", err=True)


@app.command("list")
def list_keys(
    profile: Optional[str] = typer.Option(None, "--profile", "-P", help="Also list the providers this profile declares."),
) -> None:
    """Which providers have a key, and where it comes from (never the value)."""
    from mmo.cli.main import _guarded

    _guarded(False, lambda: _list(profile))


def _list(profile_name: Optional[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from mmo.app.session import AppEnv, ProfileChoice, provider_settings, resolve_profile
    from mmo.providers.catalogue import BUILTIN_PROVIDERS
    from mmo.runtime.keys import KeyStore

    env = AppEnv.from_process()
    settings = dict(BUILTIN_PROVIDERS)
    if profile_name:
        settings = provider_settings(resolve_profile(ProfileChoice(profile_name), env).profile)
    store = KeyStore(env.environ)
    table = Table("provider", "environment variable", "key from", box=None, header_style="bold")
    for name, entry in sorted(settings.items()):
        if entry.kind == "replay":
            continue
        source = store.source(name, entry.key_env)
        if source is None:
            source = "not needed" if not entry.needs_key else "-"
        table.add_row(name, entry.key_env or "-", source)
    Console().print(table)


@app.command("rm")
def remove_key(provider: str = typer.Argument(..., help="Provider name.")) -> None:
    """Remove a provider's key from the OS keyring."""
    from mmo.cli.main import _guarded

    _guarded(False, lambda: _remove(provider))


def _remove(provider: str) -> None:
    import os

    from mmo.runtime.keys import KeyStore

    removed = KeyStore(dict(os.environ)).delete(provider)
    typer.echo(f"removed the key for {provider}" if removed else f"no key for {provider} in the keyring")
    if not removed:
        raise typer.Exit(1)
