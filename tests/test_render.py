"""How results read: the route line marks the answer, answers used on the way, failures and
cancellations; money is never a fake $0."""

from __future__ import annotations

from mmo.cli.render import money, route
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Usage


def attempt(label: str, model: str, status: str = "ok", error: str | None = None) -> Span:
    return Span("model", label, f"/{label}", status, 0.0, 1.0, model_id=model, usage=Usage(1, 1), error=error)  # type: ignore[arg-type]


def tree(*attempts: Span) -> Span:
    return Span("run", "run", "", "ok", 0.0, 5.0, children=(Span("cascade", "cascade", "/cascade", "ok", 0.0, 5.0, children=attempts),))


def test_a_rejected_tier_is_marked_as_used_not_as_the_answer() -> None:
    trace = tree(attempt("flash", "r:flash"), attempt("pro", "r:pro"))
    assert route(trace, Completion("x", "r:pro")) == "flash · → pro ✓"


def test_failures_and_cancellations_are_marked() -> None:
    trace = tree(attempt("a", "r:a", "error", "RateLimited"), attempt("b", "r:b"), attempt("c", "r:c", "cancelled", "CancelledError"))
    assert route(trace, Completion("x", "r:b")) == "a ✗ RateLimited → b ✓ → c ⊘"


def test_the_last_success_of_the_answering_model_is_the_answer() -> None:
    # A pipeline whose first and last steps use the same model: the last one answered.
    trace = tree(attempt("draft", "r:w"), attempt("critique", "r:c"), attempt("refine", "r:w"))
    assert route(trace, Completion("x", "r:w")) == "draft · → critique · → refine ✓"


def test_a_failed_run_marks_every_success_as_such() -> None:
    trace = tree(attempt("a", "r:a"), attempt("b", "r:b", "error", "Timeout"))
    assert route(trace, None) == "a ✓ → b ✗ Timeout"


def test_money() -> None:
    assert money(Cost(None, "unknown")) == "unknown"
    assert money(Cost(0.0, "local")) == "$0"
    assert money(Cost(0.000151, "recorded")) == "$0.000151"
    assert money(Cost(1.23456, "x")) == "$1.2346"
    assert money(None) == "-"
