"""``mmo completions bash|zsh|fish``: print the shell completion script for this installed mmo.

The script calls back into ``mmo`` on each Tab (Typer's ``_MMO_COMPLETE`` protocol), so it
completes commands, flags, profile names, provider names and a profile's model aliases
(``mmo.cli.completing``). The same scripts are checked in under ``completions/``.
"""

from enum import StrEnum

import typer


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def register(app: typer.Typer) -> None:
    app.command(
        "completions",
        epilog="Examples: `mmo completions bash > ~/.local/share/bash-completion/completions/mmo`; "
        "`mmo completions zsh > ~/.zfunc/_mmo`; `mmo completions fish > ~/.config/fish/completions/mmo.fish`.",
    )(completions)


def completions(shell: Shell = typer.Argument(..., help="The shell to complete in.")) -> None:
    """Print the completion script for SHELL (source it, or save it where the shell looks)."""
    from typer._click.shell_completion import get_completion_class  # Typer's vendored click
    from typer._completion_classes import completion_init

    from mmo.cli.main import app

    completion_init()  # Typer's bash/zsh/fish classes, as `_MMO_COMPLETE=source_SHELL mmo` uses
    command = typer.main.get_command(app)
    complete = get_completion_class(shell.value)
    if complete is None:  # every Shell choice is registered by completion_init
        raise typer.BadParameter(f"no completion for {shell.value}")
    typer.echo(complete(command, {}, "mmo", "_MMO_COMPLETE").source())
