"""The leaf strategy: one model."""

from __future__ import annotations

from typing import Sequence

from mmo.core.protocols import Node
from mmo.core.types import Completion, Request
from mmo.runtime.context import ModelTarget, RunContext


class ModelNode:
    kind = "model"

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.label = target.label

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        return await ctx.complete(self.target, request)

    def children(self) -> Sequence[Node]:
        return ()

    def __repr__(self) -> str:
        return f"ModelNode({self.target.id})"
