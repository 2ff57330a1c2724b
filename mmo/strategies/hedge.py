"""Hedge: when the first model is slow, ask the next one too, and keep the first good answer.

Child 0 starts at once. Each time ``after_ms`` passes since the latest start with no answer yet,
the next child starts as well, so several run side by side. A child that fails starts the next
one at once: waiting for the timer would only add latency. The first successful answer wins and
every child still running is cancelled (its span says "cancelled"; for an HTTP call, the request
is abandoned and its connection closed). An error no other target can fix (a malformed request)
stops the hedge, as it stops a fallback. When every child fails, ``AllAttemptsFailed`` holds their
errors in the order they happened.

Children never stream: two answers in flight cannot share one screen; the renderer prints the
winner's. Cost: every attempt counts, losers included. A cancelled call reports no usage, but a
vendor may bill the prompt it already read: the run context counts its estimated input tokens,
labelled "estimated input only (cancelled)" (a model with no list price: its recorded cost, else
an unknown cost, never a silent $0).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Sequence

from pydantic import Field

from mmo.core.errors import AllAttemptsFailed, MmoError, one_line
from mmo.core.estimate import CostRange, first_or_every
from mmo.core.protocols import Estimator, Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.base import Spec
from mmo.strategies.kinds import Builder, StrategyKind

if TYPE_CHECKING:
    from mmo.spec.nodes import NodeSpec


class HedgeSpec(Spec):
    """Start the first child; if it has not answered after ``after_ms``, start the next too.
    The first good answer wins, the others are cancelled, and every billed attempt counts."""

    hedge: list[NodeSpec] = Field(min_length=2)
    after_ms: float = Field(default=2000, gt=0)


class HedgeNode:
    kind = "hedge"
    runs_children_together = True  # members / branches in flight at once: pools are sized for them

    def __init__(self, nodes: Sequence[Node], after_ms: float, label: str = "hedge") -> None:
        if len(nodes) < 2:
            raise ValueError("a hedge needs at least two children")
        self.nodes = tuple(nodes)
        self.after_ms = after_ms
        self.label = label

    def children(self) -> Sequence[Node]:
        return self.nodes

    def estimate(self, request: Request, est: Estimator) -> CostRange:
        """The first child answers in time (best, expected), or every child is started (worst)."""
        return first_or_every([est.range(child, request) for child in self.nodes])

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        race = _Race(self, request, ctx)
        try:
            return await race.run()
        finally:
            await race.cancel_running()


class _Race:
    """One hedged request: who is waiting to start, who is running, what failed."""

    def __init__(self, hedge: HedgeNode, request: Request, ctx: RunContext) -> None:
        self.hedge, self.request, self.ctx = hedge, request, ctx
        self.waiting: deque[Node] = deque(hedge.nodes)
        self.running: dict[asyncio.Task[Completion], Node] = {}
        self.errors: list[BaseException] = []
        self.loop = asyncio.get_running_loop()
        self.started_at = self.loop.time()
        self.last_start = self.started_at

    def elapsed_ms(self) -> float:
        return (self.loop.time() - self.started_at) * 1000.0

    async def run(self) -> Completion:
        self.start_next()
        while self.running:
            done, _ = await asyncio.wait(self.running, timeout=self.until_next_start(), return_when=asyncio.FIRST_COMPLETED)
            if not done:
                slow = [node.label for node in self.running.values()]
                verb = "has" if len(slow) == 1 else "have"
                self.start_next(f"{', '.join(slow)} {verb} not answered after {self.hedge.after_ms:g} ms; starting {self.waiting[0].label}", "timer")
                continue
            winner = self.settle(done)
            if winner is not None:
                await self.cancel_running(winner=winner)
                return winner
        raise AllAttemptsFailed(f"all {len(self.hedge.nodes)} hedged alternatives of {self.hedge.label} failed", self.errors)

    def until_next_start(self) -> float | None:
        if not self.waiting:
            return None
        return max(0.0, self.last_start + self.hedge.after_ms / 1000.0 - self.loop.time())

    def start_next(self, reason: str | None = None, why: str | None = None) -> None:
        node = self.waiting.popleft()
        if reason is not None:
            self.ctx.note(reason, started=node.label, why=why, after_ms=round(self.elapsed_ms(), 1))
        task = asyncio.create_task(self.ctx.call(node, self.request, stream=False))
        self.running[task] = node
        self.last_start = self.loop.time()

    def settle(self, done: set[asyncio.Task[Completion]]) -> Completion | None:
        """Record what finished, in start order; the first success wins. A failure starts the
        next child at once; an error no target can fix is raised."""
        winner: Completion | None = None
        for task in [t for t in self.running if t in done]:
            node = self.running.pop(task)
            try:
                completion = task.result()
            except (MmoError, AllAttemptsFailed) as error:
                self.failed(node, error)
                continue
            if winner is None:
                winner = completion
                self.ctx.note(f"{node.label} answered first, after {self.elapsed_ms():.0f} ms", winner=node.label)
            else:
                self.ctx.note(f"{node.label} answered at the same moment; its answer is not used (its cost counts)", late=node.label)
        return winner

    def failed(self, node: Node, error: MmoError | AllAttemptsFailed) -> None:
        self.errors.append(error)
        if not getattr(error, "failover", False):
            self.ctx.note(f"{node.label} failed with an error no other target can fix; stopping", error=type(error).__name__)
            raise error
        if self.waiting:
            self.start_next(f"{node.label} failed after {self.elapsed_ms():.0f} ms ({one_line(error)}); starting {self.waiting[0].label} now", "failed")
        elif self.running:
            self.ctx.note(f"{node.label} failed ({one_line(error)}); waiting for {', '.join(n.label for n in self.running.values())}")

    async def cancel_running(self, winner: Completion | None = None) -> None:
        """Cancel every child still running and wait until each has recorded its cancelled span."""
        if not self.running:
            return
        tasks = list(self.running)
        for task, node in self.running.items():
            if winner is not None:
                self.ctx.note(f"cancelled {node.label}: {winner.model_id} answered first", cancelled=node.label)
            task.cancel()
        self.running.clear()
        await asyncio.gather(*tasks, return_exceptions=True)


def build(builder: Builder, spec: HedgeSpec) -> Node:
    return HedgeNode([builder.build(child) for child in spec.hedge], spec.after_ms)


KIND = StrategyKind("hedge", HedgeSpec, build, specs=(HedgeSpec,))
