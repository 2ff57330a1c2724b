"""The ``mmo`` command: parse arguments, call the app layer, render. Nothing else.

Every command is a module of this package with a ``register(app)`` function, listed once in
``COMMANDS``. Start-up time matters (``mmo --help`` is run by shells and completion scripts):
command modules import only typer and ``mmo.cli.options``; the app layer, rich renderers and every
heavy library load inside the commands.
"""

from importlib import import_module

import typer

from mmo._version import __version__
from mmo.cli.metavars import conventional_metavars

# The registration lines, in the order ``mmo --help`` lists the commands.
COMMANDS: tuple[str, ...] = ("ask", "chat", "demo", "batch", "jobs", "bench", "tune", "models", "profiles", "keys", "cache", "logs", "spend", "config", "completions", "paths")

app = typer.Typer(
    name="mmo",
    help="Multi-model orchestrator: route, cascade and fail over across LLM providers.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmo {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Multi-model orchestrator: route, cascade and fail over across LLM providers."""


for _command in COMMANDS:
    import_module(f"mmo.cli.{_command}_cmd").register(app)

conventional_metavars(app)
