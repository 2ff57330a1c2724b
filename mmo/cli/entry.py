"""Console-script entry point. ``mmo --version`` is answered before typer is even imported,
so scripts that probe the version pay only for the interpreter's start-up. Other commands skip
imports they never use: pydantic's plugin search, httpx's own command line, and rich's markdown
and traceback modules while typer's help renderer loads (``lean_help``); and the methods
dataclasses write are compiled once, not in every run (``compiled_text``).

Arguments must be UTF-8 text: Python hands undecodable bytes over as lone surrogates, which no
prompt, file name shown, run log or provider can carry, so such an argument is refused here as a
usage error (exit 2) naming it, before any command runs."""

from __future__ import annotations

import os
import sys
import types

EXIT_USAGE = 2  # mmo.cli.errors.EXIT_USAGE, without importing it (and typer) this early


def run() -> None:
    bad = next((arg for arg in sys.argv[1:] if not _is_text(arg)), None)
    if bad is not None:
        shown = repr(os.fsencode(bad))[1:]  # the bytes as given, escaped
        sys.stderr.write(f"error: argument {shown} is not UTF-8 text: pass it in UTF-8 (a file name in another encoding: rename the file)\n")
        sys.exit(EXIT_USAGE)
    if sys.argv[1:] == ["--version"]:
        from mmo._version import __version__

        sys.stdout.write(f"mmo {__version__}\n")
        return
    # pydantic looks for plugins of its own by reading every installed package's entry points
    # (30-40 ms, more in a large environment) before it validates the first profile. The command
    # line has no use for them; a user who wants them sets the variable (to "" or some names).
    # While they are off, pydantic's plugin loader (which imports importlib.metadata: ~15 ms) is
    # replaced by what it would answer: no plugins.
    if os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__") == "__all__":
        sys.modules.setdefault("pydantic.plugin._loader", _no_pydantic_plugins())
    # httpx imports its own command line (click, pygments, rich's progress bars: ~35 ms) whenever
    # they are installed, and falls back to a stub when that import fails. mmo never runs httpx's
    # command line, so its import is made to fail (None in sys.modules) in this process.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if not _asks_for_help(sys.argv[1:]):
        # The methods of every dataclass defined from here on, and the forward references typer
        # and pydantic resolve, are compiled once, not in each run (``compiled_text``: ~90 ms of
        # ``mmo ask``'s start-up). Help needs almost none, and would only pay for loading the table.
        from mmo.cli.compiled_text import install
        from mmo.core.paths import MmoPaths

        install(MmoPaths.from_env().cache_dir)
    from mmo.cli import lean_help

    lean_help.install()
    from mmo.cli.main import app_for

    app_for(sys.argv[1:], os.environ)(prog_name="mmo")


def _no_pydantic_plugins() -> types.ModuleType:
    module = types.ModuleType("pydantic.plugin._loader", "no plugins: PYDANTIC_DISABLE_PLUGINS=__all__ (mmo.cli.entry)")
    module.get_plugins = tuple  # type: ignore[attr-defined]  # get_plugins() -> ()
    return module


def _asks_for_help(args: list[str]) -> bool:
    return not args or "--help" in args or "-h" in args


def _is_text(arg: str) -> bool:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
