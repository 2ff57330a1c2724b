"""Fallback: ordered alternatives.

A retryable error (429, overload, 5xx, timeout, a dropped connection, a cut stream) is retried on
the same child with exponential back-off and full jitter, waiting at least what the provider's
Retry-After asked; a hint longer than ``max_retry_after_s`` moves on at once instead of blocking.
An error that another target could answer (``failover``: also a missing model or key, an
exhausted quota, a too-long context) moves to the next child. An error no target could answer
(a malformed request) stops the fallback: retrying it elsewhere would only spend money.
With ``fail_fast`` (interactive use) nothing waits: every failure moves on at once. Every target
but the last is called as one with an ``alternative``: a model whose circuit is open is refused
at once (the next target answers) instead of being waited for.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Sequence

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, MmoError, one_line
from mmo.core.estimate import CostRange, first_or_every
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.spec.portfolio import RetrySpec
from mmo.strategies.kinds import Builder, StrategyKind
from mmo.strategies.retry import RetryPolicy, call_with_retries

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec


class FallbackSpec(Spec):
    """Ordered alternatives: retry a target on retryable errors, then move to the next."""

    fallback: list[NodeSpec] = Field(min_length=1)
    retry: RetrySpec | None = None


class FallbackNode:
    kind = "fallback"

    def __init__(self, nodes: Sequence[Node], policy: RetryPolicy, label: str = "fallback") -> None:
        self.nodes = tuple(nodes)
        self.policy = policy
        self.label = label
        self._rng = random.Random()

    def children(self) -> Sequence[Node]:
        return self.nodes

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The first child answers (best, expected), or every child is asked (worst)."""
        return first_or_every([est.range(child, request) for child in self.nodes])

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        errors: list[BaseException] = []
        for position, child in enumerate(self.nodes):
            last = position + 1 == len(self.nodes)
            try:
                return await call_with_retries(ctx, child, request, self.policy, self._rng, alternative=not last, errors=errors)
            except (MmoError, AllAttemptsFailed) as error:
                if not getattr(error, "failover", False):
                    ctx.note(f"{child.label} failed with an error no other target can fix; stopping", error=type(error).__name__)
                    raise
            if not last:
                ctx.note(f"moving on from {child.label} to {self.nodes[position + 1].label}: {one_line(errors[-1])}")
        raise AllAttemptsFailed(f"all {len(self.nodes)} alternatives of {self.label} failed", errors)


def build(builder: Builder, spec: FallbackSpec) -> Node:
    return FallbackNode([builder.build(child) for child in spec.fallback], builder.retry_policy(spec.retry))


KIND = StrategyKind("fallback", FallbackSpec, build, specs=(FallbackSpec,))
