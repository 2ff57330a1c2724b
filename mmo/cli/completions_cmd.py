"""``mmo completions bash|zsh|fish``: the shell completion script for this mmo, wherever it is
installed. The script calls mmo back at each <TAB>, which offers commands, flags, profile names,
provider names and the aliases of the profile given so far."""

from typing import Annotated

import typer

SHELLS = ("bash", "zsh", "fish")


def register(app: typer.Typer) -> None:
    app.command("completions")(completions)


def completions(shell: Annotated[str, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")]) -> None:
    """Print the completion script for a shell.

    Examples:

      source <(mmo completions bash)        (in ~/.bashrc)

      mmo completions zsh > ~/.zfunc/_mmo

      mmo completions fish > ~/.config/fish/completions/mmo.fish
    """
    from mmo.cli.errors import guarded

    guarded(False, lambda: _print(shell))


def _print(shell: str) -> None:
    import sys

    from typer._completion_shared import get_completion_script

    from mmo.core.errors import UnknownName

    if shell not in SHELLS:
        raise UnknownName("shell", shell, list(SHELLS))
    script = get_completion_script(prog_name="mmo", complete_var="_MMO_COMPLETE", shell=shell)
    sys.stdout.write(script if script.endswith("\n") else script + "\n")
