"""What every quality gate is: its verdict (``GateResult``), the ``Gate`` protocol, and
``LocalGate``, the base of the gates that read only the answer (no model call, no cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from mmo.core.estimate import NOTHING, CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict on one answer. ``score`` is the number the gate compared (confidence,
    mean logprob, judge score), when it has one."""

    passed: bool
    gate: str
    reason: str
    score: float | None = None

    def attrs(self) -> dict[str, Any]:
        """For ``ctx.note``: the verdict as plain data."""
        out: dict[str, Any] = {"gate": self.gate, "passed": self.passed}
        if self.score is not None:
            out["score"] = self.score
        return out


class Gate(Protocol):
    name: str
    calls_models: bool
    reads_raw_answer: bool
    preparation: str | None  # what ``prepare`` asks of every answering model, for the trace

    def prepare(self, request: Request) -> Request:
        """The request an answering node gets: with what this gate needs (a confidence line)."""
        ...

    def clean(self, completion: Completion) -> Completion:
        """The answer as the user gets it: without what ``prepare`` asked for."""
        ...

    async def check(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult: ...

    def nodes(self) -> Sequence[Node]: ...

    def estimate(self, request: Request, answer_tokens: float, est: Estimator) -> CostRange:
        """What judging an answer of ``answer_tokens`` tokens to ``request`` may cost."""
        ...


class LocalGate:
    """A gate that reads only the answer: no model call, no cost."""

    name = ""
    calls_models = False
    reads_raw_answer = False
    preparation: str | None = None

    def prepare(self, request: Request) -> Request:
        return request

    def clean(self, completion: Completion) -> Completion:
        return completion

    async def check(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult:
        return self.verdict(completion)

    def verdict(self, completion: Completion) -> GateResult:
        raise NotImplementedError

    def nodes(self) -> Sequence[Node]:
        return ()

    def estimate(self, request: Request, answer_tokens: float, est: Estimator) -> CostRange:
        return NOTHING

    def passed(self, reason: str, score: float | None = None) -> GateResult:
        return GateResult(True, self.name, reason, score)

    def failed(self, reason: str, score: float | None = None) -> GateResult:
        return GateResult(False, self.name, reason, score)


def shown(value: str, limit: int = 32) -> str:
    """A short extracted value, quoted; a long one only by its length (reasons go to the trace)."""
    return repr(value) if len(value) <= limit else f"a {len(value)}-character value"


def clip(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."
