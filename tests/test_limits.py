"""Per-model limits: rpm and tpm buckets, the concurrency cap, the circuit breaker, and the
providers' signals, through the real run context with scripted fake providers."""

from __future__ import annotations

import asyncio

import pytest

from mmo.core.errors import AllAttemptsFailed, BudgetExceeded, ConfigError, Overloaded, RateLimited, ServerError, UnknownName
from mmo.core.target import RunOptions
from mmo.core.types import RateLimitInfo, Usage
from mmo.providers.fake import FakeError, FakeProvider, FakeReply
from mmo.providers.rate_limits import parse_rate_limits
from mmo.runtime.breaker import CircuitBreaker
from mmo.runtime.limits import LimitsGuard, TokenBucket, limits_by_model
from mmo.runtime.spend import Budgets, SpendGuard
from mmo.spec.portfolio import BreakerSpec, LimitSpec
from tests.support.guard_harness import FakeClock, Together, build, profile_of, run_once, run_sync, session_services

FAST_RETRY = {"attempts": 1}
PROMPT = "x" * 40  # 10 tokens by the chars/4 estimate


def setup(limits: dict[str, LimitSpec], fake: FakeProvider, clock: FakeClock, *, max_wait_s: float = 60.0, strategy: object = "fake:a"):
    profile = profile_of({"strategy": strategy})
    guard = LimitsGuard(limits, max_wait_s=max_wait_s, clock=clock, sleep=clock.sleep)
    return build(profile), session_services(profile, {"fake": fake}, [guard]), guard


def events(span) -> list[str]:
    out = [e.message for e in span.events]
    for child in span.children:
        out += events(child)
    return out


# ---- rpm ----------------------------------------------------------------------------------------


def test_rpm_bucket_lets_a_burst_through_then_waits_for_the_refill() -> None:
    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, _ = setup({"fake:a": LimitSpec(rpm=2)}, fake, clock)
    spans: list = []
    for _ in range(3):
        run_sync(root, services, spans=spans)
    assert len(fake.calls) == 3
    # Two pass at once; the third waits for one request to refill: 60 s / 2 rpm = 30 s.
    assert clock.slept == [pytest.approx(30.0)]
    assert any("waiting 30.00 s for fake:a: rpm limit 2" in m for m in events(spans[2]))
    assert not events(spans[0]) and not events(spans[1])


def test_a_wait_longer_than_the_patience_fails_fast_and_the_fallback_moves_on() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=FakeReply("from a")).script("b", default=FakeReply("from b"))
    strategy = {"fallback": ["fake:a", "fake:b"], "retry": FAST_RETRY}
    root, services, _ = setup({"fake:a": LimitSpec(rpm=1)}, fake, clock, max_wait_s=30, strategy=strategy)
    assert run_sync(root, services).text == "from a"
    spans: list = []
    second = run_sync(root, services, spans=spans)
    assert second.text == "from b"
    assert [c.model for c in fake.calls] == ["a", "b"]
    assert clock.slept == []  # nothing waited: 60 s is more than the 30 s patience
    refused = next(spans[0].attempts())
    assert refused.error == "RateLimited"
    assert "need a 60.0 s wait (rpm limit 1), longer than the 30 s a call may wait" in refused.error_message


def test_fail_fast_never_waits_for_a_bucket() -> None:
    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, _ = setup({"fake:a": LimitSpec(rpm=1)}, fake, clock)
    run_sync(root, services)
    clock.advance(59)  # one second short of a refilled request
    with pytest.raises(RateLimited) as caught:
        run_sync(root, services, options=RunOptions(read_cache=False, write_cache=False, fail_fast=True))
    assert caught.value.retry_after == pytest.approx(1.0)
    assert clock.slept == [] and len(fake.calls) == 1


def test_the_bucket_refills_with_time() -> None:
    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, _ = setup({"fake:a": LimitSpec(rpm=1)}, fake, clock)
    run_sync(root, services)
    clock.advance(61)
    run_sync(root, services)
    assert clock.slept == [] and len(fake.calls) == 2


# ---- tpm ----------------------------------------------------------------------------------------


def test_tpm_reserves_prompt_plus_max_tokens_and_settles_on_real_usage() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", FakeReply("ok", usage=Usage(10, 20), delay_s=0.01))
    root, services, guard = setup({"fake:a": LimitSpec(tpm=1000)}, fake, clock)
    bucket = guard.limiter("fake:a").tpm
    assert bucket is not None

    async def scenario() -> tuple[float, float]:
        task = asyncio.create_task(run_once(root, services, PROMPT, max_tokens=500))
        while not fake.calls:
            await asyncio.sleep(0)
        during = bucket.level
        await task
        return during, bucket.level

    during, after = asyncio.run(scenario())
    assert during == pytest.approx(1000 - (10 + 500))  # worst case reserved while the call runs
    assert after == pytest.approx(1000 - 30)  # corrected to the 10 + 20 tokens really used


def test_a_failed_call_gives_its_tokens_back_but_keeps_its_request() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", ServerError("boom", provider="fake", model="a", status=500))
    root, services, guard = setup({"fake:a": LimitSpec(tpm=1000, rpm=10)}, fake, clock)
    with pytest.raises(ServerError):
        run_sync(root, services, PROMPT, max_tokens=500)
    limiter = guard.limiter("fake:a")
    assert limiter.tpm.level == pytest.approx(1000)  # type: ignore[union-attr]
    assert limiter.rpm.level == pytest.approx(9)  # type: ignore[union-attr]


def test_a_reservation_bigger_than_the_bucket_takes_the_whole_bucket_instead_of_hanging() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=FakeReply("ok", usage=Usage(10, 10)))
    root, services, _ = setup({"fake:a": LimitSpec(tpm=100)}, fake, clock)
    run_sync(root, services, PROMPT, max_tokens=5000)
    # The first call found a full bucket; the second waits for the 20 tokens really used to refill.
    run_sync(root, services, PROMPT, max_tokens=5000)
    assert clock.slept == [pytest.approx(20 / (100 / 60))]


def test_token_bucket_may_go_negative_when_a_call_used_more_than_it_reserved() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock)
    bucket.take(10)
    bucket.adjust(10 - 100)
    assert bucket.level == pytest.approx(60 - 10 - 90)
    assert bucket.wait_s(1) == pytest.approx(41)  # 1 per second refills -40 to 1


# ---- concurrency --------------------------------------------------------------------------------


class CountingProvider(FakeProvider):
    """A fake that remembers the most calls it had in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most_in_flight = 0

    async def complete(self, request, model):  # type: ignore[no-untyped-def]
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await super().complete(request, model)
        finally:
            self.in_flight -= 1


def test_concurrency_cap_queues_calls_beyond_the_cap() -> None:
    clock = FakeClock()
    fake = CountingProvider().script("a", default=FakeReply("ok", delay_s=0.02))
    profile = profile_of({"strategy": "fake:a"})
    guard = LimitsGuard({"fake:a": LimitSpec(concurrency=2)}, max_wait_s=10, clock=clock, sleep=clock.sleep)
    services = session_services(profile, {"fake": fake}, [guard])
    root = Together(*(build(profile, "fake:a") for _ in range(5)))
    run_sync(root, services)
    assert len(fake.calls) == 5
    assert fake.most_in_flight == 2


def test_concurrency_cap_with_fail_fast_refuses_instead_of_queueing() -> None:
    clock = FakeClock()
    fake = CountingProvider().script("a", default=FakeReply("ok", delay_s=0.02))
    profile = profile_of({"strategy": "fake:a"})
    guard = LimitsGuard({"fake:a": LimitSpec(concurrency=1)}, clock=clock, sleep=clock.sleep)
    services = session_services(profile, {"fake": fake}, [guard])
    root = Together(build(profile, "fake:a"), build(profile, "fake:a"))
    with pytest.raises(RateLimited, match="all 1 concurrent slots are busy"):
        run_sync(root, services, options=RunOptions(read_cache=False, write_cache=False, fail_fast=True))
    assert len(fake.calls) == 1


def test_cancelling_a_waiting_call_gives_back_its_slot() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=FakeReply("ok"))
    never = asyncio.Event

    async def sleep_until_cancelled(seconds: float) -> None:
        await never().wait()

    profile = profile_of({"strategy": "fake:a"})
    guard = LimitsGuard({"fake:a": LimitSpec(rpm=1, concurrency=1)}, max_wait_s=120, clock=clock, sleep=sleep_until_cancelled)
    services = session_services(profile, {"fake": fake}, [guard])
    root = build(profile)

    async def scenario() -> None:
        await run_once(root, services)  # uses the one request of this minute
        waiting = asyncio.create_task(run_once(root, services))  # holds the slot, waits for the bucket
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        clock.advance(60)
        await asyncio.wait_for(run_once(root, services), timeout=5)  # the slot is free again

    asyncio.run(scenario())
    assert len(fake.calls) == 2


# ---- the providers' signals ---------------------------------------------------------------------


def test_retry_after_from_the_provider_pauses_the_model_for_later_calls() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", RateLimited("slow down", provider="fake", model="a", retry_after=20), FakeReply("ok"))
    root, services, _ = setup({}, fake, clock)  # no limits configured: the pause applies anyway
    with pytest.raises(RateLimited):
        run_sync(root, services)
    spans: list = []
    assert run_sync(root, services, spans=spans).text == "ok"
    assert clock.slept == [pytest.approx(20)]
    assert any("paused: fake:a asked to wait 20 s (Retry-After)" in m for m in events(spans[0]))


def test_rate_limit_headers_with_nothing_remaining_pause_until_the_reset() -> None:
    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, guard = setup({}, fake, clock)
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "12s", "x-ratelimit-remaining-tokens": "9000"}
    guard.observe_rate_limits("fake:a", parse_rate_limits(headers))
    run_sync(root, services)
    assert clock.slept == [pytest.approx(12)]


def test_an_answer_reporting_nothing_left_pauses_the_next_call_until_the_reset() -> None:
    clock = FakeClock()
    exhausted = RateLimitInfo(limit_requests=100, remaining_requests=0, reset_requests_s=7.5)
    fake = FakeProvider().script("a", FakeReply("first", rate_limits=exhausted), default=FakeReply("second"))
    root, services, _ = setup({}, fake, clock)
    assert run_sync(root, services).text == "first"
    assert clock.slept == []
    assert run_sync(root, services).text == "second"
    assert clock.slept == [pytest.approx(7.5)]


def test_rate_limit_headers_with_room_left_change_nothing() -> None:
    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, guard = setup({}, fake, clock)
    guard.observe_rate_limits("fake:a", parse_rate_limits({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "12s"}))
    run_sync(root, services)
    assert clock.slept == []


# ---- circuit breaker ----------------------------------------------------------------------------

BREAKER = LimitSpec(breaker=BreakerSpec(failures=2, window_s=60, cooldown_s=30))


def test_an_open_circuit_makes_a_call_with_nowhere_else_to_go_wait_and_probe() -> None:
    """Other calls' failures opened the circuit: the next call waits out the cooldown and is
    the half-open trial, instead of failing without being sent."""
    clock = FakeClock()
    boom = ServerError("boom", provider="fake", model="a", status=500)
    fake = FakeProvider().script("a", boom, boom, FakeReply("back"))
    root, services, guard = setup({"fake:a": BREAKER}, fake, clock)
    for _ in range(2):
        with pytest.raises(ServerError):
            run_sync(root, services)
    assert guard.limiter("fake:a").breaker.state == "open"
    spans: list = []
    assert run_sync(root, services, spans=spans).text == "back"
    assert clock.slept == [pytest.approx(30.0)]
    assert len(fake.calls) == 3
    assert guard.limiter("fake:a").breaker.state == "closed"
    notes = events(spans[0])
    assert any("waiting for fake:a: circuit open for 30.0 s after 2 failures" in m for m in notes)
    assert any("this call is the trial" in m for m in notes)


def test_a_circuit_wait_longer_than_the_patience_fails_retryable_without_calling() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=ServerError("boom", provider="fake", model="a", status=500))
    root, services, _ = setup({"fake:a": BREAKER}, fake, clock, max_wait_s=10)
    for _ in range(2):
        with pytest.raises(ServerError):
            run_sync(root, services)
    with pytest.raises(Overloaded, match=r"circuit open for 30\.0 s after 2 failures") as caught:
        run_sync(root, services)
    assert len(fake.calls) == 2  # the third call never reached the provider
    assert caught.value.retryable and caught.value.failover  # a later pass may send it
    assert clock.slept == []


def test_calls_waiting_on_an_open_circuit_follow_the_one_trial() -> None:
    """After the cooldown one call probes the model; the others wait for its outcome and then
    all go, instead of failing while it is in flight."""
    clock = FakeClock()
    boom = ServerError("boom", provider="fake", model="a", status=500)
    fake = FakeProvider().script("a", boom, boom, FakeReply("probe", delay_s=0.05), default=FakeReply("ok"))
    profile = profile_of({"strategy": "fake:a"})
    guard = LimitsGuard({"fake:a": BREAKER}, max_wait_s=60, clock=clock, sleep=clock.sleep)
    services = session_services(profile, {"fake": fake}, [guard])
    single = build(profile)
    for _ in range(2):
        with pytest.raises(ServerError):
            run_sync(single, services)
    root = Together(*(build(profile, "fake:a") for _ in range(4)))
    spans: list = []
    run_sync(root, services, spans=spans)
    assert len(fake.calls) == 2 + 4
    notes = events(spans[0])
    assert sum("this call is the trial" in m for m in notes) == 1
    assert sum("waiting for fake:a: circuit half-open after 2 failures: a trial call is in flight" in m for m in notes) == 3
    assert guard.limiter("fake:a").breaker.state == "closed"


def test_a_failed_trial_sends_the_waiting_calls_back_to_wait_for_the_next_cooldown() -> None:
    clock = FakeClock()
    boom = ServerError("boom", provider="fake", model="a", status=500)
    fake = FakeProvider().script("a", boom, boom, FakeError(boom, delay_s=0.05), default=FakeReply("ok"))
    profile = profile_of({"strategy": "fake:a"})
    guard = LimitsGuard({"fake:a": BREAKER}, max_wait_s=100, clock=clock, sleep=clock.sleep)
    services = session_services(profile, {"fake": fake}, [guard])
    single = build(profile)
    for _ in range(2):
        with pytest.raises(ServerError):
            run_sync(single, services)
    trial, waiter = build(profile, "fake:a"), build(profile, "fake:a")
    spans: list = []
    with pytest.raises(ServerError):  # the trial's own error; the waiter answered after a second cooldown
        run_sync(Together(trial, waiter), services, spans=spans)
    assert [c.model for c in fake.calls] == ["a"] * 4
    assert clock.slept == [pytest.approx(30.0), pytest.approx(30.0)]
    assert guard.limiter("fake:a").breaker.state == "closed"


def test_an_open_circuit_sends_a_fallback_to_the_next_model_without_waiting() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=ServerError("boom", provider="fake", model="a", status=500)).script("b", default=FakeReply("b"))
    strategy = {"fallback": ["fake:a", "fake:b"], "retry": {"attempts": 3, "backoff_s": 0.001, "max_backoff_s": 0.001}}
    root, services, _ = setup({"fake:a": BREAKER}, fake, clock, strategy=strategy)
    first = run_sync(root, services)  # a fails twice (opening the circuit); the third try fails fast
    assert first.text == "b"
    assert [c.model for c in fake.calls] == ["a", "a", "b"]
    attempts = [a.error for a in first.trace.attempts()]
    assert attempts == ["ServerError", "ServerError", "Overloaded", None]


def test_after_the_cooldown_one_trial_call_decides() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", *[ServerError("boom", provider="fake", model="a", status=500)] * 3, FakeReply("back"))
    root, services, guard = setup({"fake:a": BREAKER}, fake, clock, max_wait_s=10)  # refused, not waited for
    for _ in range(2):
        with pytest.raises(ServerError):
            run_sync(root, services)
    breaker = guard.limiter("fake:a").breaker
    clock.advance(30)
    assert breaker.state == "half-open"
    with pytest.raises(ServerError):  # the trial fails: open again for a whole cooldown
        run_sync(root, services)
    assert breaker.state == "open"
    with pytest.raises(Overloaded, match="after 3 failures"):
        run_sync(root, services)
    clock.advance(30)
    assert run_sync(root, services).text == "back"  # the trial succeeds: closed
    assert breaker.state == "closed"


def test_failures_further_apart_than_the_window_do_not_open_the_circuit() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=ServerError("boom", provider="fake", model="a", status=500))
    root, services, guard = setup({"fake:a": BREAKER}, fake, clock)
    for _ in range(3):
        with pytest.raises(ServerError):
            run_sync(root, services)
        clock.advance(61)
    assert guard.limiter("fake:a").breaker.state == "closed"
    assert len(fake.calls) == 3


def test_half_open_lets_only_one_trial_through_at_a_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerSpec(failures=1, cooldown_s=5), clock)
    breaker.record("failure", trial=False)
    assert breaker.refusal() is not None
    clock.advance(5)
    assert breaker.refusal() is None and breaker.admit() is True
    refusal = breaker.refusal()
    assert refusal is not None and "trial call is in flight" in refusal.message
    breaker.record("neutral", trial=True)  # e.g. the trial was cancelled: the next call may try
    assert breaker.refusal() is None


def test_a_permanent_error_proves_the_server_is_up_and_ends_the_streak() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerSpec(failures=2), clock)
    breaker.record("failure", trial=False)
    breaker.record("success", trial=False)
    breaker.record("failure", trial=False)
    assert breaker.state == "closed"


def test_every_model_has_a_breaker_even_without_limits() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=Overloaded("busy", provider="fake", model="a", status=529))
    root, services, _ = setup({}, fake, clock, max_wait_s=10)
    for _ in range(5):  # the default: 5 failures in a row within 60 s
        with pytest.raises(Overloaded, match="busy"):
            run_sync(root, services)
    with pytest.raises(Overloaded, match="circuit open"):
        run_sync(root, services)
    assert len(fake.calls) == 5


# ---- with other guards and the profile ----------------------------------------------------------


def test_a_call_refused_by_the_budget_after_the_limits_gives_its_request_back() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=FakeReply("ok"))
    profile = profile_of({"models": {"a": {"model": "fake:a", "price": {"input": 1000, "output": 1000}}}, "strategy": "a"})
    limits = LimitsGuard({"fake:a": LimitSpec(rpm=5)}, clock=clock, sleep=clock.sleep)
    budget = SpendGuard(Budgets(per_request_usd=0.001))
    services = session_services(profile, {"fake": fake}, [limits, budget])
    with pytest.raises(BudgetExceeded):
        run_sync(build(profile), services, max_tokens=100)
    assert limits.limiter("fake:a").rpm.level == pytest.approx(5)  # type: ignore[union-attr]
    assert fake.calls == []


def test_profile_limits_are_keyed_by_model_id_whether_written_as_alias_or_id() -> None:
    profile = profile_of(
        {
            "models": {"fast": "openai:gpt-5-mini", "smart": "anthropic:claude-sonnet-4-5"},
            "limits": {"fast": {"rpm": 500}, "anthropic:claude-sonnet-4-5": {"concurrency": 2}},
            "strategy": "fast",
        }
    )
    limits = limits_by_model(profile.limits, profile.models)
    assert limits["openai:gpt-5-mini"].rpm == 500
    assert limits["anthropic:claude-sonnet-4-5"].concurrency == 2
    from mmo.app.guards import run_guards

    guard = next(g for g in run_guards(profile, providers=["openai"], runlog=None) if isinstance(g, LimitsGuard))
    assert guard.max_wait_s == profile.retry.max_retry_after_s


def test_two_limit_entries_for_one_model_are_a_config_error() -> None:
    profile = profile_of({"models": {"fast": "openai:gpt-5-mini"}, "limits": {"fast": {"rpm": 1}, "openai:gpt-5-mini": {"rpm": 2}}, "strategy": "fast"})
    with pytest.raises(ConfigError, match="both name openai:gpt-5-mini"):
        limits_by_model(profile.limits, profile.models)


def test_a_limit_key_that_is_neither_alias_nor_id_is_an_unknown_name() -> None:
    profile = profile_of({"models": {"fast": "openai:gpt-5-mini"}, "limits": {"fats": {"rpm": 1}}, "strategy": "fast"})
    with pytest.raises(UnknownName, match="did you mean 'fast'"):
        limits_by_model(profile.limits, profile.models)


def test_limits_do_not_touch_cache_hits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mmo.runtime.cache import ResponseCache

    clock, fake = FakeClock(), FakeProvider().script("a", default=FakeReply("ok"))
    root, services, _ = setup({"fake:a": LimitSpec(rpm=1)}, fake, clock)
    services.cache = ResponseCache(tmp_path / "cache")
    try:
        for _ in range(3):
            assert run_sync(root, services, options=RunOptions()).text == "ok"
    finally:
        services.cache.close()
    assert len(fake.calls) == 1 and clock.slept == []


def test_all_failing_in_a_fallback_keeps_every_error() -> None:
    clock = FakeClock()
    fake = FakeProvider().script("a", default=FakeReply("a"))
    strategy = {"fallback": ["fake:a", "fake:a"], "retry": FAST_RETRY}
    root, services, _ = setup({"fake:a": LimitSpec(rpm=1)}, fake, clock, max_wait_s=1, strategy=strategy)
    run_sync(root, services)
    with pytest.raises(AllAttemptsFailed) as caught:
        run_sync(root, services)
    assert [type(e).__name__ for e in caught.value.exceptions] == ["RateLimited", "RateLimited"]
