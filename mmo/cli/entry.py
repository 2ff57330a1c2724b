"""Console-script entry point. ``mmo --version`` is answered before typer is even imported,
so scripts that probe the version pay only for the interpreter's start-up."""

from __future__ import annotations

import os
import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from mmo._version import __version__

        sys.stdout.write(f"mmo {__version__}\n")
        return
    # pydantic looks for plugins of its own by reading every installed package's entry points
    # (30-40 ms, more in a large environment) before it validates the first profile. The command
    # line has no use for them; a user who wants them sets the variable (to "" or some names).
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from mmo.cli.main import app

    app(prog_name="mmo")
