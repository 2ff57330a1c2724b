"""``RunOutcome``: what one request's run through a profile gave, the one result type that
``ask`` renders, ``batch`` turns into output rows, and ``bench`` scores.

Its latency (``waited_ms``) is the time the user waited, from the run's start: the trace's
duration, or, when a replay simulated the answering model's latency, the moment that model was
started (a hedge's second model starts after its delay) plus its simulated latency, whichever
is longer. ``Interrupted`` is the error of a run cancelled in flight (Ctrl-C)."""

from __future__ import annotations

from dataclasses import dataclass

from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Usage


class Interrupted(Exception):
    """The run was cancelled in flight (Ctrl-C): not a failure of the models. Its outcome keeps
    what was spent until then."""


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
    conversation_id: str | None = None  # the conversation an ask or chat turn belongs to

    @property
    def ok(self) -> bool:
        return self.completion is not None

    @property
    def total_cost(self) -> Cost:
        return self.trace.total_cost()

    @property
    def total_usage(self) -> Usage:
        return self.trace.total_usage()

    def waited_ms(self) -> tuple[float, bool]:
        """The latency the user waited, and whether it is simulated (see the module docstring)."""
        return waited_ms(self.trace, self.completion)


def answering_attempt(trace: Span, completion: Completion | None) -> Span | None:
    """The attempt whose answer was returned: the last successful one by the answering model
    (earlier successes were rejected by a gate, out-voted, or fed a later step)."""
    if completion is None:
        return None
    winner = None
    for attempt in trace.attempts():
        if attempt.status == "ok" and attempt.model_id == completion.model_id:
            winner = attempt
    return winner


def waited_ms(trace: Span, completion: Completion | None) -> tuple[float, bool]:
    """``RunOutcome.waited_ms`` for a trace and its completion."""
    if completion is None or not completion.latency_simulated:
        return trace.duration_ms, False
    answering = answering_attempt(trace, completion)
    simulated = (answering.start_ms if answering is not None else 0.0) + completion.latency_ms
    return (simulated, True) if simulated > trace.duration_ms else (trace.duration_ms, False)
