"""``min_logprob``: the answer's mean token log-probability is at least this. The gate asks for
logprobs; an answer without them fails ("no logprobs from this provider")."""

from __future__ import annotations

from typing import Any

from mmo.core.protocols import RunContext
from mmo.core.types import Completion, Request
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate


class LogprobGate(LocalGate):
    name = "min_logprob"

    preparation: str | None = "asking every tier for logprobs (min_logprob gate)"

    def __init__(self, minimum: float) -> None:
        self.minimum = minimum

    def prepare(self, request: Request) -> Request:
        if request.params.logprobs:
            return request
        return request.with_params(request.params.merged(logprobs=True))

    async def check(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult:
        if completion.avg_logprob is None:
            ctx.warn(f"{completion.model_id} returned no logprobs, so the min_logprob gate rejects every answer it gives")
        return self.verdict(completion)

    def verdict(self, completion: Completion) -> GateResult:
        value = completion.avg_logprob
        if value is None:
            return self.failed("no logprobs from this provider")
        if value >= self.minimum:
            return self.passed(f"mean token logprob {value:.3f} >= {self.minimum}", value)
        return self.failed(f"mean token logprob {value:.3f} is below {self.minimum}", value)


def _build(builder: Any, value: float | None) -> LogprobGate | None:
    return None if value is None else LogprobGate(value)


GATES = (
    GateKind(
        "min_logprob",
        float | None,
        _build,
        {"le": 0, "description": "mean token log-probability, where the provider returns it"},
    ),
)
