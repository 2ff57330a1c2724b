"""How long to wait before trying a failing target again: exponential back-off with full
jitter, at least what the provider's Retry-After asked, and never longer than the profile allows."""

from __future__ import annotations

import random
from dataclasses import dataclass

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
