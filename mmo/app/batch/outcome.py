"""One finished row: its status, its numbers, and the output line written for it.

Statuses (a row with no outcome yet is *pending*):

* ``done``: an answer was delivered;
* ``infra_error``: the call failed for infrastructure reasons (429, overload, 5xx, a timeout, a
  dropped connection, a cut stream, an open circuit), so the same call may succeed later:
  ``--retry-errors`` runs these rows again;
* ``failed``: the answer cannot be delivered as asked (a bad request, a filtered prompt, a
  context too long, a per-request budget): running it again would fail the same way.

An error is an infrastructure error when it is a ``TransientError`` or marked ``retryable``, or
when it is an ``AllAttemptsFailed`` all of whose leaves are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from mmo.app.batch.input import InputRow
from mmo.app.outcome import RunOutcome
from mmo.app.tools import tool_answer
from mmo.core.errors import AllAttemptsFailed, TransientError, one_line
from mmo.core.trace import Span, total_cost, total_usage
from mmo.core.types import Completion

if TYPE_CHECKING:
    from mmo.app.batch.row_log import LoggedRun

DONE, FAILED, INFRA_ERROR = "done", "failed", "infra_error"
_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder for every row


@dataclass(frozen=True, slots=True)
class AttemptNumbers:
    """One model attempt of a row, as the summary and the run log need it."""

    model_id: str
    status: str  # "ok" | "error" | "cancelled"
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    billed: bool  # a call that finished and was priced (known or unknown), not a cache hit
    latency_ms: float
    cached: bool

    def to_list(self) -> list[Any]:
        return [self.model_id, self.status, self.error, self.input_tokens, self.output_tokens, self.cost_usd, self.billed, round(self.latency_ms, 2), self.cached]

    @classmethod
    def from_list(cls, values: list[Any]) -> AttemptNumbers:
        return cls(*values)


@dataclass(frozen=True, slots=True)
class RowOutcome:
    index: int
    row_id: Any
    status: str
    model_id: str | None
    error_class: str | None
    error_message: str | None
    cost_usd: float | None  # None when any billed attempt's price is unknown
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cache_hit: bool
    prompt_chars: int
    attempts: tuple[AttemptNumbers, ...]
    line: str  # the output line (JSON, no newline)
    truncated: bool = False  # answered, but cut at max_tokens
    log: LoggedRun | None = None  # its run-log records, written once the row is committed


def outcome_of(row: InputRow, run: RunOutcome, log: LoggedRun | None = None) -> RowOutcome:
    """The outcome of a row that ran (``log``: its run-log records)."""
    completion, error, trace = run.completion, run.error, run.trace
    attempts = tuple(trace.attempts())  # walked once, used four times
    usage, cost = total_usage(attempts), total_cost(attempts).usd
    status = DONE if completion is not None else classify(error)
    error_class, message = _error_fields(error)
    latency = run.waited_ms()[0]
    fields: dict[str, Any] = {
        "id": row.row_id,
        "line": row.index,
        "status": status,
        "answer": completion.text if completion is not None else None,
        "model": completion.model_id if completion is not None else None,
        "route": _route(attempts),
        "tokens": {"input": usage.input_tokens, "output": usage.output_tokens},
        "cost_usd": cost,
        "latency_ms": round(latency, 1),
        "cache_hit": bool(completion is not None and completion.cached),
    }
    if sources := _price_sources(attempts):
        fields["price_source"] = sources
    if completion is not None:
        fields["finish_reason"] = completion.finish_reason
        if completion.reported_model:
            fields["reported_model"] = completion.reported_model  # the snapshot the server says it ran
        if completion.ttft_ms is not None:
            fields["ttft_ms"] = round(completion.ttft_ms, 1)
        if completion.truncated:
            fields["truncated"] = True
        if completion.tool_calls:
            fields["tool_calls"] = tool_answer(completion)["tool_calls"]  # arguments parsed, as mmo ask shows them
    else:
        fields["error"] = {"class": error_class, "message": message}
    return RowOutcome(
        index=row.index,
        row_id=row.row_id,
        status=status,
        model_id=fields["model"],
        error_class=error_class,
        error_message=message,
        cost_usd=cost,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        latency_ms=latency,
        cache_hit=fields["cache_hit"],
        prompt_chars=sum(len(m.content) for m in row.request.messages),
        attempts=tuple(_attempts(attempts, completion)),
        line=_LINE(fields),
        truncated=completion is not None and completion.truncated,
        log=log,
    )


def _price_sources(attempts: tuple[Span, ...]) -> str:
    """Where the prices of the row's billed calls came from (``replay recording``, a profile, the
    price library with its version), so a later comparison can tell a price change apart."""
    found = dict.fromkeys(span.cost.source for span in attempts if span.cost is not None and span.cost.source and not span.cached)
    return "; ".join(found)


def classify(error: BaseException | None) -> str:
    leaves = list(error_leaves(error)) if error is not None else []
    infra = bool(leaves) and all(isinstance(e, TransientError) or getattr(e, "retryable", False) for e in leaves)
    return INFRA_ERROR if infra else FAILED


def error_leaves(error: BaseException) -> Iterator[BaseException]:
    if isinstance(error, AllAttemptsFailed):
        for child in error.exceptions:
            yield from error_leaves(child)
    else:
        yield error


def _error_fields(error: BaseException | None) -> tuple[str | None, str | None]:
    """The class a report counts (the leaves' class when they agree) and a one-line message."""
    if error is None:
        return None, None
    classes = {type(e).__name__ for e in error_leaves(error)}
    error_class = classes.pop() if len(classes) == 1 else type(error).__name__
    return error_class, one_line(error)


def _attempts(attempts: tuple[Span, ...], completion: Completion | None) -> Iterator[AttemptNumbers]:
    simulated = completion.model_id if completion is not None and completion.latency_simulated else None
    for span in attempts:
        usage, cost = span.usage, span.cost
        answered_simulated = simulated is not None and span.status == "ok" and span.model_id == simulated
        yield AttemptNumbers(
            model_id=span.model_id or span.label,
            status=span.status,
            error=span.error,
            input_tokens=usage.input_tokens if usage and not span.cached else 0,
            output_tokens=usage.output_tokens if usage and not span.cached else 0,
            cost_usd=None if cost is None else cost.usd,
            billed=cost is not None and not span.cached,
            latency_ms=completion.latency_ms if answered_simulated and completion else span.duration_ms,
            cached=span.cached,
        )


def route(trace: Span | None) -> str:
    """Every attempt in order: ``flash (RateLimited) > pro``; ``(cache)`` marks a cache hit."""
    if trace is None:
        return ""
    return _route(tuple(trace.attempts()))


def _route(attempts: tuple[Span, ...]) -> str:
    steps = []
    for span in attempts:
        step = span.label
        if span.error:
            step += f" ({span.error})"
        elif span.status == "cancelled":
            step += " (cancelled)"
        if span.cached:
            step += " (cache)"
        steps.append(step)
    return " > ".join(steps)
