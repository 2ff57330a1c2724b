"""The ``mmo chat`` loop: read a turn, run it (streamed to standard output), show the model and
cost of the turn compactly on standard error, again until ``!quit`` or end of input.

Input: one line is one turn; ``!multi`` starts a turn of several lines, ended by ``!end``;
``!quit`` (or ``!exit``, or Ctrl-D) ends the conversation. Prompts (``> ``, ``... ``) are shown only
on a terminal, so ``mmo chat < turns.txt`` reads as well. Ctrl-C while a turn runs cancels that
turn (logged as interrupted, with what it spent) and the conversation goes on; Ctrl-C at the
prompt drops the line being typed. One event loop and one engine serve every turn
(``asyncio.Runner``: Ctrl-C cancels the turn's task)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Iterator

from mmo.app.settings import AppEnv, RunSettings

if TYPE_CHECKING:
    from mmo.app.chat import ChatSession
    from mmo.app.engine import Engine
    from mmo.app.outcome import RunOutcome
    from mmo.cli.render import StreamPrinter

QUIT = ("!quit", "!exit")


def run_chat(settings: RunSettings, *, system: str | None, continue_latest: bool, cid: str | None, log_text: bool) -> None:
    from mmo.app.engine import open_engine
    from mmo.core.errors import ConfigError

    if continue_latest and cid is not None:
        raise ConfigError("--continue goes on with the newest conversation, --cid with the one it names: give one of them")
    with asyncio.Runner() as runner:
        manager = open_engine(settings, AppEnv.from_process(), log_optional=not log_text)
        engine = runner.run(manager.__aenter__())
        try:
            session = _session(engine, settings, system, continue_latest, cid, log_text)
            _loop(runner, session)
        finally:
            runner.run(manager.__aexit__(None, None, None))


def _session(engine: Engine, settings: RunSettings, system: str | None, latest: bool, cid: str | None, log_text: bool) -> ChatSession:
    from mmo.app.chat import open_chat
    from mmo.app.conversation import ContinueFrom

    continue_from = ContinueFrom(latest, cid) if latest or cid else None
    session = open_chat(engine, settings, system=system, continue_from=continue_from, log_text=log_text)
    if session.conversation.turns:
        _say(f"going on with conversation {session.conversation.id[:8]} ({session.conversation.turns} earlier turns)")
    return session


def _loop(runner: asyncio.Runner, session: ChatSession) -> None:
    from mmo.cli.render import StreamPrinter
    from mmo.cli.spinner import StepSpinner
    from mmo.cli.terminal import SafeConsole

    err = SafeConsole(stderr=True)
    if sys.stdin.isatty():
        _say("mmo chat: !multi for several lines (then !end), !quit or Ctrl-D to leave, Ctrl-C cancels a turn")
    for text in _turns():
        printer = StreamPrinter(sys.stdout, sys.stdout)
        try:
            with StepSpinner(err) as spinner:  # a turn judged before it is shown would leave the terminal blank
                outcome = runner.run(session.turn(text, sink=spinner.until_shown(printer), on_step=spinner.step))
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            _say("turn cancelled (logged as interrupted); the conversation goes on")
            continue
        _show(outcome, printer)


def _turns() -> Iterator[str]:
    """Each turn's text, until ``!quit`` or end of input."""
    while True:
        try:
            line = _read_line("> ")
            if line is None or line.strip() in QUIT:
                return
            if line.strip() == "!multi":
                line = _read_block()
                if line is None:
                    return
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            continue
        if line.strip():
            yield line


def _read_block() -> str | None:
    lines: list[str] = []
    while True:
        line = _read_line("... ")
        if line is None:
            return "\n".join(lines) or None
        if line.strip() == "!end":
            return "\n".join(lines)
        lines.append(line)


def _read_line(prompt: str) -> str | None:
    """One line of input, ``None`` at its end; the prompt only on a terminal."""
    if sys.stdin.isatty():
        try:
            return input(prompt)
        except EOFError:
            sys.stdout.write("\n")
            return None
    line = sys.stdin.readline()
    return line.rstrip("\n") if line else None


def _show(outcome: RunOutcome, printer: StreamPrinter) -> None:
    from mmo.cli.errors import message
    from mmo.cli.render import answer_text, money

    completion = outcome.completion
    if completion is None:
        _say(message(outcome.error) if outcome.error is not None else "no answer")
        return
    if printer.shown_any:
        printer.finish()
    else:
        sys.stdout.write(answer_text(completion.text, sys.stdout).rstrip("\n") + "\n")
    usage = outcome.total_usage
    seconds = outcome.trace.duration_ms / 1000
    _say(f"{completion.model_id} · {seconds:.1f} s · {money(outcome.total_cost)} · {usage.input_tokens}/{usage.output_tokens} tokens")


def _say(text: str) -> None:
    from mmo.cli.terminal import SafeConsole

    SafeConsole(stderr=True).print(text, style="dim", highlight=False, markup=False)
