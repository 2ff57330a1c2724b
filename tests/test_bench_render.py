"""The bench report in the terminal: at 80 columns nothing a user needs is cut (every table holds
the same characters as at 400 columns, only wrapped), the plot has one letter per target with a
known cost, names from users' files are shown literally, and plotext is loaded only to plot."""

from __future__ import annotations

import io
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from typing import Any, Callable

import pytest

from mmo.app.bench.compare import compare
from mmo.app.bench.report import BenchSummary, summarize
from mmo.app.bench.results import TaskResult
from mmo.app.bench.stored import StoredRun
from mmo.app.bench.tasks import Task
from mmo.cli.bench_render import (
    MAX_FLIPS_SHOWN,
    accuracy_table,
    category_tables,
    change_table,
    cost_table,
    errors_table,
    lock_table,
    render_comparison,
    render_summary,
    speed_table,
)
from mmo.cli.terminal import SafeConsole
from tests.bench_report_data import LOCK_AFTER, LOCK_BEFORE

NAMES = [
    "replay:gpt-4o-2024-05-13",
    "replay:claude-3-5-sonnet-20241022",
    "replay:gemini-1.5-flash-002",
    "replay:Meta-Llama-3.1-405B-Instruct-Turbo-with-a-name-longer-than-the-screen-is-wide-ever",
    "replay:gpt-4o-mini-2024-07-18",
    "profile:cascade-agree",
    "profile:[bold]marked[/bold]",
    "replay:unknown-price-model",
]
CATEGORIES = ["biology", "business", "computer science", "engineering", "health", "law", "math", "a category with a very long name indeed"]


def bench_summary() -> BenchSummary:
    rng = random.Random(3)
    tasks = [Task(id=f"q{i}", messages=(), category=CATEGORIES[i % len(CATEGORIES)], check={"kind": "judge" if i % 5 == 0 else "choice"}) for i in range(64)]
    rows = []
    for j, name in enumerate(NAMES):
        price = None if name.endswith("unknown-price-model") else [0.0025, 0.003, 0.00008, 0.0035, 0.00015, 0.0002, 0.0004][j]
        for t in tasks:
            failed = rng.random() < 0.05
            rows.append(TaskResult(
                t.id, name, None if failed else "A", None if failed else rng.random() < 0.4 + 0.06 * j,
                cost_usd=None if price is None else price * 1234.5678, judge_cost_usd=0.00012345 if t.id.endswith("0") else None,
                latency_ms=rng.uniform(300, 19000), ttft_ms=rng.uniform(100, 900) if j < 3 else None,
                input_tokens=None if failed else 123456, output_tokens=None if failed else 45678,
                error_class=rng.choice(["RateLimited", "ProviderUnavailableError", "Timeout"]) if failed else None,
            ))  # fmt: skip
    return summarize(rows, tasks, title="b-20261201-120000")


def rendered(width: int, draw: Callable[[SafeConsole], Any]) -> str:
    console = SafeConsole(width=width, file=io.StringIO(), force_terminal=False, color_system=None)
    draw(console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def characters(text: str) -> Counter[str]:
    return Counter(char for char in text if not char.isspace())


def assert_fits_and_keeps_everything(table: Any) -> None:
    narrow = rendered(80, lambda console: console.print(table))
    wide = rendered(400, lambda console: console.print(table))
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    assert characters(narrow) == characters(wide), narrow  # wrapped, never cut or shortened
    assert "…" not in narrow


def test_every_summary_table_fits_80_columns_and_drops_nothing() -> None:
    summary = bench_summary()
    errors = errors_table(summary)
    assert errors is not None
    tables = [accuracy_table(summary), cost_table(summary), speed_table(summary), errors, *category_tables(summary, 80)]
    for table in tables:
        assert_fits_and_keeps_everything(table)
    wide = rendered(400, lambda console: [console.print(t) for t in tables[:4]])
    for target in summary.targets:
        assert wide.count(target.target) == 3 + bool(target.errors)  # in each per-target table; the errors one if it failed
    assert "unknown" in rendered(400, lambda console: console.print(cost_table(summary)))  # never $0


def test_the_category_tables_split_the_targets_to_fit_and_cover_each_once() -> None:
    summary = bench_summary()
    tables = category_tables(summary, 80)
    assert len(tables) == 2
    headers = [str(column.header) for table in tables for column in table.columns[2:]]
    assert headers == list("ABCDEFGH")
    assert len(category_tables(summary, 400)) == 1


def test_whole_summary_at_80_columns() -> None:
    summary = bench_summary()
    output = rendered(80, lambda console: render_summary(console, summary))
    assert max(len(line) for line in output.splitlines()) <= 80
    assert "profile:[bold]marked[/bold]" in output.replace("\n", "") or "[bold]marked" in output  # literal, not markup
    assert "replay:unknown-price-model: the cost of 64 results is unknown" in output.replace("\n", " ")


def plot_canvas(output: str) -> str:
    """The inside of the plot's frame: what lies between its two vertical borders."""
    lines = [line for line in output.splitlines() if line.count("│") + line.count("┤") >= 2]
    return "\n".join(line[line.index(next(c for c in line if c in "│┤")) + 1 : line.rindex("│")] for line in lines)


def test_the_plot_has_one_letter_per_target_with_a_known_cost_and_the_frontier() -> None:
    summary = bench_summary()
    output = rendered(80, lambda console: render_summary(console, summary))
    canvas = plot_canvas(output)
    letters = Counter(char for char in canvas if char.isalpha())
    assert letters == Counter("ABCDEFG")  # H (replay:unknown-price-model) has no known cost
    assert len(summary.frontier) >= 2 and "•" in canvas  # the frontier's dotted line


def test_without_any_known_cost_the_plot_is_left_out_with_a_reason() -> None:
    rows = [TaskResult("q1", "m", "A", True, cost_usd=None)]
    output = rendered(80, lambda console: render_summary(console, summarize(rows, [Task(id="q1", messages=())])))
    assert "no target has a known cost: the cost/accuracy plot is left out" in output


def test_names_are_shown_escaped_and_literal() -> None:
    rows = [TaskResult("q1", "evil\x1b[2J[red]x[/red]:m", "A", True, cost_usd=0.1, error_class=None)]
    output = rendered(80, lambda console: render_summary(console, summarize(rows, [Task(id="q1", messages=(), category="c\x07")])))
    assert "\x1b" not in output and "\x07" not in output
    assert "evil\\x1b[2J[red]x[/red]:m" in output


def comparison_summary(flips: int) -> tuple[StoredRun, StoredRun]:
    before = [TaskResult(f"task-{i:03d}", "replay:gpt-4o-2024-05-13", "A", True) for i in range(60)]
    after = [replace(r, correct=False, answer=None, error_class="Timeout") if i < flips else r for i, r in enumerate(before)]
    return StoredRun("runs/previous", tuple(before), lock=LOCK_BEFORE), StoredRun("runs/current", tuple(after), lock=LOCK_AFTER)


def test_a_comparison_fits_80_columns_and_says_regression() -> None:
    comparison = compare(*comparison_summary(flips=MAX_FLIPS_SHOWN + 5))
    assert_fits_and_keeps_everything(change_table(comparison))
    lock = lock_table(comparison)
    assert lock is not None
    assert_fits_and_keeps_everything(lock)
    output = rendered(80, lambda console: render_comparison(console, comparison))
    flat = " ".join(output.split())
    assert "regression" in flat and "significant regression (replay:gpt-4o-2024-05-13) at the 5% level" in flat
    assert "right → wrong (25): task-000 (Timeout), task-001 (Timeout)" in flat
    assert "task-019 (Timeout), and 5 more (--json lists them all)" in flat and "task-020" not in flat
    assert max(len(line) for line in output.splitlines()) <= 80
    wide = rendered(400, lambda console: render_comparison(console, comparison))
    assert "genai-prices 0.2.3 (2026-10-01)" in wide and "profiles / tuned" in wide


def test_a_comparison_without_change_says_so() -> None:
    previous, current = comparison_summary(flips=0)
    output = rendered(80, lambda console: render_comparison(console, compare(previous, replace(current, lock=LOCK_BEFORE))))
    flat = " ".join(output.split())
    assert "no significant regression at the 5% level" in flat
    assert "the lockfiles agree" in flat


@pytest.mark.parametrize("module", ["mmo.cli.bench_render", "mmo.cli.main"])
def test_plotext_is_loaded_only_to_draw_a_plot(module: str) -> None:
    code = f"import sys, {module}; print('plotext' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
