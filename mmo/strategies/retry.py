"""Trying a failing target again: how long to wait (exponential back-off with full jitter, at
least what the provider's Retry-After asked, and never longer than the profile allows) and the
loop that does it, shared by a fallback (for each of its targets) and a single-model strategy."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from mmo.core.errors import AllAttemptsFailed, MmoError
from mmo.core.protocols import Node, RunContext
from mmo.core.types import Completion, Request
from mmo.spec.portfolio import RetrySpec


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 2
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 30.0
    fail_fast: bool = False

    @classmethod
    def from_spec(cls, spec: RetrySpec) -> RetryPolicy:
        return cls(spec.attempts, spec.backoff_s, spec.max_backoff_s, spec.max_retry_after_s, spec.fail_fast)

    def delay(self, retry_index: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number ``retry_index`` (0-based), or ``None`` to move on."""
        if retry_after is not None and retry_after > self.max_retry_after_s:
            return None
        ceiling = min(self.max_backoff_s, self.backoff_s * (2**retry_index))
        jittered = rng.uniform(0, ceiling)
        return max(jittered, retry_after or 0.0)


async def call_with_retries(
    ctx: RunContext, child: Node, request: Request, policy: RetryPolicy, rng: random.Random, *, alternative: bool, errors: list[BaseException]
) -> Completion:
    """Run ``child``, trying it again after a retryable error (back-off with jitter, at least the
    Retry-After) up to ``policy.attempts`` in all; every failed attempt's error is appended to
    ``errors`` and the last one raised. ``alternative``: the caller has another target to move on
    to, so a guard may refuse this child at once instead of waiting (see ``RunContext.call``).
    With ``fail_fast`` (the policy's or the run's) nothing is tried twice."""
    fail_fast = policy.fail_fast or ctx.options.fail_fast
    retry_index = 0
    while True:
        try:
            return await ctx.call(child, request, alternative=alternative)
        except (MmoError, AllAttemptsFailed) as error:
            errors.append(error)
            wait = None if fail_fast or not getattr(error, "failover", False) else _wait(policy, error, retry_index, rng)
            if wait is None:
                raise
            ctx.note(f"retrying {child.label} in {wait:.2f}s after {type(error).__name__}", wait_s=round(wait, 3))
            await asyncio.sleep(wait)
            retry_index += 1


def _wait(policy: RetryPolicy, error: BaseException, retry_index: int, rng: random.Random) -> float | None:
    if not getattr(error, "retryable", False) or retry_index + 1 >= policy.attempts:
        return None
    return policy.delay(retry_index, getattr(error, "retry_after", None), rng)
