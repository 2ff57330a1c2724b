"""``mmo logs stats`` on a terminal (a table and a bar chart of spend that fit 80 columns, plain
characters only), as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from mmo.cli.formats import millis

if TYPE_CHECKING:
    from rich.table import Table

    from mmo.app.log_stats import UsageGroup, UsageReport

BAR_WIDTH = 30
COLUMNS = ("calls", "errors", "spent_usd", "unknown_cost_calls", "input_tokens", "output_tokens", "p50_ms", "p95_ms")


def usage_table(report: UsageReport) -> Table:
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False, collapse_padding=True)
    table.add_column(report.by, overflow="fold", ratio=1)
    for column in ("calls", "errors", "spent", "unpriced", "tokens in/out", "p50", "p95"):
        table.add_column(column, justify="right", no_wrap=True)
    for group in report.groups:
        table.add_row(group.group, str(group.calls), str(group.errors), _usd(group.spent_usd), str(group.unknown_cost_calls),
                      f"{group.input_tokens}/{group.output_tokens}", millis(group.p50_ms), millis(group.p95_ms))
    if len(report.groups) > 1:
        total = _total(report.groups)
        table.add_row("total", str(total["calls"]), str(total["errors"]), _usd(total["spent_usd"]), str(total["unknown_cost_calls"]),
                      f"{total['input_tokens']}/{total['output_tokens']}", "", "", style="bold")
    return table


def spend_bars(report: UsageReport) -> list[str]:
    """One line per group: its spend as a bar of ``#`` (no colour needed), scaled to the largest."""
    largest = max((group.spent_usd for group in report.groups), default=0.0)
    if largest <= 0:
        return []
    width = max(len(group.group) for group in report.groups)
    lines = []
    for group in report.groups:
        filled = round(BAR_WIDTH * group.spent_usd / largest)
        label = group.group if len(group.group) <= 24 else group.group[:23] + "~"
        lines.append(f"{label:<{min(width, 24)}} {'#' * filled}{' ' * (BAR_WIDTH - filled)} {_usd(group.spent_usd)}")
    return lines


def budget_line(report: UsageReport) -> str | None:
    budget = report.budget
    if budget is None:
        return None
    return (f"daily budget of {budget.profile}: {_usd(budget.spent_today_usd)} of {_usd(budget.daily_usd)} used today (UTC), "
            f"{_usd(budget.left_usd)} left")


def usage_json(report: UsageReport) -> dict[str, Any]:
    budget = report.budget
    return {
        "by": report.by,
        "since": report.since.isoformat() if report.since else None,
        "until": report.until.isoformat() if report.until else None,
        "groups": [{"group": g.group, **{name: getattr(g, name) for name in COLUMNS}} for g in report.groups],
        "budget": None if budget is None else {"profile": budget.profile, "daily_usd": budget.daily_usd,
                                               "spent_today_usd": budget.spent_today_usd, "left_usd": budget.left_usd},
    }


def usage_csv(report: UsageReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([report.by, *COLUMNS])
    for group in report.groups:
        writer.writerow([safe_cell(group.group), *(getattr(group, name) for name in COLUMNS)])
    return out.getvalue()


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (= + - @, a tab or a carriage return
    at its start)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _total(groups: list[UsageGroup]) -> dict[str, Any]:
    return {name: sum(getattr(g, name) for g in groups) for name in ("calls", "errors", "spent_usd", "unknown_cost_calls", "input_tokens", "output_tokens")}


def _usd(value: float) -> str:
    return "$0" if value == 0 else f"${value:.6f}" if value < 0.01 else f"${value:.2f}"
