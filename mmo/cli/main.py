"""The ``mmo`` command: parse arguments, call the app layer, render. Nothing else.

Every command is a module of this package with a ``register(app)`` function, listed once in
``COMMANDS``. Start-up time matters (``mmo --help`` is run by shells and completion scripts):
command modules import only typer and ``mmo.cli.options``; the app layer, rich renderers and every
heavy library load inside the commands. ``app`` is the whole app; ``app_for`` picks what runs a
command line (one command alone when that is all it can need).
"""

from functools import cache
from importlib import import_module
from typing import Mapping, Sequence

import typer

from mmo._version import __version__
from mmo.cli.metavars import conventional_metavars

# The registration lines, in the order ``mmo --help`` lists the commands.
COMMANDS: tuple[str, ...] = ("ask", "chat", "demo", "batch", "jobs", "bench", "tune", "models", "profiles", "keys", "cache", "logs", "spend", "config", "completions", "paths")


def build_app(commands: Sequence[str] = COMMANDS) -> typer.Typer:
    """The ``mmo`` app with ``commands`` registered (every command, unless told otherwise)."""
    built = typer.Typer(
        name="mmo",
        help="Multi-model orchestrator: route, cascade and fail over across LLM providers.",
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
    built.callback()(main)
    for command in commands:
        import_module(f"mmo.cli.{command}_cmd").register(built)
    conventional_metavars(built)
    return built


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmo {__version__}")
        raise typer.Exit()


def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Multi-model orchestrator: route, cascade and fail over across LLM providers."""


def app_for(args: Sequence[str], environ: Mapping[str, str]) -> typer.Typer:
    """The app that runs ``args``. A command named exactly, not asked for help nor completing, is
    run by an app of that command alone: typer builds the parameters of every registered command
    before it runs one (their signatures and types: ~15 ms of ``mmo ask``'s start-up), and the
    others are never used. Anything else (help, a typo to suggest a command for, completion) gets
    the whole app."""
    completing = any(name.startswith("_MMO_COMPLETE") or name == "_TYPER_COMPLETE_ARGS" for name in environ)
    if args and args[0] in COMMANDS and not completing and not {"--help", "-h"} & set(args):
        return build_app((args[0],))
    return whole_app()


@cache
def whole_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # ``from mmo.cli.main import app``: the whole app, built once
        return whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
