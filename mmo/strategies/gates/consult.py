"""How a gate consults a model: ``GateCall``, the node a gate asks under a span of its own
(``agree:llama70b``; its cost counts), and ``consult``, which turns a failed call into a reason
the gate fails with."""

from __future__ import annotations

from typing import Sequence

from mmo.core.errors import AllAttemptsFailed, MmoError, ProviderError, one_line
from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request


class GateCall:
    """A node a gate consults, under a span of its own (``agree:llama70b``), never streamed."""

    kind = "gate"

    def __init__(self, purpose: str, node: Node) -> None:
        self.node = node
        self.label = f"{purpose}:{node.label}"

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        return await ctx.call(self.node, request, stream=False)

    def children(self) -> Sequence[Node]:
        return (self.node,)

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        return est.range(self.node, request)


class ModelGate:
    """The base of a gate that asks a node (``self.call``) to judge an answer: its cost counts,
    it asks nothing extra of the answering models, and it reads the cleaned answer."""

    name: str = ""
    calls_models: bool = True
    reads_raw_answer: bool = False
    preparation: str | None = None

    def __init__(self, purpose: str, node: Node) -> None:
        self.call = GateCall(purpose, node)

    def nodes(self) -> Sequence[Node]:
        return (self.call,)

    def prepare(self, request: Request) -> Request:
        return request

    def clean(self, completion: Completion) -> Completion:
        return completion


async def consult(node: Node, request: Request, ctx: RunContext) -> Completion | str:
    """``node``'s answer, or the reason it could not give one. An error another target could get
    past (or any provider error) fails the gate; a budget stop or a config error propagates."""
    try:
        return await ctx.call(node, request, stream=False)
    except (MmoError, AllAttemptsFailed) as error:
        if not (isinstance(error, ProviderError) or getattr(error, "failover", False)):
            raise
        return one_line(error)
