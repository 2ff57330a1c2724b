"""The one place errors become exit codes and one-line messages (``guarded`` runs a command
under this policy).

Exit codes (documented in the README):

====  ===========================================================
 0    success
 1    the models failed: every attempt of the strategy failed
 2    usage or configuration error (bad flag, profile, parameter)
 3    missing or refused API key
 4    a budget or cost cap stopped the run
 130  interrupted (Ctrl-C)
====  ===========================================================
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from mmo.core.errors import AllAttemptsFailed, AuthFailed, BudgetExceeded, ConfigError, MissingKey, MmoError, ProviderError
from mmo.core.shown import shown, shown_line

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_KEY = 3
EXIT_BUDGET = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


def guarded(debug: bool, action: Callable[[], Any]) -> None:
    """Run a command; turn mmo's errors into a one-line message and a documented exit code, and
    anything else into exit 70 (an internal error: always a bug)."""
    import typer

    try:
        action()
    except typer.Exit:
        raise
    except (Exception, KeyboardInterrupt) as error:
        if debug:
            raise
        if not isinstance(error, (MmoError, AllAttemptsFailed, KeyboardInterrupt)):
            typer.echo(shown(f"internal error: {type(error).__name__}: {error} (run with --debug for the traceback)"), err=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        typer.echo(message(error), err=True)
        raise typer.Exit(exit_code(error)) from None


def exit_code(error: BaseException) -> int:
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, (MissingKey, AuthFailed)):
        return EXIT_KEY
    if isinstance(error, BudgetExceeded):
        return EXIT_BUDGET
    if isinstance(error, ConfigError):
        return EXIT_USAGE
    if isinstance(error, AllAttemptsFailed):
        leaves = list(_leaves(error))
        if leaves and all(isinstance(e, (MissingKey, AuthFailed)) for e in leaves):
            return EXIT_KEY
        if leaves and all(isinstance(e, BudgetExceeded) for e in leaves):
            return EXIT_BUDGET
        return EXIT_FAILED
    return EXIT_FAILED


def message(error: BaseException) -> str:
    """One line (a group: one line per attempt, indented) with no traceback, its control
    characters escaped (a message may quote a server or a file)."""
    if isinstance(error, AllAttemptsFailed):
        lines = [f"error: {shown_line(error.message)}"]
        lines += [f"  - {shown_line(_describe(e))}" for e in _leaves(error)]
        return "\n".join(lines)
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"error: {shown(_describe(error))}"


def _describe(error: BaseException) -> str:
    if isinstance(error, ProviderError):
        return error.one_line()
    if isinstance(error, MmoError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"


def _leaves(group: AllAttemptsFailed) -> Iterator[BaseException]:
    for error in group.exceptions:
        if isinstance(error, AllAttemptsFailed):
            yield from _leaves(error)
        else:
            yield error
