"""The bench report's statistics against published values and against independent computations
(a bisection that inverts the score test, the standard library's quantiles, a sweep for the
frontier, the normal distribution for chi-square), never against the functions' own output."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from mmo.app.bench.stats import EXACT_BELOW, Z_95, Point, mcnemar, pareto_frontier, percentile, wilson_interval

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, Table II, method 3 (score interval without continuity correction).
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("successes", "trials", "low", "high"), NEWCOMBE)
def test_wilson_matches_newcombes_published_intervals(successes: int, trials: int, low: float, high: float) -> None:
    got = wilson_interval(successes, trials)
    assert got[0] == pytest.approx(low, abs=5e-5)
    assert got[1] == pytest.approx(high, abs=5e-5)


def _score_bound(successes: int, trials: int, upper: bool) -> float:
    """A bound of the Wilson interval found as the Wilson paper defines it: the p at which the
    score statistic |p_hat - p| / sqrt(p (1 - p) / n) reaches z, found by bisection."""
    z = statistics.NormalDist().inv_cdf(0.975)
    p_hat = successes / trials

    def outside(p: float) -> bool:
        return abs(p_hat - p) > z * math.sqrt(p * (1 - p) / trials)

    inside, beyond = p_hat, (1.0 if upper else 0.0)
    for _ in range(200):
        middle = (inside + beyond) / 2
        if outside(middle):
            beyond = middle
        else:
            inside = middle
    return (inside + beyond) / 2


@pytest.mark.parametrize(("successes", "trials"), [(0, 1), (1, 1), (3, 10), (7, 10), (50, 100), (99, 100), (100, 100), (720, 1000), (1, 5802)])
def test_wilson_bounds_invert_the_score_test(successes: int, trials: int) -> None:
    low, high = wilson_interval(successes, trials)
    assert low == pytest.approx(_score_bound(successes, trials, upper=False), abs=1e-9)
    assert high == pytest.approx(_score_bound(successes, trials, upper=True), abs=1e-9)
    assert 0.0 <= low <= successes / trials <= high <= 1.0


def test_wilson_z_is_the_normal_975_quantile_and_edges() -> None:
    assert statistics.NormalDist().inv_cdf(0.975) == pytest.approx(Z_95, abs=1e-12)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 50)[0] == 0.0
    assert wilson_interval(50, 50)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_percentile_is_linear_interpolation_like_the_standard_library_inclusive_method() -> None:
    rng = random.Random(7)
    for size in (2, 3, 10, 101):
        data = [rng.uniform(0, 5000) for _ in range(size)]
        expected = statistics.quantiles(data, n=100, method="inclusive")  # cut points p1..p99
        for q in (1, 5, 25, 50, 75, 95, 99):
            assert percentile(data, q) == pytest.approx(expected[q - 1], rel=1e-12)


def test_percentile_worked_values() -> None:
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile(range(1, 21), 95) == pytest.approx(19.05)  # rank 1 + 19 * 0.95 = 19.05
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None
    assert percentile([1, 2], 0) == 1 and percentile([1, 2], 100) == 2


def _frontier_by_sweep(points: list[Point]) -> set[str]:
    """The frontier found another way: by cost ascending, a point is on it when it is the most
    accurate at its cost and more accurate than everything strictly cheaper."""
    kept: set[str] = set()
    best_cheaper = -math.inf
    for cost, group in itertools.groupby(sorted(points, key=lambda p: p.cost), key=lambda p: p.cost):
        members = list(group)
        top = max(p.accuracy for p in members)
        if top > best_cheaper:
            kept |= {p.name for p in members if p.accuracy == top}
        best_cheaper = max(best_cheaper, top)
        del cost
    return kept


def test_frontier_agrees_with_a_sweep_on_random_points_with_ties() -> None:
    rng = random.Random(11)
    for _ in range(300):
        points = [Point(f"t{i}", rng.randint(0, 6) / 10, rng.randint(0, 6) / 10) for i in range(rng.randint(1, 9))]
        assert {p.name for p in pareto_frontier(points)} == _frontier_by_sweep(points)


def test_frontier_order_and_ties_do_not_depend_on_input_order() -> None:
    points = [Point("b", 1.0, 0.7), Point("a", 1.0, 0.7), Point("cheap", 0.1, 0.5), Point("worse", 2.0, 0.7), Point("best", 3.0, 0.9)]
    orders = {tuple(p.name for p in pareto_frontier(list(perm))) for perm in itertools.permutations(points)}
    assert orders == {("cheap", "a", "b", "best")}  # a tie keeps both, by name; "worse" is dominated by both


def test_mcnemar_exact_matches_published_example() -> None:
    # Wikipedia, "McNemar's test": b = 6, c = 16 gives an exact two-sided p of 0.0525.
    result = mcnemar(6, 16)
    assert result.method == "exact"
    assert result.p_value == pytest.approx(0.0525, abs=5e-5)
    assert mcnemar(1, 6).p_value == pytest.approx(16 / 128)  # 2 * (1 + 7) / 2**7


def _exact_by_enumeration(b: int, c: int) -> float:
    """Two-sided exact p by summing every outcome at most as likely as the one seen."""
    n = b + c
    probability = [math.comb(n, k) / 2**n for k in range(n + 1)]
    return min(1.0, sum(p for p in probability if p <= probability[b] * (1 + 1e-12)))


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 1), (3, 3), (0, 9), (10, 2), (12, 12), (24, 0)])
def test_mcnemar_exact_agrees_with_enumeration(b: int, c: int) -> None:
    assert b + c < EXACT_BELOW
    assert mcnemar(b, c).p_value == pytest.approx(_exact_by_enumeration(b, c), rel=1e-12)


def test_mcnemar_chi_square_with_continuity_correction_from_25_discordant_pairs() -> None:
    # Wikipedia, "McNemar's test", first example: b = 121, c = 59.
    result = mcnemar(121, 59)
    assert result.method == "chi2-cc"
    assert result.statistic == pytest.approx((62 - 1) ** 2 / 180)
    normal = statistics.NormalDist()
    assert result.p_value == pytest.approx(2 * (1 - normal.cdf(math.sqrt(result.statistic))), rel=1e-9)
    assert result.p_value < 1e-4
    at_edge = mcnemar(13, 12)
    assert at_edge.method == "chi2-cc" and at_edge.statistic == 0.0 and at_edge.p_value == 1.0


@pytest.mark.parametrize(("b", "c"), [(25, 0), (0, 25), (40, 20), (20, 40), (20, 20), (700, 650)])
def test_mcnemar_chi_square_p_is_the_normal_tail_of_the_root_statistic(b: int, c: int) -> None:
    result = mcnemar(b, c)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    assert result.statistic == pytest.approx(statistic)
    assert result.p_value == pytest.approx(2 * (1 - statistics.NormalDist().cdf(math.sqrt(statistic))), rel=1e-9, abs=1e-15)
