"""What ``mmo tune`` is asked to find, and how it picks one candidate by it. Every comparison uses
the candidates' figures on the train split (``Candidate.select``); the test split plays no part.

* ``match`` (the default): the cheapest strategy at least as accurate as the best single model
  (the most accurate on train; the cheaper of equals);
* ``max-cost``: the most accurate strategy costing at most ``value`` USD per task;
* ``min-accuracy``: the cheapest strategy at least ``value`` accurate (a fraction, 0-1);
* ``beat``: the most accurate strategy that beats a profile run on the same train tasks: more
  accurate at no more cost, or as accurate for less;
* ``frontier``: no choice; the cost/accuracy frontier is the answer.

"At least as accurate" is asked with a margin, because among thousands of strategies some reach
any bar on train by luck and fall short on new tasks: a strategy is as accurate as another when
the tasks it alone gets right outnumber those only the other gets right by at least
``MARGIN_Z`` standard errors of that difference (a paired comparison on the same tasks:
``wins - losses >= MARGIN_Z * sqrt(wins + losses)``), and at least ``value`` accurate when its
accuracy less ``MARGIN_Z`` standard errors is. "As accurate for less" (``beat``) asks for no fewer
right answers at a cost at least ``CHEAPER`` lower. Ties go to the cheaper strategy, then to the more
accurate, then to the simpler kind (a model, a cascade, a router).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

from mmo.app.bench.tune_search import Candidate
from mmo.app.bench.tune_sim import Figures
from mmo.core.errors import ConfigError

MARGIN_Z = 1.0
COST_TOLERANCE = 1e-9  # sums of the same costs in another order differ in their last digits
CHEAPER = 0.01  # "for less" means at least 1 % less
Goal = Literal["match", "max-cost", "min-accuracy", "beat", "frontier"]


@dataclass(frozen=True, slots=True)
class Objective:
    goal: Goal = "match"
    value: float | None = None  # max-cost: USD per task; min-accuracy: a fraction
    profile: str | None = None  # beat: the profile to beat

    def describe(self, best_single: Candidate | None = None, names: Mapping[str, str] | None = None) -> str:
        if self.goal == "match":
            target = f" ({best_single.node.describe(names)})" if best_single else ""
            return f"match the best single model on train{target} at the lowest cost"
        if self.goal == "max-cost":
            return f"the highest accuracy at no more than ${self.value:g} per task"
        if self.goal == "min-accuracy":
            return f"the lowest cost at {100 * (self.value or 0):g}% accuracy or more"
        if self.goal == "beat":
            return f"beat profile {self.profile} on train: more accurate at no more cost, or as accurate for less"
        return "the cost/accuracy frontier"


def best_single(candidates: Sequence[Candidate]) -> Candidate:
    singles = [c for c in candidates if c.kind == "single"]
    return max(singles, key=lambda c: (c.select.accuracy, -c.select.cost_usd))


def choose(candidates: Sequence[Candidate], objective: Objective, *, reference: Candidate | None = None, baseline: tuple[Figures, int] | None = None) -> Candidate:
    """The candidate the objective asks for; a ``ConfigError`` saying what is reachable when none
    is. ``reference``: for ``match``, the best single model (default: the most accurate among the
    candidates); ``baseline``: for ``beat``, the profile's figures and the tasks it got right."""
    if objective.goal == "match":
        target = (reference or best_single(candidates)).right
        return _cheapest([c for c in candidates if as_accurate(c.right, target)])
    if objective.goal == "max-cost":
        assert objective.value is not None
        fitting = [c for c in candidates if c.select.cost_per_task <= objective.value]
        if not fitting:
            cheapest = _cheapest(candidates)
            raise ConfigError(f"no strategy costs at most ${objective.value:g} per task on train; the cheapest, {cheapest.node.describe()}, costs ${cheapest.select.cost_per_task:.6f}")
        return _most_accurate(fitting)
    if objective.goal == "min-accuracy":
        assert objective.value is not None
        fitting = [c for c in candidates if _surely_above(c.select, objective.value)]
        if not fitting:
            best = _most_accurate(candidates)
            raise ConfigError(f"no strategy reaches {objective.value:.1%} on train; the most accurate, {best.node.describe()}, reaches {best.select.accuracy:.1%}")
        return _cheapest(fitting)
    if objective.goal == "beat":
        assert baseline is not None
        figures, right = baseline
        beating = [c for c in candidates if _beats(c, figures, right)]
        if not beating:
            raise ConfigError(
                f"no strategy beats profile {objective.profile} on train ({figures.accuracy:.1%} at ${figures.cost_per_task:.6f} per task) "
                "by more than chance: try --max-cost or --min-accuracy, or bench more models"
            )
        return _most_accurate(beating)
    raise ConfigError("the frontier objective lists strategies: it chooses none to write")


def as_accurate(right: int, other: int) -> bool:
    """``right`` is at least as accurate as ``other`` beyond chance (see the module docstring)."""
    wins, losses = (right & ~other).bit_count(), (other & ~right).bit_count()
    return wins - losses >= MARGIN_Z * math.sqrt(wins + losses)


def _surely_above(figures: Figures, accuracy: float) -> bool:
    p = figures.accuracy
    return p - MARGIN_Z * math.sqrt(p * (1 - p) / max(figures.tasks, 1)) >= accuracy


def _beats(candidate: Candidate, baseline: Figures, baseline_right: int) -> bool:
    """More accurate at no more cost (beyond chance), or as accurate (no fewer right) for less."""
    cost, figures = candidate.select.cost_usd, candidate.select
    no_dearer = cost <= baseline.cost_usd * (1 + COST_TOLERANCE)
    if no_dearer and figures.correct > baseline.correct and as_accurate(candidate.right, baseline_right):
        return True
    return cost < baseline.cost_usd * (1 - CHEAPER) and figures.correct >= baseline.correct


def _cheapest(candidates: Sequence[Candidate]) -> Candidate:
    return min(candidates, key=lambda c: (c.select.cost_usd, -c.select.accuracy, _rank(c)))


def _most_accurate(candidates: Sequence[Candidate]) -> Candidate:
    return max(candidates, key=lambda c: (c.select.accuracy, -c.select.cost_usd, -_rank(c)))


def _rank(candidate: Candidate) -> int:
    """Among equals, the simpler strategy (a model, then a cascade, then a router)."""
    return {"single": 0, "cascade": 1}.get(candidate.kind, 2)
