"""Fallback and model leaf behaviour, with scripted fake providers (no HTTP)."""

from __future__ import annotations

import pytest

from mmo.core.errors import AllAttemptsFailed, BadRequest, MissingKey, ModelNotFound, Overloaded, RateLimited, ServerError, Timeout
from mmo.core.target import RunOptions
from mmo.core.types import Cost, Delta, StreamRestart, Usage
from mmo.providers.fake import FakeError, FakeProvider, FakeReply
from tests.support.strategy_harness import Recorder, run_profile

FAST_RETRY = {"attempts": 3, "backoff_s": 0.001, "max_backoff_s": 0.002}


def fallback(*models: str, **retry: object) -> dict:
    return {"strategy": {"fallback": list(models), "retry": {**FAST_RETRY, **retry}}}


def test_first_model_answers_and_nothing_else_is_called() -> None:
    fake = FakeProvider().script("a", FakeReply("Paris")).script("b", FakeReply("never"))
    completion = run_profile(fallback("fake:a", "fake:b"), {"fake": fake})
    assert completion.text == "Paris"
    assert completion.model_id == "fake:a"
    assert [c.model for c in fake.calls] == ["a"]
    assert [a.status for a in completion.trace.attempts()] == ["ok"]


def test_retryable_error_is_retried_on_the_same_model_honouring_retry_after() -> None:
    fake = FakeProvider().script("a", RateLimited("slow down", retry_after=0.05, provider="fake", model="a"), FakeReply("Paris"))
    completion = run_profile(fallback("fake:a", "fake:b"), {"fake": fake})
    assert completion.text == "Paris"
    assert [c.model for c in fake.calls] == ["a", "a"]
    fallback_span = completion.trace.children[0]
    retry_notes = [e for e in fallback_span.events if e.message.startswith("retrying")]
    assert len(retry_notes) == 1 and retry_notes[0].attrs["wait_s"] >= 0.05
    # The wait really happened: the second attempt starts after the Retry-After.
    first, second = fallback_span.children
    assert second.start_ms - first.start_ms >= 50


def test_exhausted_retries_move_on_to_the_next_model() -> None:
    fake = FakeProvider().script("a", default=ServerError("boom", provider="fake", model="a", status=500)).script("b", FakeReply("Lyon?"))
    completion = run_profile(fallback("fake:a", "fake:b"), {"fake": fake})
    assert completion.model_id == "fake:b"
    assert [c.model for c in fake.calls] == ["a", "a", "a", "b"]
    events = [e.message for e in completion.trace.children[0].events]
    assert any(m.startswith("moving on from fake:a to fake:b") and "ServerError" in m for m in events)


def test_bad_request_stops_the_fallback_without_trying_others() -> None:
    fake = FakeProvider().script("a", BadRequest("invalid field", provider="fake", model="a", status=400)).script("b", FakeReply("x"))
    with pytest.raises(BadRequest):
        run_profile(fallback("fake:a", "fake:b"), {"fake": fake})
    assert [c.model for c in fake.calls] == ["a"]


def test_permanent_but_failover_error_moves_on_without_retrying() -> None:
    fake = FakeProvider().script("a", ModelNotFound("no such model", provider="fake", model="a", status=404)).script("b", FakeReply("ok"))
    completion = run_profile(fallback("fake:a", "fake:b"), {"fake": fake})
    assert completion.text == "ok"
    assert [c.model for c in fake.calls] == ["a", "b"]


def test_all_failing_raises_a_group_with_every_attempt_in_order() -> None:
    fake = FakeProvider()
    fake.script("a", default=Overloaded("busy", provider="fake", model="a", status=529))
    fake.script("b", ModelNotFound("gone", provider="fake", model="b", status=404))
    spans: list = []
    with pytest.raises(AllAttemptsFailed) as caught:
        run_profile(fallback("fake:a", "fake:b"), {"fake": fake}, spans=spans)
    kinds = [type(e).__name__ for e in caught.value.exceptions]
    assert kinds == ["Overloaded", "Overloaded", "Overloaded", "ModelNotFound"]
    # The failed run still has a full trace for --explain and the run log.
    assert [a.status for a in spans[0].attempts()] == ["error"] * 4


def test_fail_fast_never_retries_or_waits() -> None:
    fake = FakeProvider().script("a", RateLimited("slow", retry_after=30, provider="fake", model="a")).script("b", FakeReply("fast"))
    completion = run_profile(fallback("fake:a", "fake:b"), {"fake": fake}, options=RunOptions(fail_fast=True))
    assert completion.text == "fast"
    assert [c.model for c in fake.calls] == ["a", "b"]
    assert completion.trace.duration_ms < 30_000


def test_retry_after_longer_than_the_limit_moves_on_instead_of_waiting() -> None:
    fake = FakeProvider().script("a", RateLimited("come back tomorrow", retry_after=3600, provider="fake", model="a")).script("b", FakeReply("b"))
    completion = run_profile(fallback("fake:a", "fake:b", max_retry_after_s=5), {"fake": fake})
    assert completion.text == "b"
    assert [c.model for c in fake.calls] == ["a", "b"]


def test_cost_counts_every_billed_attempt() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("draft", usage=Usage(10, 5), cost=Cost(0.001, "test")))
    profile = {"strategy": {"fallback": ["fake:a"]}}
    completion = run_profile(profile, {"fake": fake})
    assert completion.trace.total_cost() == Cost(0.001, "sum")
    # A failed attempt that reports no cost does not count; the successful one does.
    fake2 = FakeProvider()
    fake2.script("a", Timeout("slow", provider="fake", model="a"))
    fake2.script("b", FakeReply("ok", usage=Usage(3, 2), cost=Cost(0.002, "test")))
    completion = run_profile(fallback("fake:a", "fake:b", attempts=1), {"fake": fake2})
    assert completion.trace.total_cost().usd == pytest.approx(0.002)
    assert completion.trace.total_usage() == Usage(3, 2)


def test_unknown_price_is_unknown_not_zero() -> None:
    fake = FakeProvider().script("a", FakeReply("x", usage=Usage(10, 5)))
    completion = run_profile({"strategy": "fake:a"}, {"fake": fake})
    assert completion.cost.usd is None
    assert completion.trace.total_cost().usd is None


def test_stream_cut_after_output_emits_a_restart_and_the_fallback_answer() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("The capital is Par", chunks=["The ", "capital ", "is ", "Par"], cut_after_chunks=2))
    fake.script("b", FakeReply("Paris is the capital.", chunks=["Paris ", "is ", "the ", "capital."]))
    sink = Recorder()
    completion = run_profile(fallback("fake:a", "fake:b", attempts=1), {"fake": fake}, sink=sink)
    assert completion.text == "Paris is the capital."
    kinds = [type(e).__name__ for e in sink.events]
    restart_at = kinds.index("StreamRestart")
    assert "".join(e.text for e in sink.events[:restart_at]) == "The capital "
    restart = sink.events[restart_at]
    assert isinstance(restart, StreamRestart) and restart.failed_model == "fake:a" and "StreamCut" in restart.error
    after = [e for e in sink.events[restart_at + 1 :] if isinstance(e, Delta)]
    assert "".join(e.text for e in after) == "Paris is the capital."
    assert {e.model_id for e in after} == {"fake:b"}
    # The cut attempt was billed for what arrived: an estimate, labelled as such.
    cut = next(completion.trace.attempts())
    assert cut.status == "error" and cut.usage is not None and cut.usage.output_tokens > 0
    assert cut.cost is not None and "estimated" in cut.cost.source


def test_nested_fallbacks_and_missing_keys_fail_over_to_another_vendor() -> None:
    fake = FakeProvider().script("local", FakeReply("from fake"))
    profile = {"strategy": {"fallback": [{"fallback": ["openai:gpt-5-mini", "anthropic:claude-haiku-4-5"]}, "fake:local"]}}
    spans: list = []
    completion = run_profile(profile, {"fake": fake}, spans=spans)
    assert completion.text == "from fake"
    errors = [a.error for a in completion.trace.attempts()]
    assert errors == ["MissingKey", "MissingKey", None]
    inner = completion.trace.children[0].children[0]
    assert inner.kind == "fallback" and inner.status == "error"
    missing = [a.error_message for a in completion.trace.attempts()][0]
    assert "mmo keys set openai" in missing and "OPENAI_API_KEY" in missing


def test_missing_key_error_class_is_failover() -> None:
    assert MissingKey("openai", "OPENAI_API_KEY").failover


def test_delayed_errors_are_waited_for() -> None:
    fake = FakeProvider().script("a", FakeError(Timeout("slow", provider="fake", model="a"), delay_s=0.02)).script("b", FakeReply("b"))
    completion = run_profile(fallback("fake:a", "fake:b", attempts=1), {"fake": fake})
    first = next(completion.trace.attempts())
    assert first.error == "Timeout" and first.duration_ms >= 20


# ---- a single model as the whole strategy retries on its own -------------------------------------


def single(model: str, **retry: object) -> dict:
    return {"strategy": model, "retry": {**FAST_RETRY, **retry}}


def test_a_single_model_strategy_retries_a_transient_error_as_the_profile_says() -> None:
    fake = FakeProvider().script("a", ServerError("boom", provider="fake", model="a", status=500), FakeReply("Paris"))
    completion = run_profile(single("fake:a"), {"fake": fake})
    assert completion.text == "Paris"
    assert [c.model for c in fake.calls] == ["a", "a"]
    assert [a.error for a in completion.trace.attempts()] == ["ServerError", None]
    assert any(e.message.startswith("retrying fake:a") for e in completion.trace.children[0].events)


def test_a_single_model_gives_up_after_its_attempts_with_the_models_own_error() -> None:
    fake = FakeProvider().script("a", default=Timeout("slow", provider="fake", model="a"))
    with pytest.raises(Timeout):  # the error itself, not a group: the exit code stays the error's
        run_profile(single("fake:a", attempts=2), {"fake": fake})
    assert len(fake.calls) == 2


def test_a_single_model_does_not_retry_a_permanent_error_nor_under_fail_fast() -> None:
    fake = FakeProvider().script("a", BadRequest("no", provider="fake", model="a", status=400), FakeReply("never"))
    with pytest.raises(BadRequest):
        run_profile(single("fake:a"), {"fake": fake})
    assert len(fake.calls) == 1
    fake = FakeProvider().script("a", ServerError("boom", provider="fake", model="a", status=500), FakeReply("never"))
    with pytest.raises(ServerError):
        run_profile(single("fake:a"), {"fake": fake}, options=RunOptions(fail_fast=True))
    assert len(fake.calls) == 1


def test_a_model_inside_a_strategy_makes_one_attempt_its_parent_decides() -> None:
    fake = FakeProvider().script("a", ServerError("boom", provider="fake", model="a", status=500), FakeReply("late"))
    fake.script("b", FakeReply("from b"))
    completion = run_profile(fallback("fake:a", "fake:b", attempts=1), {"fake": fake})
    assert completion.text == "from b"
    assert [c.model for c in fake.calls] == ["a", "b"]
