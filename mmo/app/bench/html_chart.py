"""The HTML report's chart: accuracy against cost per task as inline SVG, drawn here (not by a
script), so the file opens anywhere with nothing fetched.

Each target with a known cost is a ``<g class="point">`` holding its 95 % interval (a vertical
bar), a circle (filled when it is on the frontier), its letter, and a ``<title>`` (the browser's
own tooltip); its ``data-`` attributes carry the lines of the report's richer tooltip. The
frontier is a line through its targets by increasing cost. Every string from the user's files
is escaped (``html.escape``) before it is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

from mmo.app.bench.axes import Axis, accuracy_axis, cost_axis, marker
from mmo.app.bench.report import TargetSummary

WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 20, 60


@dataclass(frozen=True, slots=True)
class ChartPoint:
    letter: str
    target: TargetSummary
    cost: float
    accuracy: float  # percent


def chart_points(targets: Sequence[TargetSummary]) -> list[ChartPoint]:
    """The targets that can be placed (a known cost, at least one result, a letter)."""
    points = []
    for index, t in enumerate(targets):
        if t.cost_per_task is not None and t.accuracy is not None and marker(index):
            points.append(ChartPoint(marker(index), t, t.cost_per_task, 100 * t.accuracy))
    return points


def chart_svg(targets: Sequence[TargetSummary], *, label: str) -> str:
    """The chart of ``targets`` (one category's, or all tasks'), ``label`` naming it for screen readers."""
    points = chart_points(targets)
    if not points:
        return f'<p class="empty">No target of {escape(label)} has a known cost: nothing to plot.</p>'
    x_axis = cost_axis([p.cost for p in points])
    y_axis = accuracy_axis([p.accuracy for p in points] + [100 * p.target.interval[0] for p in points] + [100 * p.target.interval[1] for p in points])
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}: accuracy against cost per task" xmlns="http://www.w3.org/2000/svg">',
        *_x_axis(x_axis),
        *_y_axis(y_axis),
        _frontier([p for p in points if p.target.on_frontier], x_axis, y_axis),
        *(_point(p, x_axis, y_axis) for p in points),
        "</svg>",
    ]
    return "\n".join(part for part in parts if part)


def _x(axis: Axis, value: float) -> float:
    return LEFT + axis.position(value) * (WIDTH - LEFT - RIGHT)


def _y(axis: Axis, value: float) -> float:
    return TOP + (1 - axis.position(value)) * (HEIGHT - TOP - BOTTOM)


def _x_axis(axis: Axis) -> list[str]:
    bottom = HEIGHT - BOTTOM
    parts = [f'<line class="frame" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>']
    for tick, text in zip(axis.ticks, axis.labels, strict=True):
        x = _x(axis, tick)
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 18}" text-anchor="middle">{escape(text)}</text>')
    title = "cost per task (USD, log scale)" if axis.log else "cost per task (USD)"
    parts.append(f'<text class="axis-title" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle">{title}</text>')
    return parts


def _y_axis(axis: Axis) -> list[str]:
    parts = [f'<line class="frame" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>']
    for tick, text in zip(axis.ticks, axis.labels, strict=True):
        y = _y(axis, tick)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>')
    middle = (TOP + HEIGHT - BOTTOM) / 2
    parts.append(f'<text class="axis-title" x="16" y="{middle:.1f}" text-anchor="middle" transform="rotate(-90 16 {middle:.1f})">accuracy</text>')
    return parts


def _frontier(points: Sequence[ChartPoint], x_axis: Axis, y_axis: Axis) -> str:
    if len(points) < 2:
        return ""
    ordered = sorted(points, key=lambda p: (p.cost, -p.accuracy))
    coordinates = " ".join(f"{_x(x_axis, p.cost):.1f},{_y(y_axis, p.accuracy):.1f}" for p in ordered)
    return f'<polyline class="frontier-line" points="{coordinates}"/>'


def _point(point: ChartPoint, x_axis: Axis, y_axis: Axis) -> str:
    t = point.target
    x, y = _x(x_axis, point.cost), _y(y_axis, point.accuracy)
    low, high = _y(y_axis, 100 * t.interval[0]), _y(y_axis, 100 * t.interval[1])
    lines = tooltip_lines(point)
    data = " ".join(f'data-line{number}="{escape(line)}"' for number, line in enumerate(lines, start=1))
    kind = "point frontier" if t.on_frontier else "point"
    return (
        f'<g class="{kind}" tabindex="0" data-target="{escape(t.target)}" {data}>'
        f'<title>{escape(" · ".join(lines))}</title>'
        f'<line class="interval" x1="{x:.1f}" y1="{low:.1f}" x2="{x:.1f}" y2="{high:.1f}"/>'
        f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="7"/>'
        f'<text class="letter" x="{x + 10:.1f}" y="{y - 8:.1f}">{escape(point.letter)}</text>'
        "</g>"
    )


def tooltip_lines(point: ChartPoint) -> list[str]:
    t = point.target
    low, high = t.interval
    lines = [
        f"{point.letter}: {t.target}",
        f"accuracy {point.accuracy:.1f}% ({t.correct}/{t.tasks}), 95% interval {100 * low:.1f}-{100 * high:.1f}%",
        f"cost per task {dollars(point.cost)}, total {dollars(t.known_cost_usd)}",
    ]
    if t.on_frontier:
        lines.append("on the cost/accuracy frontier")
    return lines


def dollars(value: float | None) -> str:
    """As the terminal shows dollars: 6 decimals under a cent, 4 above; unknown, never $0."""
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"
