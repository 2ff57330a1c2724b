"""The leaf strategy: one model, by alias or ``provider:model``, with optional parameters."""

from __future__ import annotations

from typing import Sequence

from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.spec.params import ParamsSpec
from mmo.strategies.kinds import Builder, StrategyKind


class ModelNodeSpec(Spec):
    """A leaf: one model, by alias or provider:model, with optional parameter overrides."""

    model: str
    params: ParamsSpec | None = None


class ModelNode:
    kind = "model"

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.label = target.label

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        return await ctx.complete(self.target, request)

    def children(self) -> Sequence[Node]:
        return ()

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        return est.call(self.target, request)

    def __repr__(self) -> str:
        return f"ModelNode({self.target.id})"


def build(builder: Builder, spec: ModelNodeSpec) -> Node:
    return ModelNode(builder.target(spec.model, spec.params))


KIND = StrategyKind("model", ModelNodeSpec, build)
