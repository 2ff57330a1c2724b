"""``mmo tune`` run and shown: the objective from the flags, the ``tune`` use case, the profile
written, and a table of the chosen strategy beside the best single model and the oracle, on
train and test, then the frontier found on train. Progress goes to standard error."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import typer

from mmo.core.errors import ConfigError

if TYPE_CHECKING:
    from mmo.app.bench.tune import TuneOutcome
    from mmo.app.bench.tune_objective import Objective
    from mmo.app.bench.tune_profile import Written
    from mmo.app.bench.tune_sim import Figures

FRONTIER_ROWS = 12
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TuneArgs:
    bench: str
    name: str | None
    output: str | None
    force: bool
    max_cost: float | None
    min_accuracy: float | None  # a percentage
    beat: str | None
    frontier: bool
    models: str | None
    replay: str | None
    learned: bool
    json_out: bool


def objective_of(args: TuneArgs) -> Objective:
    from mmo.app.bench.tune_objective import Objective

    given = [flag for flag, value in (("--max-cost", args.max_cost), ("--min-accuracy", args.min_accuracy), ("--beat", args.beat), ("--frontier", args.frontier)) if value]
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} ask for different things: give one objective")
    if args.frontier and (args.name or args.output):
        raise ConfigError("--frontier chooses nothing to write: drop --name / -o, or choose with --max-cost, --min-accuracy or --beat")
    if args.name and args.output:
        raise ConfigError("--name and -o both say where to write the profile: give one")
    if args.max_cost is not None:
        return Objective("max-cost", args.max_cost)
    if args.min_accuracy is not None:
        return Objective("min-accuracy", args.min_accuracy / 100)
    if args.beat is not None:
        return Objective("beat", profile=args.beat)
    return Objective("frontier") if args.frontier else Objective()


def run_tune(args: TuneArgs) -> None:
    from mmo.app.bench.tune import TuneRequest, save, tune
    from mmo.app.settings import AppEnv

    objective = objective_of(args)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip()) if args.models else None
    name = args.name or "tuned"
    request = TuneRequest(args.bench, models, objective, args.learned, args.replay, name)
    env = AppEnv.from_process()
    progress = None if args.json_out else _progress
    outcome = asyncio.run(tune(request, env, progress))
    written = save(outcome, env, name=args.name, output=args.output, force=args.force) if (args.name or args.output) else None
    if args.json_out:
        data = outcome.to_json()
        if written is not None:
            data["written"] = {"profile": str(written.profile), "router": str(written.router) if written.router else None}
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _show(outcome, written, args.name or (str(written.profile) if written else ""))


def _progress(message: str) -> None:
    from mmo.core.shown import shown_line

    sys.stderr.write(f"tune: {shown_line(message)}\n")
    sys.stderr.flush()


def _show(outcome: TuneOutcome, written: Written | None, reference: str) -> None:
    from rich.text import Text

    from mmo.cli.terminal import SafeConsole, warning_text

    console = SafeConsole()
    s = outcome.tune_set
    console.print(f"bench run {s.bench_id}: {s.train.size + s.test.size:,} tasks (train {s.train.size:,}, test {s.test.size:,}), {len(s.labels)} models")
    for why, count in s.left_out.items():
        console.print(warning_text(f"left out: {count:,} {why}", label="note"))
    seconds = ", ".join(f"{k} {v:.1f} s" for k, v in outcome.seconds.items())
    console.print(f"{outcome.tried:,} strategies tried ({seconds})")
    console.print(f"objective: {outcome.objective.describe(outcome.best_single, outcome.names)}")
    if outcome.chosen is not None and outcome.measured is not None:
        console.print()
        console.print(_figures_table(outcome))
        m = outcome.measured
        console.print(f"best single: {outcome.describe(outcome.best_single.node)} (the most accurate on train); oracle: the cheapest right model of each task")
        if m.selected is not None:
            console.print(f"chosen on {m.selected.tasks:,} train tasks (fitted on the other {outcome.halves[0]:,}): {_pct(m.selected)} at {_usd(m.selected)}")
        console.print(Text("chosen: ", style="bold") + Text(outcome.describe(outcome.chosen.node)))
        if not any(outcome.mismatched.values()):
            console.print("the live run on the recorded answers gave the simulated answer and cost on every task, train and test")
    console.print()
    console.print(_frontier_table(outcome))
    for warning in outcome.warnings:
        console.print(warning_text(warning))
    if written is not None:
        console.print(Text("wrote ", style="bold") + Text(str(written.profile)) + (Text(f" and its router model {written.router}") if written.router else Text("")))
        console.print(f"try it: mmo ask --profile {reference} --explain \"...\"   or   mmo batch -P {reference} tasks.jsonl")


def _figures_table(outcome: TuneOutcome) -> object:
    from rich.table import Table

    assert outcome.measured is not None
    reference = outcome.baselines[0].test.cost_usd or 1.0
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("", "train right", "$/task", "test right", "$/task", "cost vs best"):
        table.add_column(column, justify="left" if not column else "right")
    short = ["best single", "oracle", *(f"profile {outcome.objective.profile}" for _ in outcome.baselines[2:])]
    rows = [("chosen", outcome.measured.train, outcome.measured.test)] + [(name, b.train, b.test) for name, b in zip(short, outcome.baselines, strict=True)]
    for label, train, test in rows:
        table.add_row(label, _pct(train), _usd(train), _pct(test), _usd(test), f"{100 * test.cost_usd / reference:.1f}%")
    return table


def _frontier_table(outcome: TuneOutcome) -> object:
    from rich.table import Table

    front = list(outcome.frontier)
    shown = front if len(front) <= FRONTIER_ROWS or outcome.chosen is None else _spread(front, FRONTIER_ROWS)
    title = f"the cost/accuracy frontier on the {outcome.halves[1]:,} train tasks that choose ({len(front)} strategies{'' if shown is front else f', {len(shown)} shown'})"
    table = Table(title=title, box=None, pad_edge=False, header_style="bold", title_justify="left")
    for column in ("right", "$/task", "kind", "strategy"):
        table.add_column(column, justify="right" if column in ("right", "$/task") else "left", overflow="fold")
    for candidate in shown:
        marker = " *" if candidate is outcome.chosen else ""
        table.add_row(_pct(candidate.select), _usd(candidate.select), candidate.kind + marker, outcome.describe(candidate.node))
    return table


def _spread(items: list[T], count: int) -> list[T]:
    step = (len(items) - 1) / (count - 1)
    return [items[round(k * step)] for k in range(count)]


def _pct(figures: Figures) -> str:
    return f"{100 * figures.accuracy:.1f}%"


def _usd(figures: Figures) -> str:
    return f"${figures.cost_per_task:.6f}"
