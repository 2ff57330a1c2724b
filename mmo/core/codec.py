"""Completions to and from plain JSON data: one codec for the cache, the run log and ``--json``."""

from __future__ import annotations

from typing import Any, Mapping

from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, ToolCall, Usage


def completion_to_dict(completion: Completion, *, with_trace: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": completion.text,
        "model_id": completion.model_id,
        "reported_model": completion.reported_model,
        "finish_reason": completion.finish_reason,
        "raw_finish_reason": completion.raw_finish_reason,
        "tool_calls": [t.to_dict() for t in completion.tool_calls],
        "usage": completion.usage.to_dict(),
        "cost_usd": completion.cost.usd,
        "cost_source": completion.cost.source,
        "latency_ms": round(completion.latency_ms, 3),
        "ttft_ms": None if completion.ttft_ms is None else round(completion.ttft_ms, 3),
        "latency_simulated": completion.latency_simulated,
        "cached": completion.cached,
        "avg_logprob": completion.avg_logprob,
    }
    if with_trace and completion.trace is not None:
        out["trace"] = completion.trace.to_dict()
    return out


def completion_from_dict(data: Mapping[str, Any]) -> Completion:
    return Completion(
        text=data["text"],
        model_id=data["model_id"],
        reported_model=data.get("reported_model"),
        finish_reason=data.get("finish_reason", "stop"),
        raw_finish_reason=data.get("raw_finish_reason"),
        tool_calls=tuple(ToolCall(**t) for t in data.get("tool_calls", ())),
        usage=Usage(**data.get("usage", {})),
        cost=Cost(data.get("cost_usd"), data.get("cost_source", "unknown")),
        latency_ms=data.get("latency_ms", 0.0),
        ttft_ms=data.get("ttft_ms"),
        latency_simulated=data.get("latency_simulated", False),
        cached=data.get("cached", False),
        avg_logprob=data.get("avg_logprob"),
        trace=Span.from_dict(data["trace"]) if "trace" in data else None,
    )
