"""``mmo demo`` without ``--id``: the point of mmo on one screen. The bundled sample's accuracy
and cost for every recorded model and for the profiles that route between them (the frontier
marked), the plot, one question the cheapest model got wrong and the routing profile got right
with its trace, and the commands to try next. It is all for reading: all of it goes to standard
output."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from mmo.app.bench.report import BenchSummary
    from mmo.app.demo import DemoOverview

REFERENCE_MODEL = "gpt4o"  # costs are shown as a share of the strongest single model's


def run_demo_overview() -> None:
    from mmo.app.demo import demo_overview
    from mmo.app.settings import AppEnv
    from mmo.cli.terminal import SafeConsole

    out = SafeConsole()
    overview = asyncio.run(demo_overview(AppEnv.from_process()))
    render_overview(out, overview)
    sys.stdout.flush()


def render_overview(console: Console, overview: DemoOverview) -> None:
    from rich.text import Text

    from mmo.cli.bench_render import render_plot

    console.print(
        Text.assemble(
            ("mmo demo", "bold"),
            f": {overview.summary.targets[0].tasks} MMLU-Pro questions, the real recorded answers of eight models, "
            "and profiles that route between them. Offline: no key, no network.",
        )
    )
    console.print(compact_table(overview.summary))
    render_plot(console, overview.summary)
    _showcase(console, overview)
    _next_steps(console, overview)


def compact_table(summary: BenchSummary) -> Table:
    """One row per target: accuracy, cost per question, cost as a share of gpt-4o's, frontier."""
    from rich.table import Table
    from rich.text import Text

    from mmo.app.bench.axes import marker
    from mmo.cli.formats import dollars

    reference = next((t.cost_usd for t in summary.targets if t.target == REFERENCE_MODEL), None)
    table = Table(box=None, pad_edge=False, title_justify="left")
    table.add_column("")
    table.add_column("target", overflow="fold")
    table.add_column("accuracy", justify="right")
    table.add_column("per question", justify="right")
    table.add_column("vs gpt4o cost", justify="right")
    table.add_column("", justify="left")
    for index, target in enumerate(summary.targets):
        share = f"{target.cost_usd / reference * 100:.1f}%" if reference and target.cost_usd is not None else "-"
        accuracy = f"{target.accuracy * 100:.1f}%" if target.accuracy is not None else "-"
        style = "bold" if target.target.startswith("profile:") else ""
        table.add_row(marker(index), Text(target.target, style=style), accuracy, dollars(target.cost_per_task), share, "◆ frontier" if target.on_frontier else "")
    return table


def _showcase(console: Console, overview: DemoOverview) -> None:
    from rich.text import Text

    from mmo.cli.formats import dollars
    from mmo.cli.render import trace_tree

    task, cheap = overview.task, overview.cheap_answer
    first_line = task.prompt.splitlines()[0] if task.prompt else ""
    shown = first_line if len(first_line) <= 150 else first_line[:149] + "…"
    console.print()
    console.print(Text.assemble(("One question", "bold"), f" ({task.id}, reference answer {task.reference}): ", (shown, "dim")))
    mark = "✓" if cheap.correct else "✗"
    console.print(Text(f"  flash alone answered {cheap.extracted or 'nothing'} {mark} for {dollars(cheap.cost_usd)}"))
    routed = overview.routed
    console.print(Text(f"  profile {overview.profile} routed it:"))
    console.print(trace_tree(routed.trace))
    verdict = "✓ right" if overview.routed_correct else "✗ wrong"
    console.print(Text(f"  and answered {overview.routed_letter or 'nothing'} {verdict}, for {dollars(routed.total_cost.usd if routed.total_cost else None)}"))


def _category_meta(overview: DemoOverview) -> str:
    """The question's category as ``mmo ask --meta`` passes it (router rules may read it)."""
    import shlex

    category = overview.task.category
    return f" --meta {shlex.quote('category=' + category)}" if category else ""


def _next_steps(console: Console, overview: DemoOverview) -> None:
    from rich.text import Text

    steps = (
        ("see why", f'mmo ask -P {overview.profile} --explain --meta id={overview.task.id}{_category_meta(overview)} "MMLU-Pro question"'),
        ("bench it yourself", "mmo bench builtin:mmlu_pro_sample -P demo --models flash,pro,gpt4o --profiles cascade-agree,tuned --report bench.html"),
        ("tune your own", "mmo tune --name mine   (then: mmo ask -P mine ...)"),
        ("the full set", "mmo bench builtin:mmlu_pro -P demo --models flash,pro,gpt4o --replay-data mmlu_pro"),
        ("your own models", "mmo keys set openai   (then: mmo ask -m openai:gpt-4o-mini \"...\")"),
    )
    console.print()
    console.print(Text("Next:", style="bold"))
    for what, command in steps:
        console.print(Text(f"  {what}:"))
        console.print(Text(f"    {command}", style="cyan"), overflow="fold")
