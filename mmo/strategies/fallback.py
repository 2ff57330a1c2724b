"""Fallback: ordered alternatives.

A retryable error (429, overload, 5xx, timeout, a dropped connection, a cut stream) is retried on
the same child with exponential back-off and full jitter, waiting at least what the provider's
Retry-After asked; a hint longer than ``max_retry_after_s`` moves on at once instead of blocking.
An error that another target could answer (``failover``: also a missing model or key, an
exhausted quota, a too-long context) moves to the next child. An error no target could answer
(a malformed request) stops the fallback: retrying it elsewhere would only spend money.
With ``fail_fast`` (interactive use) nothing waits: every failure moves on at once.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Sequence

from mmo.core.errors import AllAttemptsFailed, MmoError, one_line
from mmo.core.protocols import Node
from mmo.core.types import Completion, Request
from mmo.runtime.context import RunContext


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0
    fail_fast: bool = False

    def delay(self, retry_index: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number ``retry_index`` (0-based), or ``None`` to move on."""
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return None
        ceiling = min(self.max_backoff_s, self.backoff_s * (2**retry_index))
        jittered = rng.uniform(0, ceiling)
        return max(jittered, retry_after or 0.0)


class FallbackNode:
    kind = "fallback"

    def __init__(self, nodes: Sequence[Node], policy: RetryPolicy, label: str = "fallback") -> None:
        self.nodes = tuple(nodes)
        self.policy = policy
        self.label = label
        self._rng = random.Random()

    def children(self) -> Sequence[Node]:
        return self.nodes

    async def run(self, request: Request, ctx: RunContext) -> Completion:
        fail_fast = self.policy.fail_fast or ctx.options.fail_fast
        errors: list[BaseException] = []
        for position, child in enumerate(self.nodes):
            for retry_index in range(1 if fail_fast else self.policy.attempts):
                try:
                    return await ctx.call(child, request)
                except (MmoError, AllAttemptsFailed) as error:
                    errors.append(error)
                    if not getattr(error, "failover", False):
                        ctx.note(f"{child.label} failed with an error no other target can fix; stopping", error=type(error).__name__)
                        raise
                    wait = self._wait_before_retry(error, retry_index, fail_fast)
                    if wait is None:
                        break
                    ctx.note(f"retrying {child.label} in {wait:.2f}s after {type(error).__name__}", wait_s=round(wait, 3))
                    await asyncio.sleep(wait)
            if position + 1 < len(self.nodes):
                ctx.note(f"moving on from {child.label} to {self.nodes[position + 1].label}: {one_line(errors[-1])}")
        raise AllAttemptsFailed(f"all {len(self.nodes)} alternatives of {self.label} failed", errors)

    def _wait_before_retry(self, error: BaseException, retry_index: int, fail_fast: bool) -> float | None:
        if fail_fast or not getattr(error, "retryable", False) or retry_index + 1 >= self.policy.attempts:
            return None
        return self.policy.delay(retry_index, getattr(error, "retry_after", None), self._rng)
