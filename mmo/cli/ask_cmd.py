"""``mmo ask`` and ``mmo demo``: read the prompt, run the use case, render the result.

The answer goes to standard output; the table, warnings and the trace go to standard error, so
``mmo ask ... > answer.txt`` captures only the answer. With ``--json`` one JSON object goes to
standard output and nothing is streamed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Optional

from mmo.app.ask import AskInput, AskResult, ask
from mmo.app.params import parse_param_pairs
from mmo.app.session import AppEnv, ProfileChoice
from mmo.cli.errors import exit_code, message
from mmo.core.errors import ConfigError


@dataclass(frozen=True)
class AskFlags:
    profile: Optional[str]
    model: Optional[str]
    system: Optional[str]
    param: list[str]
    meta: list[str]
    tag: list[str]
    stream: Optional[bool]
    json_out: bool
    explain: bool
    no_cache: bool
    refresh: bool
    no_log: bool
    fail_fast: bool
    simulate_outage: tuple[str, ...] = ()


def run_ask(prompt: Optional[str], flags: AskFlags) -> None:
    text = _read_prompt(prompt)
    item = AskInput(
        prompt=text,
        choice=ProfileChoice(flags.profile, flags.model),
        system=flags.system,
        params=parse_param_pairs(flags.param),
        metadata={k: str(v) for k, v in parse_param_pairs(flags.meta).items()},
        tags=tuple(flags.tag),
        read_cache=not (flags.no_cache or flags.refresh),
        write_cache=not flags.no_cache,
        log_text=not flags.no_log,
        fail_fast=flags.fail_fast,
        simulate_outage=tuple(flags.simulate_outage),
    )
    stream = flags.stream if flags.stream is not None else sys.stdout.isatty()
    _run_and_render(item, stream=stream and not flags.json_out, json_out=flags.json_out, explain=flags.explain)


def run_demo(task_id: Optional[str], *, profile: str = "demo", explain: bool, json_out: bool) -> None:
    from mmo.app.demo import demo_task

    task = demo_task(task_id)
    if not json_out:
        from rich.console import Console

        console = Console(stderr=True)
        console.print(f"[bold]Demo:[/] task {task.id} from the bundled MMLU-Pro sample, answered by the offline {profile!r} profile\n")
        console.print(task.prompt, style="dim", highlight=False, markup=False)
        console.print()
    item = AskInput(prompt=task.prompt, choice=ProfileChoice(profile), metadata={"id": task.id})
    _run_and_render(item, stream=False, json_out=json_out, explain=explain)


def _read_prompt(prompt: Optional[str]) -> str:
    if prompt is not None and prompt != "-":
        text = prompt
    elif sys.stdin is None or sys.stdin.isatty():
        raise ConfigError("no prompt: pass it as an argument or pipe it on standard input")
    else:
        text = sys.stdin.read()
    if not text.strip():
        raise ConfigError("the prompt is empty")
    return text


def _run_and_render(item: AskInput, *, stream: bool, json_out: bool, explain: bool) -> None:
    import typer
    from rich.console import Console

    from mmo.cli.render import StreamPrinter, result_json, result_table, trace_tree

    err = Console(stderr=True)
    printer = StreamPrinter(sys.stdout, sys.stdout) if stream else None
    result: AskResult = asyncio.run(ask(item, AppEnv.from_process(), sink=printer))
    if json_out:
        sys.stdout.write(json.dumps(result_json(result), ensure_ascii=False, indent=2) + "\n")
    elif result.completion is not None:
        if printer is not None and printer.shown_any:
            printer.finish()
        else:
            sys.stdout.write(result.completion.text.rstrip("\n") + "\n")
            sys.stdout.flush()
    if not json_out:
        for warning in result.warnings:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if explain:
            err.print(trace_tree(result.trace))
        err.print(result_table(result))
    if result.error is not None:
        if not json_out:
            err.print(message(result.error), highlight=False, markup=False)
        raise typer.Exit(exit_code(result.error))
