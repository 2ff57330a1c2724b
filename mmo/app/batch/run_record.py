"""A batch invocation's summary in the run log: one record (command ``batch-run``) with its row
counts, totals, how it ended, and a trace with one child per model and kind of call, so
``mmo logs show`` can render it.

It holds no attempts: each row is a run of its own in the log, with every attempt
(``mmo.app.batch.row_log``), and that is what the daily budget, spend reports and the token
estimator read. The summary's cost is the sum of its rows' (already counted in their records).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mmo.app.batch.outcome import RowOutcome
from mmo.core.trace import Event, Span, SpanStatus
from mmo.core.types import Cost, Usage, frozen_mapping

if TYPE_CHECKING:
    from mmo.runtime.runlog import AttemptRecord, RunRecord


@dataclass(slots=True)
class CallTotals:
    """Calls of one model of one kind (ok, error, cache) in this invocation."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: bool = False
    latency_ms: float = 0.0

    @property
    def cost(self) -> float | None:
        return None if self.cost_unknown else self.cost_usd


@dataclass(slots=True)
class InvocationTally:
    """What this invocation ran, added up as rows are committed."""

    rows: Counter[str] = field(default_factory=Counter)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown_rows: int = 0
    truncated_rows: int = 0
    calls: dict[tuple[str, str], CallTotals] = field(default_factory=dict)

    def add(self, outcome: RowOutcome) -> None:
        self.rows[outcome.status] += 1
        self.truncated_rows += outcome.truncated
        self.input_tokens += outcome.input_tokens
        self.output_tokens += outcome.output_tokens
        if outcome.cost_usd is None:
            self.cost_unknown_rows += 1
        else:
            self.cost_usd += outcome.cost_usd
        for attempt in outcome.attempts:
            kind = "cache" if attempt.cached else "ok" if attempt.status == "ok" else "error"
            totals = self.calls.setdefault((attempt.model_id, kind), CallTotals())
            totals.calls += 1
            totals.input_tokens += attempt.input_tokens
            totals.output_tokens += attempt.output_tokens
            totals.latency_ms += attempt.latency_ms
            if attempt.cost_usd is None:
                totals.cost_unknown = totals.cost_unknown or not attempt.cached
            else:
                totals.cost_usd += attempt.cost_usd


@dataclass(frozen=True, slots=True)
class InvocationInfo:
    batch_run_id: str
    started_at: datetime
    wall_ms: float
    profile: str
    strategy: str
    input_label: str
    stop_class: str | None  # e.g. "CostCapReached", "Interrupted"; None when it ran to the end
    stop_message: str | None


def run_records(info: InvocationInfo, tally: InvocationTally) -> tuple[RunRecord, list[AttemptRecord]]:
    """The invocation's summary record (its rows' attempts are in their own records)."""
    from mmo.runtime.runlog import RunRecord, new_run_id, utc_iso

    run_id = new_run_id()
    failed_rows = tally.rows["failed"] + tally.rows["infra_error"]
    error_class = info.stop_class or ("RowErrors" if failed_rows else None)
    run = RunRecord(
        run_id=run_id,
        started_at=utc_iso(info.started_at),
        command="batch-run",
        profile=info.profile,
        strategy=info.strategy,
        prompt=f"batch {info.input_label} (run {info.batch_run_id})",
        answer=None,
        model_id=None,
        status="error" if error_class else "ok",
        error_class=error_class,
        error_message=info.stop_message or (f"{failed_rows} rows failed" if failed_rows else None),
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        cost_usd=None if tally.cost_unknown_rows else tally.cost_usd,
        cost_source="sum",
        latency_ms=info.wall_ms,
        cached=False,
        trace_json=json.dumps(_trace(info, tally).to_dict()),
        batch_run_id=info.batch_run_id,
    )
    return run, []


def _trace(info: InvocationInfo, tally: InvocationTally) -> Span:
    """The invocation as a trace ``mmo logs show`` can render: its row counts as an event and
    one child per model and kind of call."""
    rows = dict(tally.rows)
    message = ", ".join(f"{count} {status}" for status, count in sorted(rows.items())) or "no rows run"
    children = tuple(
        Span(
            kind=kind,
            label=model_id,
            path=f"/{model_id}/{kind}",
            status="error" if kind == "error" else "ok",
            start_ms=0.0,
            duration_ms=totals.latency_ms,
            events=(Event(0.0, f"{totals.calls} calls", frozen_mapping({"calls": totals.calls})),),
            model_id=model_id,
            usage=Usage(totals.input_tokens, totals.output_tokens),
            cost=Cost(totals.cost, "sum"),
            cached=kind == "cache",
        )
        for (model_id, kind), totals in sorted(tally.calls.items())
    )
    events = [Event(0.0, f"batch run {info.batch_run_id}: {message}", frozen_mapping(rows))]
    if info.stop_message:
        events.append(Event(info.wall_ms, f"stopped: {info.stop_message}"))
    status: SpanStatus = "ok" if info.stop_class is None else "cancelled" if info.stop_class == "Interrupted" else "error"
    return Span("batch", info.batch_run_id, "", status, 0.0, info.wall_ms, tuple(events), children)


def started_now() -> datetime:
    return datetime.now(UTC)
