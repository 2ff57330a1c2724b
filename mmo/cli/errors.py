"""The one place errors become exit codes and one-line messages (``guarded`` runs a command
under this policy).

Exit codes (documented in the README):

====  ===========================================================
 0    success
 1    the models failed: every attempt of the strategy failed
 2    usage or configuration error (bad flag, profile, parameter)
 3    missing or refused API key
 4    a budget or cost cap stopped the run
 70   internal error (always a bug)
 129  SIGHUP, 130 Ctrl-C (SIGINT), 143 SIGTERM: interrupted (128 + the signal's number)
 141  standard output was closed by its reader (``| head``): mmo stops writing, quietly
====  ===========================================================

``--debug`` prints the traceback of any error, then exits with the same code as without it.
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
EXIT_PENDING = 75  # EX_TEMPFAIL: provider batch jobs still running; try again later
EXIT_INTERRUPTED = 130
EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by a closed pipe


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (``KeyboardInterrupt``), exiting 128 + its number."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


def guarded(debug: bool, action: Callable[[], Any]) -> None:
    """Run a command; turn mmo's errors into a one-line message and a documented exit code, and
    anything else into exit 70 (an internal error: always a bug). A reader closing standard
    output ends the command quietly (``EXIT_OUTPUT_CLOSED``). ``debug`` adds the traceback."""
    import typer

    try:
        action()
    except typer.Exit:
        raise
    except BrokenPipeError:
        silence_stdout()
        raise typer.Exit(EXIT_OUTPUT_CLOSED) from None
    except (Exception, KeyboardInterrupt) as error:
        if debug:
            import traceback

            traceback.print_exc()
        if not isinstance(error, (MmoError, AllAttemptsFailed, KeyboardInterrupt)):
            typer.echo(shown(f"internal error: {type(error).__name__}: {error} (run with --debug for the traceback)"), err=True)
            raise typer.Exit(EXIT_INTERNAL) from None
        typer.echo(message(error), err=True)
        raise typer.Exit(exit_code(error)) from None


def silence_stdout() -> None:
    """Point standard output at the null device once its reader has gone, so that nothing later
    (Python's own flush at exit included) fails writing to the closed pipe."""
    import os
    import sys

    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test's captured stream)
        pass


def exit_code(error: BaseException) -> int:
    if isinstance(error, KeyboardInterrupt):
        return 128 + error.signum if isinstance(error, Terminated) else EXIT_INTERRUPTED
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
        return "\n".join([f"error: {shown_line(error.message)}", *_attempt_lines(list(_leaves(error)))])
    if isinstance(error, Terminated):
        return f"interrupted ({error.name})"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"error: {shown(_describe(error))}"


def _attempt_lines(leaves: list[BaseException]) -> list[str]:
    """One line per distinct failure, in the order they happened, with how often it repeated
    (a retried call, a model tried by two strategies); the detail every missing key shares (no
    keyring on this machine) said once, after them."""
    details = {e.detail for e in leaves if isinstance(e, MissingKey) and e.detail}
    shared = details.pop() if len(details) == 1 and sum(isinstance(e, MissingKey) for e in leaves) > 1 else None
    counted: dict[str, int] = {}
    for leaf in leaves:
        text = _describe(leaf)
        if shared is not None and isinstance(leaf, MissingKey):
            text = text.replace(shared, "")
        counted[text] = counted.get(text, 0) + 1
    lines = [f"  - {shown_line(text)}" + (f" (x{count})" if count > 1 else "") for text, count in counted.items()]
    if shared is not None:
        said = shared.strip().removeprefix("(").removesuffix(")")
        lines.append(f"  for every missing key: {shown_line(said)}")
    return lines


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
