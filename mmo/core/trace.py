"""The decision trace: what every node decided and why, as pure data.

A ``Span`` is one node's run (or one model attempt). Nodes add ``Event``s ("rule matched",
"retrying after 2.0 s", "escalating: gate json failed") and spans nest like the strategy tree,
so ``mmo ask --explain`` renders a tree and the run log stores the same thing as JSON.

``SpanBuilder`` is the mutable scratchpad a run context fills while a node runs; ``finish()``
freezes it into a ``Span``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Mapping

from mmo.core.usage import Cost, Usage, frozen_mapping

SpanStatus = Literal["ok", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class Event:
    at_ms: float
    message: str
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at_ms": round(self.at_ms, 3), "message": self.message, "attrs": dict(self.attrs)}


@dataclass(frozen=True, slots=True)
class Span:
    kind: str
    label: str
    path: str
    status: SpanStatus
    start_ms: float
    duration_ms: float
    events: tuple[Event, ...] = ()
    children: tuple[Span, ...] = ()
    model_id: str | None = None
    usage: Usage | None = None
    cost: Cost | None = None
    cached: bool = False
    ttft_ms: float | None = None
    error: str | None = None
    error_message: str | None = None

    @property
    def is_attempt(self) -> bool:
        """A span that called (or tried to call) one model."""
        return self.model_id is not None

    def attempts(self) -> Iterator[Span]:
        """Every model attempt below (and including) this span, depth first, in order."""
        if self.is_attempt:
            yield self
        for child in self.children:
            yield from child.attempts()

    def total_cost(self) -> Cost:
        """Summed over every attempt, rejected and failed ones included. Unknown if any billed
        attempt's price is unknown (a partial sum would understate the bill)."""
        return total_cost(self.attempts())

    def total_usage(self) -> Usage:
        return total_usage(self.attempts())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "label": self.label,
            "path": self.path,
            "status": self.status,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
        }
        if self.model_id is not None:
            out["model_id"] = self.model_id
            out["cached"] = self.cached
        if self.usage is not None:
            out["usage"] = self.usage.to_dict()
        if self.cost is not None:
            out["cost_usd"] = self.cost.usd
            out["cost_source"] = self.cost.source
        if self.ttft_ms is not None:
            out["ttft_ms"] = round(self.ttft_ms, 3)
        if self.error is not None:
            out["error"] = self.error
            out["error_message"] = self.error_message
        if self.events:
            out["events"] = [e.to_dict() for e in self.events]
        if self.children:
            out["children"] = [c.to_dict() for c in self.children]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Span:
        usage = Usage(**data["usage"]) if "usage" in data else None
        cost = Cost(data["cost_usd"], data["cost_source"]) if "cost_source" in data else None
        return cls(
            kind=data["kind"],
            label=data["label"],
            path=data["path"],
            status=data["status"],
            start_ms=data["start_ms"],
            duration_ms=data["duration_ms"],
            events=tuple(Event(e["at_ms"], e["message"], frozen_mapping(e.get("attrs"))) for e in data.get("events", ())),
            children=tuple(cls.from_dict(c) for c in data.get("children", ())),
            model_id=data.get("model_id"),
            usage=usage,
            cost=cost,
            cached=data.get("cached", False),
            ttft_ms=data.get("ttft_ms"),
            error=data.get("error"),
            error_message=data.get("error_message"),
        )


def total_cost(attempts: Iterable[Span]) -> Cost:
    """``Span.total_cost`` over attempts already collected (``tuple(span.attempts())``)."""
    total, unknown = 0.0, False
    for attempt in attempts:
        if attempt.cost is None:
            continue
        if attempt.cost.usd is None:
            unknown = True
        else:
            total += attempt.cost.usd
    return Cost(None, "unknown") if unknown else Cost(total, "sum")


def total_usage(attempts: Iterable[Span]) -> Usage:
    """``Span.total_usage`` over attempts already collected: cache hits are not counted. (Usage
    is frozen: one counted attempt's usage is its own total, without a copy.)"""
    total: Usage | None = None
    for attempt in attempts:
        if attempt.usage is not None and not attempt.cached:
            total = attempt.usage if total is None else total + attempt.usage
    return total if total is not None else Usage()


class SpanBuilder:
    """Collects one node's events and child spans while it runs. Times are milliseconds since
    ``origin`` (the run's start, from ``time.perf_counter``)."""

    __slots__ = ("kind", "label", "path", "origin", "start", "events", "children", "attempt")

    def __init__(self, kind: str, label: str, path: str, origin: float) -> None:
        self.kind, self.label, self.path, self.origin = kind, label, path, origin
        self.start = time.perf_counter()
        self.events: list[Event] = []
        self.children: list[Span] = []
        self.attempt: dict[str, Any] = {}

    def now_ms(self) -> float:
        return (time.perf_counter() - self.origin) * 1000.0

    def event(self, message: str, **attrs: Any) -> None:
        self.events.append(Event(self.now_ms(), message, attrs))

    def finish(self, status: SpanStatus, error: BaseException | None = None) -> Span:
        end = time.perf_counter()
        return Span(
            kind=self.kind,
            label=self.label,
            path=self.path,
            status=status,
            start_ms=(self.start - self.origin) * 1000.0,
            duration_ms=(end - self.start) * 1000.0,
            events=tuple(self.events),
            children=tuple(self.children),
            error=type(error).__name__ if error is not None else None,
            error_message=_error_text(error),
            **self.attempt,
        )


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    one_line = getattr(error, "one_line", None)
    return one_line() if callable(one_line) else str(error)
