"""The numbers a batch run ends with, read from its state (so they cover every invocation of the
run, resumed ones included): per model, and in total.

Per model (every model the strategy tried, cache hits included): rows it answered, calls, errors
by class, billed tokens, cost, p50 / p95 latency of its calls, cache hits. In total: rows by
status, errors by class (a row's final error), tokens, cost, p50 / p95 row latency, cache hits,
and the rows still pending or malformed.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from mmo.app.batch.outcome import DONE, FAILED, INFRA_ERROR, AttemptNumbers
from mmo.app.batch.state import BatchState


@dataclass(frozen=True, slots=True)
class ModelStats:
    model_id: str
    rows: int  # rows this model's answer was delivered for
    calls: int
    errors: Mapping[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    unknown_cost_calls: int  # calls whose price is unknown: cost_usd leaves them out
    p50_ms: float | None
    p95_ms: float | None
    cache_hits: int


@dataclass(frozen=True, slots=True)
class BatchSummary:
    total_rows: int  # non-blank input lines
    done: int
    failed: int
    infra_errors: int
    malformed: int
    errors: Mapping[str, int]  # rows by final error class
    input_tokens: int
    output_tokens: int
    cost_usd: float  # known cost of every run of every row
    unknown_cost_rows: int
    p50_ms: float | None
    p95_ms: float | None
    cache_hits: int
    models: tuple[ModelStats, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> int:
        return self.done + self.failed + self.infra_errors

    @property
    def pending(self) -> int:
        return max(self.total_rows - self.finished - self.malformed, 0)


@dataclass(slots=True)
class _ModelAcc:
    rows: int = 0
    calls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unknown: int = 0
    cache_hits: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, attempt: AttemptNumbers) -> None:
        self.calls += 1
        if attempt.error:
            self.errors[attempt.error] += 1
        self.input_tokens += attempt.input_tokens
        self.output_tokens += attempt.output_tokens
        if attempt.billed and attempt.cost_usd is None:
            self.unknown += 1
        elif attempt.cost_usd is not None:
            self.cost_usd += attempt.cost_usd
        self.cache_hits += attempt.cached
        self.latencies.append(attempt.latency_ms)

    def stats(self, model_id: str) -> ModelStats:
        ordered = sorted(self.latencies)
        return ModelStats(
            model_id, self.rows, self.calls, dict(self.errors), self.input_tokens, self.output_tokens,
            self.cost_usd, self.unknown, percentile(ordered, 50), percentile(ordered, 95), self.cache_hits,
        )


def summarize(state: BatchState, *, total_rows: int) -> BatchSummary:
    return summarize_rows(state.summary_rows(), total_rows=total_rows, malformed=len(state.malformed()))


def summarize_rows(rows: Iterable[Mapping[str, Any]], *, total_rows: int, malformed: int) -> BatchSummary:
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    models: dict[str, _ModelAcc] = {}
    latencies: list[float] = []
    tokens_in = tokens_out = cache_hits = unknown_rows = 0
    cost = 0.0
    for row in rows:
        statuses[row["status"]] += 1
        if row["error_class"]:
            errors[row["error_class"]] += 1
        tokens_in += row["input_tokens"]
        tokens_out += row["output_tokens"]
        cost += (row["cost_usd"] or 0.0) + row["prior_cost_usd"]
        unknown_rows += not row["cost_known"]
        cache_hits += bool(row["cache_hit"])
        latencies.append(row["latency_ms"])
        for values in json.loads(row["attempts"]):
            attempt = AttemptNumbers.from_list(values)
            models.setdefault(attempt.model_id, _ModelAcc()).add(attempt)
        if row["status"] == DONE and row["model_id"]:
            models.setdefault(row["model_id"], _ModelAcc()).rows += 1
    latencies.sort()
    return BatchSummary(
        total_rows=total_rows,
        done=statuses[DONE],
        failed=statuses[FAILED],
        infra_errors=statuses[INFRA_ERROR],
        malformed=malformed,
        errors=dict(errors),
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        cost_usd=cost,
        unknown_cost_rows=unknown_rows,
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        cache_hits=cache_hits,
        models=tuple(acc.stats(model_id) for model_id, acc in sorted(models.items())),
    )


def percentile(ordered: list[float], pct: float) -> float | None:
    """Nearest rank on sorted values; ``None`` for no values."""
    if not ordered:
        return None
    rank = max(math.ceil(pct / 100 * len(ordered)), 1)
    return ordered[rank - 1]
