"""Latency SLO: a deadline on one branch, and a faster branch that answers when it passes.

``slo`` runs under a deadline of ``within_ms``. When the deadline passes, its call is cancelled
(its span says "cancelled"; an HTTP request is abandoned) and ``otherwise`` answers. When ``slo``
fails before the deadline with an error another target could fix, ``otherwise`` answers too; an
error no target can fix (a malformed request) is raised as it is. The ``slo`` branch never
streams, since the deadline may cut it after text was shown; ``otherwise`` streams when the run
does. When ``otherwise`` fails as well, ``AllAttemptsFailed`` holds both errors (a missed
deadline is a ``Timeout``), so a fallback above can move on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Sequence

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, MmoError, Timeout, one_line
from mmo.core.estimate import CostRange
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.target import ModelTarget
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.kinds import Builder, StrategyKind

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec


class SloSpec(Spec):
    """A latency deadline: when ``slo`` has not answered within ``within_ms`` it is cancelled and
    ``otherwise`` (a faster branch) answers."""

    slo: NodeSpec
    within_ms: float = Field(gt=0)
    otherwise: NodeSpec


class SloNode:
    kind = "slo"

    def __init__(self, primary: Node, otherwise: Node, within_ms: float, label: str = "slo") -> None:
        self.primary, self.otherwise = primary, otherwise
        self.within_ms = within_ms
        self.label = label

    def children(self) -> Sequence[Node]:
        return (self.primary, self.otherwise)

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The primary answers in time (best, expected), or it runs and ``otherwise`` answers too."""
        return est.range(self.primary, request).or_else(est.range(self.otherwise, request))

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        deadline = asyncio.timeout(self.within_ms / 1000.0)
        try:
            async with deadline:
                return await ctx.call(self.primary, request, stream=False)
        except TimeoutError:
            if not deadline.expired():
                raise  # not our deadline: something below raised the built-in TimeoutError
            first_error: MmoError | AllAttemptsFailed = self._missed_deadline()
            ctx.note(
                f"deadline {self.within_ms:g} ms passed; answering with {self.otherwise.label}",
                cancelled=self.primary.label,
                within_ms=self.within_ms,
            )
        except (MmoError, AllAttemptsFailed) as error:
            if not getattr(error, "failover", False):
                ctx.note(f"{self.primary.label} failed with an error no other target can fix; stopping", error=type(error).__name__)
                raise
            first_error = error
            ctx.note(f"{self.primary.label} failed before the deadline ({one_line(error)}); answering with {self.otherwise.label}")
        return await self._answer_otherwise(request, ctx, first_error)

    async def _answer_otherwise(self, request: Request, ctx: RunContext, first_error: MmoError | AllAttemptsFailed) -> Completion:
        try:
            return await ctx.call(self.otherwise, request, stream=True)
        except (MmoError, AllAttemptsFailed) as error:
            if not getattr(error, "failover", False):
                raise
            first = f"missed its {self.within_ms:g} ms deadline" if isinstance(first_error, Timeout) else "failed"
            message = f"{self.label}: the deadline branch ({self.primary.label}) {first}, then the otherwise branch ({self.otherwise.label}) failed"
            raise AllAttemptsFailed(message, [first_error, error]) from None

    def _missed_deadline(self) -> Timeout:
        message = f"no answer within the {self.within_ms:g} ms deadline; cancelled"
        target = getattr(self.primary, "target", None)
        if isinstance(target, ModelTarget):
            return Timeout(message, provider=target.ref.provider, model=target.ref.name)
        return Timeout(message, provider=self.primary.label)


def build(builder: Builder, spec: SloSpec) -> Node:
    return SloNode(builder.build(spec.slo), builder.build(spec.otherwise), spec.within_ms)


KIND = StrategyKind("slo", SloSpec, build, specs=(SloSpec,))
