"""The terminal scatter plot of a bench report: cost per task against accuracy, one letter per
target (the letter the report's tables give it), the cost/accuracy frontier drawn as a dotted
line through its targets.

Drawn with plotext (imported only here, when a plot is drawn, so that ``mmo --version`` and
every other command start without it) as plain text, so that it reads the same in a terminal,
a log or a CI job. The cost axis is logarithmic when every cost is above zero and they span
ten times or more (a cheap model and a dear one differ by orders of magnitude), linear
otherwise. A target whose cost is unknown cannot be placed: the caller lists it apart.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Any, Sequence

from mmo.app.bench.report import TargetSummary

MARKERS = string.ascii_uppercase + string.ascii_lowercase + string.digits
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


def marker(index: int) -> str:
    """The letter of the report's ``index``-th target, in the plot and the tables alike ("" past
    the last marker)."""
    return MARKERS[index] if index < len(MARKERS) else ""


def placed(targets: Sequence[TargetSummary]) -> list[Placed]:
    """The plottable targets that have a marker, in the report's order (the caller says which
    were left out)."""
    points = []
    for index, target in enumerate(targets):
        if target.cost_per_task is not None and target.accuracy is not None and marker(index):
            points.append(Placed(marker(index), target, target.cost_per_task, 100 * target.accuracy))
    return points


def log_scale(costs: Sequence[float]) -> bool:
    return min(costs) > 0 and max(costs) / min(costs) >= 10


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
    log = log_scale([p.cost for p in points])
    # A log axis is drawn as log10(cost) on a linear one, ticks labelled in dollars: plotext's own
    # log scale drops the points once ticks are set by hand.
    def x(cost: float) -> float:
        return math.log10(cost) if log else cost

    figure.plot_size(width, HEIGHT)
    figure.theme("clear")
    frontier = sorted((p for p in points if p.target.on_frontier), key=lambda p: (p.cost, -p.accuracy))
    if len(frontier) > 1:
        line = figure.signal([x(p.cost) for p in frontier], [p.accuracy for p in frontier], marker="dot")
        line.lines()
        figure.draw(line)
    for point in points:
        figure.draw(figure.signal([x(point.cost)], [point.accuracy], marker=point.marker))
    low, high = _padded(min(p.cost for p in points), max(p.cost for p in points), log)
    ticks = _log_ticks(low, high) if log else _linear_ticks(low, high)
    figure.ruler("x").lim(x(low), x(high)).ticks([x(tick) for tick in ticks], [_dollars(tick) for tick in ticks])
    y_low, y_high = _accuracy_range([p.accuracy for p in points])
    y_ticks = _linear_ticks(y_low, y_high)
    figure.ruler("y").lim(y_low, y_high).ticks(y_ticks, [f"{tick:g}%" for tick in y_ticks])
    figure.label("cost per task (USD" + (", log scale)" if log else ")"), "x")
    figure.title("accuracy against cost per task")
    text: str = figure.build().string(colorless=True)
    return "\n".join(line.rstrip() for line in text.splitlines())


def _padded(low: float, high: float, log: bool) -> tuple[float, float]:
    if log:
        return low / 1.6, high * 1.6
    span = high - low or max(high, 1e-6)
    return max(0.0, low - span * 0.08), high + span * 0.08


def _accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    margin = max(2.0, (high - low) * 0.1)
    return max(0.0, math.floor(low - margin)), min(100.0, math.ceil(high + margin))


def _linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values (1, 2 or 5 times a power of ten apart) inside [low, high]."""
    raw = (high - low) / max(count - 1, 1) or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9 and len(ticks) < 20:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten inside [low, high]; only the powers when they are many."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    steps = (1,) if len(decades) > 4 else (1, 2, 5) if len(decades) <= 2 else (1, 3)
    return [m * 10.0**d for d in decades for m in steps if low <= m * 10.0**d <= high]


def _dollars(value: float) -> str:
    if value == 0:
        return "$0"
    decimals = max(0, -math.floor(math.log10(abs(value))))
    return f"${value:.{decimals}f}"
