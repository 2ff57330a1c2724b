"""``finish_reasons``: the answer's finish reason is one of those listed (``[stop]`` rejects an
answer cut at ``max_tokens``)."""

from __future__ import annotations

from typing import Any, Literal

from mmo.core.types import Completion
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate


class FinishReasonGate(LocalGate):
    name = "finish_reasons"

    def __init__(self, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed

    def verdict(self, completion: Completion) -> GateResult:
        reason = completion.finish_reason
        if reason in self.allowed:
            return self.passed(f"finish reason {reason}")
        return self.failed(f"finish reason {reason} is not one of {', '.join(self.allowed)}")


def _build(builder: Any, value: list[str] | None) -> FinishReasonGate | None:
    return None if value is None else FinishReasonGate(tuple(value))


GATES = (
    GateKind(
        "finish_reasons",
        list[Literal["stop", "length", "tool_calls", "content_filter", "other"]] | None,
        _build,
        {"description": "accept only these finish reasons ([stop] rejects truncated answers)"},
    ),
)
