"""Latency SLO behaviour with scripted fake providers (no HTTP): the deadline cancels the slow
branch, the faster branch answers (and may stream), errors before the deadline fail over."""

from __future__ import annotations

import pytest

from mmo.core.errors import AllAttemptsFailed, BadRequest, RateLimited, ServerError, Timeout
from mmo.core.trace import Span
from mmo.core.types import Cost, Delta, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from tests.support.strategy_harness import Recorder, run_profile

MODELS = {"slow": "fake:slow", "quick": "fake:quick", "other": "fake:other"}


def slo(primary: object = "slow", otherwise: object = "quick", within_ms: float = 80) -> dict:
    return {"models": MODELS, "strategy": {"slo": primary, "within_ms": within_ms, "otherwise": otherwise}}


def slo_span(trace: Span) -> Span:
    span = trace.children[0]
    assert span.kind == "slo"
    return span


def notes(span: Span) -> list[str]:
    return [e.message for e in span.events]


def test_an_answer_within_the_deadline_is_used_and_otherwise_is_not_called() -> None:
    fake = FakeProvider().script("slow", FakeReply("in time")).script("quick", FakeReply("never"))
    sink = Recorder()
    completion = run_profile(slo(within_ms=5000), {"fake": fake}, sink=sink)
    assert completion.text == "in time"
    assert [c.model for c in fake.calls] == ["slow"]
    assert sink.events == []  # the deadline branch never streams: it could be cut after text was shown
    assert notes(slo_span(completion.trace)) == []


def test_the_deadline_cancels_the_slow_branch_and_otherwise_answers_streaming() -> None:
    fake = FakeProvider()
    fake.script("slow", FakeReply("too late", delay_s=5.0))
    fake.script("quick", FakeReply("fast answer here", usage=Usage(5, 3), cost=Cost(0.001, "test")))
    sink = Recorder()
    completion = run_profile(slo(within_ms=80), {"fake": fake}, sink=sink)
    assert completion.text == "fast answer here" and completion.model_id == "fake:quick"
    assert fake.cancelled == ["slow"]
    span = slo_span(completion.trace)
    slow, quick = span.children
    assert (slow.label, slow.status) == ("slow", "cancelled")
    assert (quick.label, quick.status) == ("quick", "ok")
    assert quick.start_ms - slow.start_ms >= 75  # otherwise started only once the deadline passed
    assert notes(span) == ["deadline 80 ms passed; answering with quick"]
    assert span.events[0].attrs["cancelled"] == "slow"
    assert sink.text == "fast answer here"
    assert {e.model_id for e in sink.events if isinstance(e, Delta)} == {"fake:quick"}
    assert quick.cost == Cost(0.001, "test")
    # slow was cancelled in flight and has no price: what it was billed is unknown, and so the total
    assert slow.cost == Cost(None, "unknown (cancelled in flight)") and completion.trace.total_cost().usd is None


def test_a_failover_error_before_the_deadline_goes_to_otherwise_at_once() -> None:
    fake = FakeProvider()
    fake.script("slow", RateLimited("slow down", provider="fake", model="slow", status=429, retry_after=30))
    fake.script("quick", FakeReply("backup"))
    completion = run_profile(slo(within_ms=30_000), {"fake": fake})
    assert completion.text == "backup"
    (message,) = notes(slo_span(completion.trace))
    assert message.startswith("slow failed before the deadline (RateLimited") and message.endswith("answering with quick")
    assert completion.trace.duration_ms < 30_000


def test_an_error_no_target_can_fix_is_raised_without_trying_otherwise() -> None:
    fake = FakeProvider().script("slow", BadRequest("bad", provider="fake", model="slow", status=400)).script("quick", FakeReply("x"))
    with pytest.raises(BadRequest):
        run_profile(slo(), {"fake": fake})
    assert [c.model for c in fake.calls] == ["slow"]


def test_when_otherwise_fails_too_both_errors_are_raised_the_missed_deadline_as_a_timeout() -> None:
    fake = FakeProvider()
    fake.script("slow", FakeReply("late", delay_s=5.0))
    fake.script("quick", ServerError("boom", provider="fake", model="quick", status=500))
    spans: list = []
    with pytest.raises(AllAttemptsFailed) as caught:
        run_profile(slo(within_ms=50), {"fake": fake}, spans=spans)
    assert caught.value.message == "slo: the deadline branch (slow) missed its 50 ms deadline, then the otherwise branch (quick) failed"
    first, second = caught.value.exceptions
    assert isinstance(first, Timeout) and "50 ms deadline" in first.message and first.target == "fake:slow"
    assert isinstance(second, ServerError)
    assert caught.value.failover  # a fallback above may still move on
    assert [a.status for a in spans[0].attempts()] == ["cancelled", "error"]


def test_a_slo_around_a_strategy_cancels_the_whole_branch() -> None:
    fake = FakeProvider()
    fake.script("slow", FakeReply("a", delay_s=5.0)).script("other", FakeReply("b", delay_s=5.0)).script("quick", FakeReply("quick"))
    profile = slo(primary={"hedge": ["slow", "other"], "after_ms": 10}, within_ms=100)
    completion = run_profile(profile, {"fake": fake})
    assert completion.text == "quick"
    hedge = slo_span(completion.trace).children[0]
    assert hedge.kind == "hedge" and hedge.status == "cancelled"
    assert sorted(s.status for s in hedge.children) == ["cancelled", "cancelled"]
    assert sorted(fake.cancelled) == ["other", "slow"]
    missed = slo_span(completion.trace).events[0].message
    assert missed == "deadline 100 ms passed; answering with quick"


def test_a_missed_deadline_inside_a_fallback_is_just_a_slow_branch() -> None:
    # The SLO answers with its otherwise branch, so the fallback around it never moves on.
    fake = FakeProvider().script("slow", FakeReply("late", delay_s=5.0)).script("quick", FakeReply("quick")).script("other", FakeReply("no"))
    profile = {"models": MODELS, "strategy": {"fallback": [{"slo": "slow", "within_ms": 40, "otherwise": "quick"}, "other"]}}
    completion = run_profile(profile, {"fake": fake})
    assert completion.text == "quick"
    assert [c.model for c in fake.calls] == ["slow", "quick"]
