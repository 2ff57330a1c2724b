"""The axes and markers of the cost/accuracy chart, one rule for the terminal plot and the HTML
report. Each target is marked by a letter (A, B, ... by its place in the report), the same in
the charts and the tables.

The cost axis (cost per task) is logarithmic when every cost is above zero and they span ten
times or more (a cheap model and a dear one differ by orders of magnitude), linear otherwise.
Ticks fall on round values: 1, 2 and 5 times a power of ten (fewer on a log axis spanning many
decades); cost ticks read in dollars with as many decimals as they need, accuracy ticks in
percent.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Sequence

MAX_TICKS = 20
MARKERS = string.ascii_uppercase + string.ascii_lowercase + string.digits


def marker(index: int) -> str:
    """The letter of a report's ``index``-th target, in every chart and table alike ("" past the
    last of the 62 markers)."""
    return MARKERS[index] if index < len(MARKERS) else ""


@dataclass(frozen=True, slots=True)
class Axis:
    low: float
    high: float
    log: bool
    ticks: tuple[float, ...]
    labels: tuple[str, ...]

    def position(self, value: float) -> float:
        """Where ``value`` falls on the axis, from 0 (low) to 1 (high)."""
        if self.log:
            low, high, value = math.log10(self.low), math.log10(self.high), math.log10(value)
        else:
            low, high = self.low, self.high
        return (value - low) / (high - low) if high > low else 0.5


def log_scale(costs: Sequence[float]) -> bool:
    return bool(costs) and min(costs) > 0 and max(costs) / min(costs) >= 10


def cost_axis(costs: Sequence[float]) -> Axis:
    """The cost axis over ``costs`` (at least one), padded so no point sits on the frame."""
    log = log_scale(costs)
    low, high = min(costs), max(costs)
    if log:
        low, high = low / 1.6, high * 1.6
    else:
        span = high - low or max(high, 1e-6)
        low, high = max(0.0, low - span * 0.08), high + span * 0.08
    ticks = log_ticks(low, high) if log else linear_ticks(low, high)
    step = None if log or len(ticks) < 2 else ticks[1] - ticks[0]
    return Axis(low, high, log, tuple(ticks), tuple(dollars_tick(t, step) for t in ticks))


def accuracy_axis(accuracies: Sequence[float]) -> Axis:
    """The accuracy axis (percent) over ``accuracies`` (at least one), within 0-100."""
    low, high = min(accuracies), max(accuracies)
    margin = max(2.0, (high - low) * 0.1)
    low, high = max(0.0, math.floor(low - margin)), min(100.0, math.ceil(high + margin))
    ticks = linear_ticks(low, high)
    return Axis(low, high, False, tuple(ticks), tuple(f"{t:g}%" for t in ticks))


def linear_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values inside [low, high], about ``count`` of them, 1, 2 or 5 times a power of ten apart."""
    raw = (high - low) / max(count - 1, 1) or 1.0
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda candidate: abs(candidate - raw))
    ticks: list[float] = []
    value = math.ceil(low / step) * step
    while value <= high + step * 1e-9 and len(ticks) < MAX_TICKS:
        ticks.append(_round(value))
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2 and 5 times the powers of ten inside [low, high]; fewer when they span many decades."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    steps = (1, 2, 5) if len(decades) <= 2 else (1, 3) if len(decades) <= 4 else (1,)
    return [_round(m * 10.0**d) for d in decades for m in steps if low <= m * 10.0**d <= high][:MAX_TICKS]


def _round(value: float) -> float:
    """``value`` without the float noise of its computation (0.00030000000000000003 is 0.0003)."""
    return float(f"{value:.12g}")


def dollars_tick(value: float, step: float | None = None) -> str:
    """``$0.0003``, ``$0.2``, ``$12``: the decimals the value's first significant digit needs, or
    on a linear axis the decimals its ``step`` needs (so $0.095, $0.100 and $0.105 stay apart)."""
    if value == 0 and step is None:
        return "$0"
    precise = step if step is not None else abs(value)
    decimals = max(0, -math.floor(math.log10(precise) + 1e-9))
    return f"${value:.{decimals}f}"
