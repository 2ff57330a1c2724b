"""Budgets: the per-request cap (refuse, or let a fallback take a cheaper target), the daily cap
from the run log, unknown prices, and what counts as spent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmo.app.guards import run_guards
from mmo.catalog.prices import ModelPrice
from mmo.cli.main import app
from mmo.core.errors import AllAttemptsFailed, BudgetExceeded, StreamCut
from mmo.core.paths import MmoPaths
from mmo.core.types import Cost, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.call_estimate import DEFAULT_OUTPUT_TOKENS
from mmo.runtime.runlog import AttemptRecord, RunLog, RunRecord
from mmo.runtime.spend import Budgets, SpendGuard
from tests.support.guard_harness import Sequence2, Together, build, profile_of, run_once, run_sync, session_services

# USD per 1M tokens. With the 40-character prompt (10 tokens) and max_tokens=1000:
#   big:   10 * 10 / 1e6 + 1000 * 30 / 1e6  = $0.0301
#   small: 10 * 0.1 / 1e6 + 1000 * 0.4 / 1e6 = $0.000401
MODELS = {
    "big": {"model": "fake:big", "price": {"input": 10, "output": 30}},
    "small": {"model": "fake:small", "price": {"input": 0.1, "output": 0.4}},
    "mystery": "fake:mystery",
}
PROMPT = "x" * 40
BIG_WORST = 0.0301


def fakes() -> FakeProvider:
    fake = FakeProvider()
    for model in ("big", "small", "mystery"):
        fake.script(model, default=FakeReply(f"from {model}", usage=Usage(10, 100)))
    return fake


def setup(strategy: object, fake: FakeProvider, **caps: object):
    profile = profile_of({"models": MODELS, "strategy": strategy})
    guard = SpendGuard(Budgets(**caps))  # type: ignore[arg-type]
    return profile, session_services(profile, {"fake": fake}, [guard]), guard


def notes(span) -> list[str]:
    out = [e.message for e in span.events]
    for child in span.children:
        out += notes(child)
    return out


def test_worst_case_prices_estimated_input_and_max_tokens() -> None:
    price = ModelPrice(10.0, 30.0, None, "profile")
    assert price.worst_case_usd(10, 1000) == pytest.approx(BIG_WORST)
    assert ModelPrice(10.0, None, None, "x").worst_case_usd(10, 1000) is None


def test_an_affordable_call_passes_with_a_note_of_its_worst_case() -> None:
    fake = fakes()
    profile, services, guard = setup("small", fake, per_request_usd=0.01)
    spans: list = []
    assert run_sync(build(profile), services, PROMPT, max_tokens=1000, spans=spans).text == "from small"
    assert any("fake:small may cost up to $0.000401 for 10 prompt + 1000 output tokens (max_tokens); request $0.000401 of $0.0100" in m for m in notes(spans[0]))
    # Settled on the real usage (10 in, 100 out), not the worst case.
    assert guard.session.spent == pytest.approx((10 * 0.1 + 100 * 0.4) / 1e6)
    assert guard.session.reserved == pytest.approx(0)


def test_too_expensive_target_is_refused_and_a_fallback_takes_the_cheaper_one() -> None:
    fake = fakes()
    profile, services, _ = setup({"fallback": ["big", "small"]}, fake, per_request_usd=0.01)
    spans: list = []
    completion = run_sync(build(profile), services, PROMPT, max_tokens=1000, spans=spans)
    assert completion.text == "from small"
    assert fake.calls_to("big") == []  # refused before anything was sent
    refused = next(spans[0].attempts())
    assert refused.model_id == "fake:big" and refused.error == "BudgetExceeded"
    assert "per-request cap $0.0100: fake:big could cost up to $0.0301" in (refused.error_message or "")
    assert "budget: refused (a cheaper target may fit)" in notes(spans[0])


def test_without_max_tokens_the_documented_default_stands_in() -> None:
    fake = fakes()
    profile, services, _ = setup("big", fake, per_request_usd=0.1)
    with pytest.raises(BudgetExceeded, match=f"{DEFAULT_OUTPUT_TOKENS} output tokens \\(the default, as no max_tokens is set\\)"):
        run_sync(build(profile), services, PROMPT)  # 4096 * 30 / 1e6 = $0.12 > $0.10


def test_spent_so_far_in_the_run_counts_against_the_cap() -> None:
    fake = FakeProvider()
    fake.script("small", FakeReply("first", usage=Usage(10, 100), cost=Cost(0.0098, "test")), FakeReply("second"))
    fake.script("big", default=FakeReply("never"))
    profile, services, _ = setup("small", fake, per_request_usd=0.01)
    root = Sequence2(build(profile, "small"), build(profile, {"fallback": ["small"]}))
    spans: list = []
    with pytest.raises(AllAttemptsFailed) as caught:
        run_sync(root, services, PROMPT, max_tokens=1000, spans=spans)
    (error,) = caught.value.exceptions
    assert isinstance(error, BudgetExceeded) and error.failover  # $0.0098 spent: a $0.0002 call would still fit
    assert "this request has $0.009800 spent" in error.message
    assert error.limit_usd == 0.01 and error.spent_usd == pytest.approx(0.0098)


def test_once_the_cap_is_used_up_the_refusal_is_final_and_a_fallback_stops() -> None:
    fake = FakeProvider()
    fake.script("small", FakeReply("pricier than its estimate", usage=Usage(10, 100), cost=Cost(0.0102, "test")), FakeReply("never"))
    fake.script("big", default=FakeReply("never"))
    profile, services, _ = setup("small", fake, per_request_usd=0.01)
    root = Sequence2(build(profile, "small"), build(profile, {"fallback": ["big", "small"]}))
    with pytest.raises(BudgetExceeded) as caught:
        run_sync(root, services, PROMPT, max_tokens=1000)
    assert not caught.value.failover
    assert len(fake.calls) == 1  # neither big nor the second small was tried


def test_each_run_has_its_own_per_request_ledger() -> None:
    fake = FakeProvider().script("small", default=FakeReply("ok", cost=Cost(0.006, "test")))
    profile, services, guard = setup("small", fake, per_request_usd=0.01)
    for _ in range(3):
        assert run_sync(build(profile), services, PROMPT, max_tokens=1000).text == "ok"
    assert guard.session.spent == pytest.approx(0.018)


def test_calls_in_flight_reserve_their_worst_case() -> None:
    fake = FakeProvider().script("small", default=FakeReply("ok", delay_s=0.02, cost=Cost(0.0001, "test")))
    profile, services, _ = setup("small", fake, per_request_usd=0.0006)
    root = Together(build(profile, "small"), build(profile, "small"))
    with pytest.raises(BudgetExceeded, match=r"\+ \$0.000401 in flight"):
        run_sync(root, services, PROMPT, max_tokens=1000)
    assert len(fake.calls) == 1


def test_unknown_price_is_refused_under_a_cap_and_a_fallback_moves_on() -> None:
    fake = fakes()
    profile, services, _ = setup({"fallback": ["mystery", "small"]}, fake, per_request_usd=0.01)
    completion = run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert completion.text == "from small" and fake.calls_to("mystery") == []
    refused = next(completion.trace.attempts())
    assert "no price known for fake:mystery" in (refused.error_message or "")
    assert "allow_unknown_prices" in (refused.error_message or "")


def test_unknown_price_is_allowed_when_the_profile_says_so() -> None:
    fake = fakes()
    profile, services, guard = setup("mystery", fake, per_request_usd=0.01, allow_unknown_prices=True)
    spans: list = []
    assert run_sync(build(profile), services, PROMPT, max_tokens=1000, spans=spans).text == "from mystery"
    assert any("no price known for fake:mystery; allowed" in m for m in notes(spans[0]))
    assert guard.session.spent == 0.0


def test_daily_cap_counts_what_was_spent_today_before_the_session() -> None:
    fake = fakes()
    profile, services, _ = setup({"fallback": ["big", "small"]}, fake, daily_usd=1.0, spent_today_usd=0.98, profile_name="p")
    completion = run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert completion.text == "from small"
    refused = next(completion.trace.attempts())
    assert "daily cap $1.0000 of profile 'p': $0.9800 spent today" in (refused.error_message or "")


def test_daily_cap_counts_this_sessions_own_spend() -> None:
    fake = FakeProvider().script("small", default=FakeReply("ok", cost=Cost(0.5, "test")))
    profile, services, _ = setup("small", fake, daily_usd=1.0)
    run_sync(build(profile), services, PROMPT, max_tokens=1000)
    run_sync(build(profile), services, PROMPT, max_tokens=1000)
    with pytest.raises(BudgetExceeded, match="daily cap") as caught:
        run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert caught.value.failover  # exactly $1.00 of $1.00 spent: a call costing $0 would still fit


def test_a_cut_stream_counts_its_partial_output() -> None:
    from tests.support.strategy_harness import Recorder

    fake = FakeProvider().script("small", FakeReply("one two three four", usage=Usage(10, 4), cut_after_chunks=2))
    profile, services, guard = setup("small", fake, per_request_usd=0.01)
    with pytest.raises(StreamCut):
        run_sync(build(profile), services, PROMPT, max_tokens=1000, sink=Recorder())
    # 10 prompt tokens + "one two " (8 characters: 2 tokens) at the small model's prices.
    assert guard.session.spent == pytest.approx((10 * 0.1 + 2 * 0.4) / 1e6)


def test_a_call_cancelled_in_flight_counts_its_prompt() -> None:
    fake = FakeProvider().script("small", FakeReply("slow", delay_s=5))
    profile, services, guard = setup("small", fake, per_request_usd=0.01)

    async def scenario() -> None:
        task = asyncio.create_task(run_once(build(profile), services, PROMPT, max_tokens=1000))
        while not fake.calls:
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert guard.session.spent == pytest.approx(10 * 0.1 / 1e6)
    assert guard.session.reserved == pytest.approx(0)


def test_failed_calls_cost_nothing() -> None:
    from mmo.core.errors import ServerError

    fake = FakeProvider().script("small", ServerError("boom", provider="fake", model="small", status=500))
    profile, services, guard = setup("small", fake, per_request_usd=0.01)
    with pytest.raises(ServerError):
        run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert guard.session.spent == 0.0 and guard.session.reserved == pytest.approx(0)


# ---- from the profile and the run log -----------------------------------------------------------


def _log_run(log: RunLog, profile: str, started: datetime, cost: float) -> None:
    run = RunRecord(
        run_id=f"{profile}{started.timestamp():.0f}".ljust(32, "0")[:32],
        started_at=started.isoformat(),
        command="ask",
        profile=profile,
        strategy="small",
        prompt=None,
        answer=None,
        model_id="fake:small",
        status="ok",
        cost_usd=cost,
    )
    log.record(run, [AttemptRecord(run.run_id, 0, "/small", "fake:small", "ok", cost_usd=cost, cost_source="test")])


def test_session_reads_todays_spend_of_this_profile_from_the_run_log(tmp_path: Path) -> None:
    paths = MmoPaths.from_env()
    now = datetime.now(UTC)
    with RunLog(paths.runlog_path) as log:
        _log_run(log, "capped", now, 0.25)
        _log_run(log, "capped", now - timedelta(days=1, hours=1), 5.0)  # yesterday: not counted
        _log_run(log, "other", now, 7.0)  # another profile: not counted
    profile = profile_of({"models": MODELS, "strategy": "small", "budget": {"daily_usd": 1.0}}).model_copy(update={"name": "capped"})
    with RunLog(paths.runlog_path) as log:
        guards = run_guards(profile, providers=["fake"], runlog=log)
    budget = next(g for g in guards if isinstance(g, SpendGuard))
    assert budget.budgets.spent_today_usd == pytest.approx(0.25)
    assert budget.budgets.daily_usd == 1.0 and budget.budgets.allow_unknown_prices is False


def test_without_a_budget_no_budget_guard_is_installed() -> None:
    profile = profile_of({"models": MODELS, "strategy": "small"})
    guards = run_guards(profile, providers=["fake"], runlog=None)
    assert not any(isinstance(g, SpendGuard) for g in guards)


BUDGET_PROFILE = """\
providers:
  replay: {kind: replay, path: "builtin:mmlu_pro_sample", key: none}
models:
  flash: {model: "replay:gemini-1.5-flash-002", price: {input: 0.075, output: 0.3}}
  pro: {model: "replay:gemini-1.5-pro-002", price: {input: 1.25, output: 5.0}}
defaults: {max_tokens: 1000}
budget: {per_request_usd: 0.002}
strategy:
  fallback: [pro, flash]
"""


def test_ask_shows_the_refusal_and_answers_from_the_cheaper_model(tmp_path: Path) -> None:
    from mmo.app.demo import demo_task

    task = demo_task(None)
    profile = tmp_path / "capped.yaml"
    profile.write_text(BUDGET_PROFILE)
    result = CliRunner().invoke(app, ["ask", "--profile", str(profile), "--explain", "--no-cache", "--meta", f"id={task.id}", task.prompt])
    assert result.exit_code == 0, result.output
    assert "replay:gemini-1.5-flash-002" in result.output
    text = " ".join(result.output.split())
    assert "per-request cap $0.002000: replay:gemini-1.5-pro-002 could cost up to $0.0052" in text
    assert "budget: refused (a cheaper target may fit)" in text
    assert "pro ✗ BudgetExceeded → flash ✓" in text


def test_ask_with_one_model_over_the_cap_exits_4(tmp_path: Path) -> None:
    from mmo.app.demo import demo_task

    task = demo_task(None)
    # The demo's replay models have no price: under a cap they are refused unless allowed.
    profile = tmp_path / "capped.yaml"
    profile.write_text(_demo_with("budget: {per_request_usd: 0.01}\n"))
    args = ["ask", "--profile", str(profile), "--model", "pro", "--no-cache", "--meta", f"id={task.id}", task.prompt]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 4, result.output
    assert "no price known for replay:gemini-1.5-pro-002" in " ".join(result.output.split())


def _demo_with(extra: str) -> str:
    from importlib import resources

    return resources.files("mmo.profiles").joinpath("demo.yaml").read_text() + extra


# ---- a cascade takes the cheaper branch ------------------------------------------------------------


def test_a_cascade_keeps_the_answer_in_hand_when_the_next_tier_would_pass_the_cap() -> None:
    fake = fakes()
    strategy = {"cascade": ["small", "big"], "accept": {"regex": "never matches"}}
    profile, services, _ = setup(strategy, fake, per_request_usd=0.01)
    spans: list = []
    completion = run_sync(build(profile), services, PROMPT, max_tokens=1000, spans=spans)
    assert completion.text == "from small"
    assert fake.calls_to("big") == []
    assert any(
        m.startswith("budget: escalating to big would pass the cap; keeping the answer of small although it failed gate regex")
        for m in notes(spans[0])
    )


def test_a_cascade_with_nothing_in_hand_goes_on_and_fails_only_when_no_tier_fits() -> None:
    fake = fakes()
    profile, services, _ = setup({"cascade": ["big", "small"]}, fake, per_request_usd=0.01)
    # The first (dearer) tier is refused; the cheaper second tier still answers.
    completion = run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert completion.text == "from small"
    profile, services, _ = setup({"cascade": ["big"]}, fakes(), per_request_usd=0.01)
    with pytest.raises(AllAttemptsFailed) as caught:
        run_sync(build(profile), services, PROMPT, max_tokens=1000)
    assert [type(e) for e in caught.value.exceptions] == [BudgetExceeded]
