"""``RunOutcome``: what one request's run through a profile gave, the one result type that
``ask`` renders, ``batch`` turns into output rows, and ``bench`` scores."""

from __future__ import annotations

from dataclasses import dataclass

from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Usage


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """Exactly one of ``completion`` and ``error`` is set; ``trace`` is always there, so a failed
    run can be explained too. ``warnings`` are the run's (each said once)."""

    run_id: str
    profile: str
    strategy: str
    trace: Span
    completion: Completion | None
    error: BaseException | None
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.completion is not None

    @property
    def total_cost(self) -> Cost:
        return self.trace.total_cost()

    @property
    def total_usage(self) -> Usage:
        return self.trace.total_usage()
