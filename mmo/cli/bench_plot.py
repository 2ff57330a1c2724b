"""The terminal scatter plot of a bench report: cost per task against accuracy, one letter per
target (the letter the report's tables give it), the cost/accuracy frontier drawn as a dotted
line through its targets.

Drawn with plotext (imported only here, when a plot is drawn, so that ``mmo --version`` and
every other command start without it) as plain text, so that it reads the same in a terminal,
a log or a CI job. The axes follow ``mmo.app.bench.axes`` (log cost when costs span ten times
or more), as the HTML report's chart does. A target whose cost is unknown cannot be placed:
the caller lists it apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from mmo.app.bench.axes import accuracy_axis, cost_axis, marker
from mmo.app.bench.report import TargetSummary

MAX_WIDTH = 100
HEIGHT = 18


@dataclass(frozen=True, slots=True)
class Placed:
    marker: str
    target: TargetSummary
    cost: float  # per task, USD
    accuracy: float  # percent


def plottable(targets: Sequence[TargetSummary]) -> list[TargetSummary]:
    """The targets that can be placed: a known cost and at least one result."""
    return [t for t in targets if t.cost_per_task is not None and t.accuracy is not None]


def placed(targets: Sequence[TargetSummary]) -> list[Placed]:
    """The plottable targets that have a marker, in the report's order (the caller says which
    were left out)."""
    points = []
    for index, target in enumerate(targets):
        if target.cost_per_task is not None and target.accuracy is not None and marker(index):
            points.append(Placed(marker(index), target, target.cost_per_task, 100 * target.accuracy))
    return points


def scatter(points: Sequence[Placed], width: int) -> str:
    """The plot as plain text, at most ``width`` columns wide."""
    import plotext

    figure = plotext.figure
    figure.clear()
    try:
        return _draw(figure, points, min(width, MAX_WIDTH))
    finally:
        figure.clear()  # plotext keeps one figure per process: leave nothing behind


def _draw(figure: Any, points: Sequence[Placed], width: int) -> str:
    x_axis = cost_axis([p.cost for p in points])
    y_axis = accuracy_axis([p.accuracy for p in points])

    # A log axis is drawn as log10(cost) on a linear one, ticks labelled in dollars: plotext's own
    # log scale drops the points once ticks are set by hand.
    def x(cost: float) -> float:
        return math.log10(cost) if x_axis.log else cost

    figure.plot_size(width, HEIGHT)
    figure.theme("clear")
    frontier = sorted((p for p in points if p.target.on_frontier), key=lambda p: (p.cost, -p.accuracy))
    if len(frontier) > 1:
        line = figure.signal([x(p.cost) for p in frontier], [p.accuracy for p in frontier], marker="dot")
        line.lines()
        figure.draw(line)
    for point in points:
        figure.draw(figure.signal([x(point.cost)], [point.accuracy], marker=point.marker))
    figure.ruler("x").lim(x(x_axis.low), x(x_axis.high)).ticks([x(tick) for tick in x_axis.ticks], list(x_axis.labels))
    figure.ruler("y").lim(y_axis.low, y_axis.high).ticks(list(y_axis.ticks), list(y_axis.labels))
    figure.label("cost per task (USD" + (", log scale)" if x_axis.log else ")"), "x")
    figure.title("accuracy against cost per task")
    text: str = figure.build().string(colorless=True)
    return "\n".join(line.rstrip() for line in text.splitlines())
