"""``agree``: another node, asked the same request, gives the same extracted answer (its cost
counts); an answer with nothing to extract fails without asking it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.spec.extract import ExtractSpec
from mmo.strategies.gates.consult import ModelGate, consult
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, shown
from mmo.strategies.kinds import Builder

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec


class AgreeSpec(Spec):
    """Accept when another model's extracted answer equals this tier's."""

    model: NodeSpec
    extract: ExtractSpec = "choice"


class AgreeGate(ModelGate):
    name = "agree"

    def __init__(self, node: Node, how: Any) -> None:
        from mmo.strategies.extract import describe, extractor

        super().__init__("agree", node)
        self.how = describe(how)
        self.extract = extractor(how)

    @classmethod
    def from_spec(cls, builder: Builder, spec: AgreeSpec) -> AgreeGate:
        return cls(builder.build(spec.model), spec.extract)

    def estimate(self, request: Request, answer_tokens: float, est: Estimator) -> CostRange:
        return est.range(self.call, request)

    async def check(self, completion: Completion, request: Request, ctx: RunContext) -> GateResult:
        mine = self.extract(completion.text)
        if mine is None:
            return GateResult(False, self.name, f"no {self.how} answer to compare in this answer")
        other = await consult(self.call, request, ctx)
        who = self.call.node.label
        if isinstance(other, str):
            return GateResult(False, self.name, f"{who} could not answer: {other}")
        theirs = self.extract(other.text)
        if theirs is None:
            return GateResult(False, self.name, f"{who} gave no {self.how} answer to compare")
        if theirs != mine:
            return GateResult(False, self.name, f"{who} answered {shown(theirs)}, this answer {shown(mine)} ({self.how})")
        return GateResult(True, self.name, f"{who} agrees: {shown(mine)} ({self.how})")


def _build(builder: Builder, value: AgreeSpec | None) -> AgreeGate | None:
    return None if value is None else AgreeGate.from_spec(builder, value)


GATES = (GateKind("agree", AgreeSpec | None, _build, specs=(AgreeSpec,)),)
