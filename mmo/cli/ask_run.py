"""``mmo ask`` and ``mmo demo`` at work: read the prompt, run the use case, render the result.

The answer goes to standard output; the table, warnings and the trace go to standard error, so
``mmo ask ... > answer.txt`` captures only the answer. An answer that calls tools (``--tools``) is
written as one JSON object ``{"text", "tool_calls"}`` (``mmo.app.tools``), after any text that was
streamed. With ``--json`` one JSON object goes to standard output and nothing is streamed.
Ctrl-C while a model is called stops the run, which is logged as interrupted with what it spent
(said on standard error), and exits 130; SIGTERM and SIGHUP do the same, exiting 143 and 129
(``mmo.cli.interrupts``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from mmo.app.ask import AskInput, ask
from mmo.app.attachments import read_attachment
from mmo.app.conversation import ContinueFrom
from mmo.app.outcome import RunOutcome
from mmo.app.params import parse_param_pairs
from mmo.app.schema_file import read_schema_file, structured_value
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.app.tools import request_tools, tool_answer_text
from mmo.cli.errors import Terminated, exit_code, message
from mmo.cli.interrupts import run_interruptible
from mmo.core.errors import ConfigError
from mmo.core.types import ImagePart

if TYPE_CHECKING:
    from rich.console import Console

    from mmo.cli.render import StreamPrinter
    from mmo.core.types import Completion


@dataclass(frozen=True)
class ToolsChoice:
    """``--tools FILE.json`` and ``--tool-choice``, read before anything is spent."""

    path: Path | None = None
    choice: str | None = None


@dataclass(frozen=True)
class AskView:
    """How the result is shown: streamed (``None``: when stdout is a terminal), as JSON, with the
    decision trace."""

    stream: bool | None = None
    json_out: bool = False
    explain: bool = False
    quiet: bool = False  # the answer alone: no warnings, no table (errors still say why)

    def styled(self, style: str) -> AskView:
        """This view in a named output style (``mmo config set output``): table, quiet, json, explain."""
        return replace(self, json_out=style == "json", explain=style == "explain", quiet=style == "quiet")


def run_ask(
    prompt: str | None,
    settings: RunSettings,
    *,
    system: str | None = None,
    meta: Sequence[str] = (),
    tags: Sequence[str] = (),
    log_text: bool = True,
    view: AskView = AskView(),
    tools: ToolsChoice = ToolsChoice(),
    schema: Path | None = None,
    attach: Sequence[str] = (),
    continue_from: ContinueFrom | None = None,
) -> None:
    specs, choice = request_tools(tools.path, tools.choice)
    output_schema = read_schema_file(schema) if schema is not None else None
    images = _read_attachments(attach)
    if "-" in attach and (prompt is None or prompt == "-"):
        raise ConfigError("--attach - reads the image from standard input: give the prompt as an argument")
    read = _read_prompt(prompt, stdin_free="-" not in attach)
    item = AskInput(
        prompt=read.text,
        settings=settings,
        system=system,
        metadata={k: str(v) for k, v in parse_param_pairs(meta).items()},
        tags=tuple(tags),
        log_text=log_text,
        tools=specs,
        tool_choice=choice,
        schema=output_schema,
        images=images,
        continue_from=continue_from,
    )
    stream = view.stream if view.stream is not None else sys.stdout.isatty()
    # An answer to a schema is shown once validated, as its JSON alone: never streamed.
    _run_and_render(item, stream=stream and not view.json_out and output_schema is None, json_out=view.json_out, explain=view.explain,
                    origin=read.origin(), quiet=view.quiet)


def run_demo(task_id: str | None, *, profile: str = "demo", view: AskView = AskView()) -> None:
    from mmo.app.demo import demo_task

    task = demo_task(task_id)
    if not view.json_out:
        from mmo.cli.terminal import SafeConsole, warning_text

        console = SafeConsole(stderr=True)
        console.print(warning_text(f"task {task.id} from the bundled MMLU-Pro sample, answered by the offline {profile!r} profile\n", label="Demo"))
        console.print(task.prompt, style="dim", highlight=False, markup=False)
        console.print()
    item = AskInput(prompt=task.prompt, settings=RunSettings(choice=ProfileChoice(profile)), metadata={"id": task.id})
    _run_and_render(item, stream=False, json_out=view.json_out, explain=view.explain)


def _read_attachments(names: Sequence[str]) -> tuple[ImagePart, ...]:
    """``--attach`` files (``-``: standard input, once), read and checked before anything is spent."""
    if list(names).count("-") > 1:
        raise ConfigError("--attach - may be given once: standard input holds one image")
    if "-" in names and sys.stdin is not None and sys.stdin.isatty():
        raise ConfigError("--attach - reads the image from standard input, which is a terminal: pipe the image in (`mmo ask -a - \"...\" < photo.png`)")
    stdin = getattr(sys.stdin, "buffer", None)
    return tuple(read_attachment(name, stdin) for name in names)


@dataclass(frozen=True)
class Prompt:
    """The prompt as sent, and how many of its characters came from standard input."""

    text: str
    piped_chars: int = 0

    def origin(self) -> str:
        """For ``--explain``: where the prompt came from."""
        if not self.piped_chars:
            return ""
        if self.piped_chars == len(self.text):
            return f"prompt: {self.piped_chars:,} characters from standard input"
        return f"prompt: {self.piped_chars:,} characters from standard input, a blank line, then the argument"


def _read_prompt(prompt: str | None, *, stdin_free: bool = True) -> Prompt:
    """The argument; standard input when there is none (or ``-``); and when both are given, the
    piped text first, then a blank line, then the argument (as ``llm`` does:
    ``cat notes.txt | mmo ask "Summarise this"``). ``stdin_free`` is false when standard input
    holds something else (an image: ``--attach -``)."""
    piped = sys.stdin is not None and not sys.stdin.isatty() and stdin_free
    if prompt is not None and prompt != "-":
        extra = _read_stdin_text() if piped else ""
        joined = Prompt(f"{extra.rstrip()}\n\n{prompt}", len(extra.rstrip())) if extra.strip() else Prompt(prompt)
    elif not piped:
        raise ConfigError("no prompt: pass it as an argument or pipe it on standard input")
    else:
        text = _read_stdin_text()
        joined = Prompt(text, len(text))
    if not joined.text.strip():
        raise ConfigError("the prompt is empty")
    return joined


def _read_stdin_text() -> str:
    """Standard input as UTF-8 text (a leading byte-order mark dropped); anything else is refused
    with the offset of the first bad byte, whatever the locale says."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # already text (an embedding caller's stream)
        return str(sys.stdin.read())
    data: bytes = stream.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"standard input is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}): "
            "convert it first, e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def _run_and_render(item: AskInput, *, stream: bool, json_out: bool, explain: bool, origin: str = "", quiet: bool = False) -> None:
    import typer

    from mmo.cli.render import StreamPrinter, result_json, result_table, trace_tree
    from mmo.cli.spinner import StepSpinner
    from mmo.cli.terminal import SafeConsole, warning_text

    err = SafeConsole(stderr=True)
    printer = StreamPrinter(sys.stdout, sys.stdout) if stream else None
    stopped: list[RunOutcome] = []
    try:
        with StepSpinner(err) as spinner:
            run = ask(item, AppEnv.from_process(), sink=spinner.until_shown(printer), on_interrupt=stopped.append, on_step=spinner.step)
            result: RunOutcome = run_interruptible(run)
    except KeyboardInterrupt as interruption:
        if not stopped:
            raise
        _report_interrupted(stopped[0], err, interruption)
        raise typer.Exit(exit_code(interruption)) from None
    if printer is not None and printer.closed:
        raise BrokenPipeError  # the answer is logged; its reader has gone (guarded: a quiet exit)
    if json_out:
        shown = result_json(result)
        if item.schema is not None and result.completion is not None:
            shown["json"] = structured_value(result.completion)
        sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
    elif result.completion is not None:
        _write_answer(result.completion, printer, structured=item.schema is not None)
    if not json_out:
        for warning in () if quiet else result.warnings:
            err.print(warning_text(warning), highlight=False)
        if explain:
            if origin:
                err.print(origin, highlight=False, markup=False)
            err.print(trace_tree(result.trace))
        if not quiet:
            err.print(result_table(result))
    if result.error is not None:
        if not json_out:
            err.print(message(result.error), highlight=False, markup=False)
        raise typer.Exit(exit_code(result.error))


def _write_answer(completion: Completion, printer: StreamPrinter | None, *, structured: bool = False) -> None:
    """The answer on standard output: the streamed text's last line ended, or the whole text; an
    answer that calls tools as its JSON object (``mmo.app.tools``), after any text streamed; an
    answer to ``--schema`` as its JSON alone (any code fence dropped), for ``jq`` and friends."""
    from mmo.cli.render import answer_text

    if structured and not completion.tool_calls:
        sys.stdout.write(answer_text(json.dumps(structured_value(completion), ensure_ascii=False, indent=2), sys.stdout) + "\n")
    elif printer is not None and printer.shown_any:
        printer.finish()
    elif not completion.tool_calls:
        sys.stdout.write(answer_text(completion.text, sys.stdout).rstrip("\n") + "\n")
    if completion.tool_calls:
        sys.stdout.write(answer_text(tool_answer_text(completion, indent=2), sys.stdout) + "\n")
    sys.stdout.flush()


def _report_interrupted(outcome: RunOutcome, err: Console, interruption: KeyboardInterrupt) -> None:
    """Ctrl-C (or SIGTERM, SIGHUP) in flight: what was spent, and where the run log keeps it."""
    import contextlib

    from mmo.cli.render import money

    short = outcome.run_id[:8]
    spent = money(outcome.total_cost)
    how = f" ({interruption.name})" if isinstance(interruption, Terminated) else ""
    with contextlib.suppress(OSError):  # standard error is gone (SIGHUP: the terminal closed)
        err.print(
            f"interrupted{how}: {spent} spent so far (calls in flight counted as estimated); logged as run {short} (`mmo logs show {short}`)",
            highlight=False, markup=False,
        )
