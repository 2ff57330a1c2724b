"""The leaf strategy: one model, by alias or ``provider:model``, with optional parameters.

A model that is the whole strategy (a profile's ``strategy: flash``, or ``--model``) has nothing
to move on to, so it retries its retryable errors itself, as a fallback would (the profile's
``retry:``): each try is a child span of its own. Inside other strategies a model makes one
attempt; its parent decides what a failure means (a fallback retries and moves on, a cascade
escalates, an ensemble counts the member out).

Such a model also re-asks once when its answer does not match the request's JSON Schema
(``SchemaMismatch``, ``mmo.runtime.structured``): the same model, with its answer and the
validation errors appended; a second mismatch fails the run, showing the errors. Inside other
strategies there is no re-ask: a fallback moves on and a cascade escalates, which costs no more.
"""

from __future__ import annotations

import random
from typing import Sequence

from mmo.core.errors import SchemaMismatch
from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, Request
from mmo.runtime.structured import reask
from mmo.spec.base import Spec
from mmo.spec.params import ParamsSpec
from mmo.strategies.kinds import Builder, StrategyKind
from mmo.strategies.retry import RetryPolicy, call_with_retries


class ModelNodeSpec(Spec):
    """A leaf: one model, by alias or provider:model, with optional parameter overrides."""

    model: str
    params: ParamsSpec | None = None


class ModelNode:
    kind = "model"

    def __init__(self, target: ModelTarget, retry: RetryPolicy | None = None) -> None:
        self.target = target
        self.label = target.label
        self.retry = retry
        self._rng = random.Random()

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        if self.retry is None:
            return await ctx.complete(self.target, request)
        try:
            return await call_with_retries(ctx, ModelNode(self.target), request, self.retry, self._rng, alternative=False, errors=[])
        except SchemaMismatch as mismatch:
            ctx.note(f"re-asking {self.label} once with the validation errors")
            again = reask(request, mismatch.answer, mismatch.problems)
            return await call_with_retries(ctx, ModelNode(self.target), again, self.retry, self._rng, alternative=False, errors=[])

    def children(self) -> Sequence[Node]:
        return ()

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        return est.call(self.target, request)

    def __repr__(self) -> str:
        return f"ModelNode({self.target.id})"


def build(builder: Builder, spec: ModelNodeSpec) -> Node:
    return ModelNode(builder.target(spec.model, spec.params))


KIND = StrategyKind("model", ModelNodeSpec, build)
