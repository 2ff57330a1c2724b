"""A bench report and a comparison in the terminal, within 80 columns.

``render_summary`` prints per target its accuracy, its cost, its latency and tokens, and its
errors (four tables, so each fits), the accuracy per category (one column per target, headed by
its letter, in as many tables as the width needs), the scatter plot of cost against accuracy
(``bench_plot``, the same letters), and notes on what a figure leaves out (results missing,
unknown costs, results for tasks not in the set). Long names wrap inside their column rather
than being cut. ``render_comparison`` prints the change per target, the tasks that flipped (the
first 20 each way; ``--json`` has them all), and what changed in the lockfiles.

Every name and id shown comes from a user's files: it is shown as escaped, literal text (no
console markup, no control characters).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from mmo.app.bench.axes import marker
from mmo.cli.formats import dollars, millis, plural
from mmo.core.shown import shown_line

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from mmo.app.bench.compare import Comparison, TargetChange
    from mmo.app.bench.report import BenchSummary, CategorySummary, TargetSummary

FRONTIER_MARK = "◆"
MAX_FLIPS_SHOWN = 20  # task ids listed per target and direction; --json has them all


def render_summary(console: Console, summary: BenchSummary) -> None:
    title = f"bench {summary.title}: " if summary.title else "bench: "
    console.print(_text(title + plural(summary.task_count, "task"), style="bold"))
    if not summary.targets:
        console.print(_text("no results to report"))
        return
    tables = (accuracy_table(summary), cost_table(summary), speed_table(summary), errors_table(summary), *category_tables(summary, console.width))
    for table in tables:
        if table is not None:
            console.print(table)
    render_plot(console, summary)
    for note in summary_notes(summary):
        console.print(_text(note))


def _text(value: str, style: str = "") -> Text:
    from rich.text import Text

    return Text(shown_line(value), style=style)


def _table(title: str) -> Table:
    from rich.table import Table

    return Table(title=title, title_justify="left", title_style="bold", box=None, header_style="bold", pad_edge=False, caption_justify="left")


def _target_columns(table: Table) -> None:
    """The target's letter (as in the plot and the per-category columns) and its name, which
    wraps within its column when long rather than being cut."""
    table.add_column("", no_wrap=True)
    table.add_column("target", overflow="fold", ratio=1, min_width=12)


def _target_cells(summary: BenchSummary, index: int) -> list[Any]:
    return [marker(index), _text(summary.targets[index].target)]


def accuracy_table(summary: BenchSummary) -> Table:
    table = _table("accuracy")
    _target_columns(table)
    for header in ("correct", "accuracy", "95% interval", ""):
        table.add_column(header, justify="right", no_wrap=True)
    for index, t in enumerate(summary.targets):
        table.add_row(*_target_cells(summary, index), f"{t.correct}/{t.tasks}", _percent(t.accuracy), _interval(t), FRONTIER_MARK if t.on_frontier else "")
    table.caption = (
        "correct / results: an error or an answer the check could not judge is not correct; 95% interval: Wilson's; "
        f"{FRONTIER_MARK} on the cost/accuracy frontier: no other target is both cheaper per task and more accurate"
    )
    return table


def cost_table(summary: BenchSummary) -> Table:
    table = _table("cost")
    _target_columns(table)
    for header in ("cost", "per task", "per correct") + (("judge cost",) if summary.has_judge else ()):
        table.add_column(header, justify="right", no_wrap=True)
    for index, t in enumerate(summary.targets):
        cells = [
            *_target_cells(summary, index), _cost(t.known_cost_usd, t.unknown_cost), dollars(t.cost_per_task) if t.tasks else "-",
            dollars(t.cost_per_correct) if t.correct else "-",
        ]  # fmt: skip
        if summary.has_judge:
            cells.append(_cost(t.known_judge_cost_usd, t.unknown_judge_cost))
        table.add_row(*cells)
    notes = []
    if any(t.unknown_cost or t.unknown_judge_cost for t in summary.targets):
        notes.append("+ ?: plus costs some results did not record (never counted as $0: see the notes below)")
    if summary.has_judge:
        notes.append("judge cost: the LLM judge's own calls, not in the target's cost")
    table.caption = "; ".join(notes) or None
    return table


def _cost(known: float, unknown: int) -> str:
    """A sum some of whose parts are unknown, kept short for a table: ``$0.0123 + ?``, or
    ``unknown`` when nothing known was spent (the notes give the counts)."""
    if not unknown:
        return dollars(known)
    return "unknown" if known == 0 else f"{dollars(known)} + ?"


def speed_table(summary: BenchSummary) -> Table:
    table = _table("latency and tokens")
    _target_columns(table)
    for header in ("p50", "p95") + (("TTFT p50",) if summary.has_ttft else ()) + ("tokens in/out",):
        table.add_column(header, justify="right", no_wrap=True)
    for index, t in enumerate(summary.targets):
        cells: list[Any] = [*_target_cells(summary, index), millis(t.p50_latency_ms), millis(t.p95_latency_ms)]
        if summary.has_ttft:
            cells.append(millis(t.p50_ttft_ms))
        cells.append(f"{_count(t.input_tokens)}/{_count(t.output_tokens)}" + (" + ?" if t.unknown_tokens else ""))
        table.add_row(*cells)
    notes = ["latency over every result that recorded one, failures included"]
    if summary.has_ttft:
        notes.append("TTFT: time to first token, where the run streamed")
    if any(t.unknown_tokens for t in summary.targets):
        notes.append("+ ?: some answers recorded no token counts")
    table.caption = "; ".join(notes)
    return table


def errors_table(summary: BenchSummary) -> Table | None:
    """Errors by class, for the targets that had any."""
    if not any(t.errors for t in summary.targets):
        return None
    table = _table("errors")
    _target_columns(table)
    table.add_column("failed", justify="right", no_wrap=True)
    table.add_column("by class", overflow="fold", ratio=1)
    for index, t in enumerate(summary.targets):
        if t.errors:
            table.add_row(*_target_cells(summary, index), f"{t.tasks - t.answered}/{t.tasks}", _text(", ".join(f"{name} {count}" for name, count in t.errors)))
    return table


def category_tables(summary: BenchSummary, width: int) -> list[Table]:
    """Accuracy per category, one column per target (headed by its letter), in as many tables
    as ``width`` needs; the best accuracy of each category in bold."""
    if len(summary.categories) < 2:
        return []
    category_width = min(20, max(len(c.category) for c in summary.categories))
    per_table = max(1, (width - category_width - len("  tasks")) // len("  100.0%"))
    indexes = list(range(len(summary.targets)))
    groups = [indexes[i : i + per_table] for i in range(0, len(indexes), per_table)]
    tables = []
    for number, group in enumerate(groups, start=1):
        table = _table("accuracy per category" + (f" ({number} of {len(groups)})" if len(groups) > 1 else ""))
        table.add_column("category", overflow="fold", max_width=20)
        table.add_column("tasks", justify="right", no_wrap=True)
        for index in group:
            table.add_column(_category_header(index), justify="right", no_wrap=True)
        for category in summary.categories:
            table.add_row(_text(category.category), str(category.tasks), *_category_cells(category, group))
        table.caption = "columns: the targets by their letter in the tables above; the best of each category in bold"
        tables.append(table)
    return tables


def _category_header(index: int) -> str:
    return marker(index) or f"#{index + 1}"


def _category_cells(category: CategorySummary, group: Sequence[int]) -> list[Text]:
    best = max((t.accuracy for t in category.targets if t.accuracy is not None), default=None)
    cells = []
    for index in group:
        accuracy = category.targets[index].accuracy
        cells.append(_text(_percent(accuracy), style="bold" if accuracy is not None and accuracy == best else ""))
    return cells


def render_plot(console: Console, summary: BenchSummary) -> None:
    from rich.text import Text

    from mmo.cli.bench_plot import placed, plottable, scatter

    points = placed(summary.targets)
    if not points:
        console.print(_text("no target has a known cost: the cost/accuracy plot is left out"))
        return
    console.print(Text(scatter(points, console.width)), no_wrap=True, crop=False)
    left_out = len(plottable(summary.targets)) - len(points)
    if left_out:
        console.print(_text(f"{plural(left_out, 'more target')} not drawn: the plot has {len(points)} markers (the tables list every target)"))


def summary_notes(summary: BenchSummary) -> list[str]:
    notes = []
    for t in summary.targets:
        if t.missing:
            notes.append(f"{t.target}: {plural(t.missing, 'task')} with no result (a run stopped early?): the figures cover {plural(t.tasks, 'result')}")
        if t.unknown_cost:
            notes.append(f"{t.target}: the cost of {plural(t.unknown_cost, 'result')} is unknown: no total, no cost per task, not placed on the frontier")
        if t.unjudged:
            notes.append(f"{t.target}: {plural(t.unjudged, 'answer')} could not be judged by the check: counted as not correct")
    if summary.stray_results:
        verb = "was" if summary.stray_results == 1 else "were"
        notes.append(f"{plural(summary.stray_results, 'result')} for tasks not in the task set {verb} left out")
    return notes


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _interval(t: TargetSummary) -> str:
    if not t.tasks:
        return "-"
    low, high = t.interval
    return f"{100 * low:.1f}-{100 * high:.1f}%"


def _count(value: int) -> str:
    if value < 100_000:
        return str(value)
    return f"{value / 1_000_000:.2f}M" if value >= 1_000_000 else f"{value / 1000:.0f}k"


def render_comparison(console: Console, comparison: Comparison) -> None:
    console.print(_text(f"compared with {comparison.previous}{_created(comparison.previous_created)}", style="bold"))
    console.print(_text(f"current run: {comparison.current}{_created(comparison.current_created)}"))
    if comparison.targets:
        console.print(change_table(comparison))
    for change in comparison.targets:
        for line in _flip_lines(change):
            console.print(line)
    for note in comparison.lock_notes:
        console.print(_text(note))
    locks = lock_table(comparison)
    if locks is not None:
        console.print(locks)
    elif not comparison.lock_notes:
        console.print(_text("the lockfiles agree: same resolved models, prices, profiles and task set"))
    for name in comparison.only_previous:
        console.print(_text(f"{name}: only in the previous run, not compared"))
    for name in comparison.only_current:
        console.print(_text(f"{name}: new in this run, not compared"))
    console.print(_verdict(comparison))


def _created(created: str | None) -> str:
    return f" (created {created})" if created else ""


def change_table(comparison: Comparison) -> Table:
    table = _table(f"accuracy on the tasks both runs have; McNemar's test at the {100 * comparison.level:g}% level")
    table.add_column("target", overflow="fold", ratio=1, min_width=12)
    for header in ("tasks", "before", "after", "→wrong", "→right", "p"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("change", overflow="fold")
    for change in comparison.targets:
        table.add_row(
            _text(change.target), str(change.paired), _percent(change.accuracy_before), _percent(change.accuracy_after),
            str(len(change.right_to_wrong)), str(len(change.wrong_to_right)), _p_value(change.test.p_value), _change_word(change),
        )  # fmt: skip
    table.caption = "→wrong: tasks right before and wrong now (an error counts as wrong); →right: the reverse"
    return table


def _p_value(p: float) -> str:
    return "<0.0001" if p < 0.0001 else f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def _change_word(change: TargetChange) -> Text:
    if change.regressed:
        return _text("regression", style="bold red")
    if change.improved:
        return _text("improvement", style="green")
    return _text("not significant" if change.right_to_wrong or change.wrong_to_right else "none")


def _flip_lines(change: TargetChange) -> Iterable[Text]:
    worse = [f.task_id + (f" ({f.error_class})" if f.error_class else "") for f in change.right_to_wrong]
    better = [f.task_id for f in change.wrong_to_right]
    for label, ids in (("right → wrong", worse), ("wrong → right", better)):
        if ids:
            shown = ", ".join(ids[:MAX_FLIPS_SHOWN])
            more = f", and {len(ids) - MAX_FLIPS_SHOWN} more (--json lists them all)" if len(ids) > MAX_FLIPS_SHOWN else ""
            yield _text(f"{change.target}, {label} ({len(ids)}): {shown}{more}")


def lock_table(comparison: Comparison) -> Table | None:
    if not comparison.lock_changes:
        return None
    table = _table("what changed in the lockfile")
    for header in ("what", "before", "now"):
        table.add_column(header, overflow="fold", ratio=1)
    for change in comparison.lock_changes:
        before = "(absent)" if change.kind == "added" else _value(change.before)
        after = "(absent)" if change.kind == "removed" else _value(change.after)
        table.add_row(_text(" / ".join(change.path)), _text(before), _text(after))
    return table


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _verdict(comparison: Comparison) -> Text:
    if comparison.regressed:
        names = ", ".join(comparison.regressions)
        return _text(f"significant regression ({names}) at the {100 * comparison.level:g}% level", style="bold red")
    return _text(f"no significant regression at the {100 * comparison.level:g}% level")
