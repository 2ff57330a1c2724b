"""``Gates``: the gates a spec sets, run in order (cheap first) up to the first failure, and what
they need of the request and the answer. ``build_gates`` makes them from ``accept:``/``check:``.
An answer that calls tools is judged only by ``finish_reasons`` (``TOOL_CALL_GATES``); the gates
that read the answer's text pass it, saying why."""

from __future__ import annotations

from functools import partial
from typing import Any, Sequence

from mmo.core.errors import ConfigError
from mmo.core.estimate import NOTHING, CostRange, by_answer
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.strategies.gates.kinds import gate_kinds
from mmo.strategies.gates.verdict import Gate, GateResult
from mmo.strategies.kinds import Builder

# The gates that judge an answer that calls tools. Every other gate reads the answer's text, which
# a tool call does not have (its empty text is not a short, non-JSON or refused answer): a tool
# call passes them unchecked, and ``finish_reasons: [stop]`` is how a profile rejects tool calls.
TOOL_CALL_GATES = frozenset({"finish_reasons"})
_NOT_FOR_TOOL_CALLS = "a tool call: this gate reads answer text, not tool calls"


class Gates:
    """An ordered set of gates (cheap first), and what they need of the request and the answer."""

    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = tuple(gates)

    def __len__(self) -> int:
        return len(self.gates)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(gate.name for gate in self.gates)

    @property
    def preparations(self) -> tuple[str, ...]:
        """What the gates ask of every answering model, for the trace."""
        return tuple(gate.preparation for gate in self.gates if gate.preparation)

    def nodes(self) -> tuple[Node, ...]:
        """The nodes gates call (agree, judge), so the tree lists every model it may use."""
        return tuple(node for gate in self.gates for node in gate.nodes())

    def prepare(self, request: Request) -> Request:
        """The request to send to an answering node, with what the gates need of it."""
        for gate in self.gates:
            request = gate.prepare(request)
        return request

    def clean(self, completion: Completion) -> Completion:
        """The answer as the user gets it: without what the gates asked for."""
        for gate in self.gates:
            completion = gate.clean(completion)
        return completion

    async def evaluate(self, completion: Completion, request: Request, ctx: RunContext, *, model_gates: bool = True) -> list[GateResult]:
        """Each gate's verdict, in order, up to and including the first failure. ``request`` is
        the caller's original request (without what ``prepare`` added). ``model_gates=False``
        skips the gates that call models."""
        cleaned = self.clean(completion)
        results: list[GateResult] = []
        for gate in self.gates:
            if gate.calls_models and not model_gates:
                continue
            if completion.tool_calls and gate.name not in TOOL_CALL_GATES:
                results.append(GateResult(True, gate.name, _NOT_FOR_TOOL_CALLS))
                continue
            result = await gate.check(completion if gate.reads_raw_answer else cleaned, request, ctx)
            results.append(result)
            if not result.passed:
                break
        return results

    def estimate(self, request: Request, answer: CostRange, est: Estimator, *, model_gates: bool = True) -> CostRange:
        """What the gates may spend judging ``answer`` (an answering node's range)."""
        out = NOTHING
        for gate in self.gates:
            if gate.calls_models and not model_gates:
                continue
            out = out.then(by_answer(answer, partial(_judging, gate, request, est)))
        return out


def _judging(gate: Gate, request: Request, est: Estimator, answer_tokens: float) -> CostRange:
    return gate.estimate(request, answer_tokens, est)


def first_failure(results: Sequence[GateResult]) -> GateResult | None:
    return next((result for result in results if not result.passed), None)


def build_gates(builder: Builder, spec: Any) -> Gates:
    """The gates a spec sets, in registry order; a bad regex or schema is a ``ConfigError`` now."""
    if spec is None:
        return Gates(())
    minimum, maximum = getattr(spec, "min_length", None), getattr(spec, "max_length", None)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise ConfigError(f"accept: min_length {minimum} is above max_length {maximum}")
    gates: list[Gate] = []
    for kind in gate_kinds().values():
        gate = kind.build(builder, getattr(spec, kind.key))
        if gate is not None:
            gates.append(gate)
    return Gates(gates)
