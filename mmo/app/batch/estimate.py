"""``mmo batch --dry-run``: tokens and cost per model before any call, best, expected and worst.

Each row is estimated by the strategy tree itself (``Node.estimate``, through
``mmo.runtime.estimator.TreeEstimator``), or by the one model the row names: the cheapest way
through the strategy, the likely way, and the dearest (see ``mmo.core.estimate``). The likely
answer length of each model is the run log's observed mean, else a stated default; the output
method says which, per model. Requests are streamed: only per-model sums are kept,
so 100,000 rows take no more memory than 10.

A model priced nowhere has an unknown cost, never $0: its rows are counted and flagged, and the
totals are then the known part only. With ``--max-cost``, the same cap the run keeps
(``mmo.runtime.spend.RunCap``) says how many rows it covers at worst and as expected; a profile's
per-request budget says how many rows' worst case passes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from mmo.core.estimate import CallCost, CostRange
from mmo.runtime.call_estimate import DEFAULT_OUTPUT_TOKENS
from mmo.runtime.estimator import UNKNOWN_SOURCE, TreeEstimator
from mmo.runtime.spend import Budgets, RunCap
from mmo.runtime.tokens import CHARS_PER_TOKEN

if TYPE_CHECKING:
    from mmo.app.batch.input import InputRow
    from mmo.app.engine import Engine

SCENARIOS = ("best", "expected", "worst")


@dataclass(frozen=True, slots=True)
class Spread:
    """One number under the three scenarios."""

    best: float
    expected: float
    worst: float


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """One model over the whole batch. ``rows``: rows that may reach it (in any scenario).
    ``cost_usd`` leaves out the ``unknown_price_rows`` whose call has no price; it is ``None`` when
    no row has one (a model priced nowhere)."""

    model_id: str
    rows: int
    calls: Spread
    input_tokens: Spread
    output_tokens: Spread
    cost_usd: Spread | None
    price_source: str
    unknown_price_rows: int = 0

    @property
    def price_known(self) -> bool:
        return self.unknown_price_rows == 0


@dataclass(frozen=True, slots=True)
class CapCoverage:
    """How far a cap reaches over the batch, rows in input order."""

    cap_usd: float
    rows_at_worst: int
    rows_expected: int


@dataclass(frozen=True, slots=True)
class BatchEstimate:
    """The dry run's answer. ``cost_usd`` sums the known costs; when ``unknown_price_rows`` is
    above 0, those rows may reach a model with no price and the totals leave those calls out (a
    lower bound). ``method`` and ``output_method`` say how tokens were counted."""

    rows: int
    models: tuple[ModelEstimate, ...]
    cost_usd: Spread
    unknown_price_rows: int
    method: str
    output_method: str
    notes: tuple[str, ...] = ()
    max_cost: CapCoverage | None = None
    rows_over_request_budget: int = 0
    request_budget_usd: float | None = None
    unknown_rows_by_scenario: tuple[int, int, int] = (0, 0, 0)  # best, expected, worst: rows with an unpriced call

    @property
    def complete(self) -> bool:
        return self.unknown_price_rows == 0


@dataclass(slots=True)
class _ModelSums:
    rows: int = 0
    unknown_rows: int = 0
    calls: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    input: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    output: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    usd: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    sources: dict[str, None] = field(default_factory=dict)

    def add(self, scenario: int, call: CallCost) -> None:
        self.calls[scenario] += call.share
        self.input[scenario] += call.input_tokens * call.share
        self.output[scenario] += call.output_tokens * call.share
        self.usd[scenario] += (call.usd or 0.0) * call.share
        self.sources[call.source] = None


class BatchTotals:
    """Per-model sums over the rows, and what the caps cover."""

    def __init__(self, budgets: Budgets, run_cap: RunCap | None) -> None:
        self.rows = 0
        self.unknown_price_rows = 0
        self.unknown_by_scenario = [0, 0, 0]
        self.usd = [0.0, 0.0, 0.0]
        self.models: dict[str, _ModelSums] = {}
        self.budgets, self.run_cap = budgets, run_cap
        self.rows_over_request_budget = 0
        self.cap_rows = [0, 0]  # rows covered at worst, as expected
        self._cap_open = [True, True]

    def add(self, row: CostRange) -> None:
        self.rows += 1
        for scenario, path in enumerate((row.best, row.expected, row.worst)):
            unpriced = False
            for call in path.calls:
                self.models.setdefault(call.model_id, _ModelSums()).add(scenario, call)
                unpriced = unpriced or call.usd is None
            self.usd[scenario] += path.usd
            self.unknown_by_scenario[scenario] += unpriced
        self._count_rows(row)
        if not self.budgets.request_fits(row.worst.usd):
            self.rows_over_request_budget += 1
        self._cover(row)

    def _count_rows(self, row: CostRange) -> None:
        calls = (*row.best.calls, *row.expected.calls, *row.worst.calls)
        unknown = {call.model_id for call in calls if call.usd is None}
        for model_id in dict.fromkeys(call.model_id for call in calls):
            sums = self.models[model_id]
            sums.rows += 1
            sums.unknown_rows += model_id in unknown
        self.unknown_price_rows += bool(unknown)

    def _cover(self, row: CostRange) -> None:
        if self.run_cap is None:
            return
        for index, scenario_usd in enumerate((self.usd[2], self.usd[1])):
            if self._cap_open[index] and self.run_cap.fits(self.run_cap.spent_before_usd, scenario_usd):
                self.cap_rows[index] += 1
            else:
                self._cap_open[index] = False

    def result(self, estimator: TreeEstimator, tree_order: Sequence[str]) -> BatchEstimate:
        order = {model_id: n for n, model_id in enumerate(tree_order)}
        ids = sorted(self.models, key=lambda m: (order.get(m, len(order)), m))
        cap = None if self.run_cap is None else CapCoverage(self.run_cap.usd, self.cap_rows[0], self.cap_rows[1])
        return BatchEstimate(
            rows=self.rows,
            models=tuple(_model_estimate(model_id, self.models[model_id]) for model_id in ids),
            cost_usd=Spread(*self.usd),
            unknown_price_rows=self.unknown_price_rows,
            method=_input_method(estimator, tree_order),
            output_method=_output_method(estimator),
            notes=(*estimator.notes, *estimator.window_notes()),
            max_cost=cap,
            rows_over_request_budget=self.rows_over_request_budget,
            request_budget_usd=self.budgets.per_request_usd,
            unknown_rows_by_scenario=(self.unknown_by_scenario[0], self.unknown_by_scenario[1], self.unknown_by_scenario[2]),
        )


def estimate_rows(engine: Engine, rows: Iterable[InputRow], estimator: TreeEstimator, totals: BatchTotals, tree_order: Sequence[str]) -> BatchEstimate:
    """Estimate every row (consumed once) through the engine's tree, or through the one model a
    row names, as the run would call it."""
    for row in rows:
        root = engine.root if row.model is None else engine.model_node(row.model)
        totals.add(estimator.range(root, row.request))
    return totals.result(estimator, tree_order)


def _model_estimate(model_id: str, sums: _ModelSums) -> ModelEstimate:
    sources = [s for s in sums.sources if s != UNKNOWN_SOURCE]
    source = " + ".join(sources) if sources else UNKNOWN_SOURCE
    if sums.unknown_rows and sources:
        source = f"{source}; unknown for {sums.unknown_rows} row{'' if sums.unknown_rows == 1 else 's'}"
    priced = sums.rows > sums.unknown_rows
    return ModelEstimate(
        model_id=model_id,
        rows=sums.rows,
        calls=Spread(*sums.calls),
        input_tokens=Spread(*sums.input),
        output_tokens=Spread(*sums.output),
        cost_usd=Spread(*sums.usd) if priced else None,
        price_source=source,
        unknown_price_rows=sums.unknown_rows,
    )


def _input_method(estimator: TreeEstimator, model_ids: Sequence[str]) -> str:
    """``chars/4 (no history)``, or each learnt ratio with the model it was learnt from."""
    tokens = estimator.tokens
    ids = list(dict.fromkeys(model_ids))
    learnt = [f"{tokens.method(m)} of {m}" for m in ids if tokens.ratio(m) is not None]
    base = f"chars/{CHARS_PER_TOKEN}"
    if not learnt:
        method = f"{base} (no history)"
    else:
        rest = [m for m in ids if tokens.ratio(m) is None]
        method = "; ".join(learnt) + (f"; {base} (no history) for the others" if rest else "")
    if estimator.recorded_calls:
        method += "; replay models: recorded tokens and cost"
    return method


def _output_method(estimator: TreeEstimator) -> str:
    """How output tokens were counted: the worst case, then per model the expected answer length
    and where it comes from (the run log's observed answers, or the stated default)."""
    if not estimator.estimated_calls:
        return "recorded"
    worst = "max_tokens"
    if estimator.defaulted_output:
        worst = f"max_tokens, or {DEFAULT_OUTPUT_TOKENS} where none is set (set defaults.max_tokens for a tighter estimate)"
    sources = estimator.expected_output
    if len(sources) == 1:
        usual = next(iter(sources.values()))
    else:
        usual = "; ".join(f"{model_id} {source}" for model_id, source in sources.items())
    replay = " (replay models: recorded)" if estimator.recorded_calls else ""
    return f"worst: {worst}; best and expected: {usual}, at most max_tokens{replay}"
