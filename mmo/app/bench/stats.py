"""The statistics a bench report rests on, as pure functions of counts and samples.

* ``wilson_interval``: the 95 % Wilson score interval of a proportion (accuracy). Unlike the
  normal approximation it stays inside [0, 1] and is honest at 0 or n correct answers and for
  small n (Newcombe 1998, method 3).
* ``percentile``: linear interpolation between the closest ranks (Hyndman & Fan type 7, what
  ``numpy.percentile`` and a spreadsheet's ``PERCENTILE.INC`` give): p50 of 1, 2, 3, 4 is 2.5.
* ``pareto_frontier``: the points no other point beats on both cost (lower) and accuracy
  (higher). Two points with the same cost and accuracy do not dominate each other, so both stay
  on the frontier; the frontier is returned by increasing cost, then name, so the order never
  depends on the input's.
* ``mcnemar``: the paired test of two runs over the same tasks, from the discordant counts alone
  (b tasks right then wrong, c wrong then right). Under 25 discordant tasks the p-value is the
  exact two-sided binomial one (the chi-square approximation is poor there); from 25 on it is
  the chi-square statistic with Yates's continuity correction, ``(|b - c| - 1)² / (b + c)``, on
  one degree of freedom. With no discordant task nothing changed: p = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

Z_95 = 1.959963984540054  # the two-sided 95 % quantile of the standard normal
EXACT_BELOW = 25  # McNemar: discordant pairs under which the exact binomial test is used


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of ``successes`` out of ``trials``; with no trials, (0, 1):
    nothing is known."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return (0.0, 1.0)
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # At 0 or n successes a bound is exactly 0 or 1; rounding must not leave it a hair off.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks (type 7);
    None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True, slots=True)
class Point:
    name: str
    cost: float
    accuracy: float


def dominates(a: Point, b: Point) -> bool:
    """``a`` is at least as cheap and as accurate as ``b``, and strictly better on one."""
    return a.cost <= b.cost and a.accuracy >= b.accuracy and (a.cost < b.cost or a.accuracy > b.accuracy)


def pareto_frontier(points: Sequence[Point]) -> tuple[Point, ...]:
    """The points no other point dominates, by increasing cost (then decreasing accuracy, then
    name). Quadratic, which is plenty for the tens of targets of a bench run."""
    kept = [p for p in points if not any(dominates(other, p) for other in points)]
    return tuple(sorted(kept, key=lambda p: (p.cost, -p.accuracy, p.name)))


McNemarMethod = Literal["exact", "chi2-cc"]


@dataclass(frozen=True, slots=True)
class McNemar:
    right_to_wrong: int  # b: right in the first run, wrong in the second
    wrong_to_right: int  # c
    p_value: float
    method: McNemarMethod
    statistic: float | None  # the chi-square statistic; None for the exact test


def mcnemar(right_to_wrong: int, wrong_to_right: int) -> McNemar:
    """McNemar's test of a paired change from its discordant counts (see the module's text)."""
    b, c = right_to_wrong, wrong_to_right
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must not be negative, got {b} and {c}")
    n = b + c
    if n < EXACT_BELOW:
        return McNemar(b, c, _exact_two_sided(min(b, c), n), "exact", None)
    statistic = (abs(b - c) - 1) ** 2 / n
    return McNemar(b, c, _chi2_one_df_survival(statistic), "chi2-cc", statistic)


def _exact_two_sided(smaller: int, n: int) -> float:
    """Twice the binomial(n, 1/2) tail at ``smaller``, capped at 1 (the distribution is symmetric)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(smaller + 1)) / (1 << n)
    return min(1.0, 2 * tail)


def _chi2_one_df_survival(statistic: float) -> float:
    """P(X >= statistic) for chi-square with one degree of freedom: X is a squared standard normal."""
    return math.erfc(math.sqrt(statistic / 2))
