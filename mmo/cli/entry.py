"""Console-script entry point. ``mmo --version`` is answered before typer is even imported,
so scripts that probe the version pay only for the interpreter's start-up."""

from __future__ import annotations

import sys


def run() -> None:
    if sys.argv[1:] == ["--version"]:
        from mmo._version import __version__

        sys.stdout.write(f"mmo {__version__}\n")
        return
    from mmo.cli.main import app

    app(prog_name="mmo")
