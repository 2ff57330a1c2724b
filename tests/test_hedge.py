"""Hedge behaviour with scripted fake providers (no HTTP): the timer, fail-fast starts, the
winner, cancellation of losers, errors and costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv
from mmo.config.loader import load_profile
from mmo.config.schema import Profile
from mmo.core.errors import AllAttemptsFailed, BadRequest, ModelNotFound, Overloaded, ServerError
from mmo.core.paths import MmoPaths
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Request, Usage
from mmo.providers.fake import FakeError, FakeProvider, FakeReply
from mmo.strategies.build import build_tree
from mmo.strategies.hedge import HedgeNode
from tests.support.engine_harness import run_request_sync
from tests.support.strategy_harness import Recorder, run_profile

MODELS = {"a": "fake:a", "b": "fake:b", "c": "fake:c"}


def hedge(*children: str, after_ms: float) -> dict:
    return {"models": MODELS, "strategy": {"hedge": list(children), "after_ms": after_ms}}


def hedge_span(trace: Span) -> Span:
    span = trace.children[0]
    assert span.kind == "hedge"
    return span


def child(span: Span, label: str) -> Span:
    return next(c for c in span.children if c.label == label)


def notes(span: Span) -> list[str]:
    return [e.message for e in span.events]


def test_a_fast_first_child_answers_alone() -> None:
    fake = FakeProvider().script("a", FakeReply("from a")).script("b", FakeReply("never"))
    completion = run_profile(hedge("a", "b", after_ms=5000), {"fake": fake})
    assert completion.text == "from a"
    assert [c.model for c in fake.calls] == ["a"]
    assert [s.label for s in hedge_span(completion.trace).children] == ["a"]


def test_a_slow_child_is_hedged_after_the_delay_and_cancelled_when_the_other_wins() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("slow a", delay_s=5.0))
    fake.script("b", FakeReply("quick b", delay_s=0.01, usage=Usage(10, 3), cost=Cost(0.002, "test")))
    completion = run_profile(hedge("a", "b", after_ms=60), {"fake": fake})
    assert completion.text == "quick b" and completion.model_id == "fake:b"
    assert fake.cancelled == ["a"]
    span = hedge_span(completion.trace)
    a, b = child(span, "a"), child(span, "b")
    assert a.status == "cancelled" and b.status == "ok"
    assert b.start_ms - a.start_ms >= 55  # the second child waited for the hedge delay
    messages = notes(span)
    assert "a has not answered after 60 ms; starting b" in messages
    assert any(m.startswith("b answered first") for m in messages)
    assert any(m.startswith("cancelled a: fake:b answered first") for m in messages)
    # The cancelled call reports no usage, but its prompt may be billed: fake:a has no price and
    # no recording, so its cost is unknown, and so is the total (never a silent $0).
    assert a.cost == Cost(None, "unknown (cancelled in flight)") and a.usage is not None and a.usage.output_tokens == 0
    assert "cancelled in flight; its price is unknown, so the run's cost is unknown" in [e.message for e in a.events]
    assert completion.trace.total_cost().usd is None


def test_three_children_start_one_after_another_until_one_answers() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("a", delay_s=5.0)).script("b", FakeReply("b", delay_s=5.0)).script("c", FakeReply("c"))
    completion = run_profile(hedge("a", "b", "c", after_ms=40), {"fake": fake})
    assert completion.text == "c"
    assert sorted(fake.cancelled) == ["a", "b"]
    span = hedge_span(completion.trace)
    assert {s.label: s.status for s in span.children} == {"a": "cancelled", "b": "cancelled", "c": "ok"}
    assert child(span, "c").start_ms - child(span, "b").start_ms >= 35
    assert notes(span)[:2] == ["a has not answered after 40 ms; starting b", "a, b have not answered after 40 ms; starting c"]


def test_a_child_that_fails_fast_starts_the_next_at_once() -> None:
    fake = FakeProvider()
    fake.script("a", Overloaded("busy", provider="fake", model="a", status=529))
    fake.script("b", FakeReply("b answers"))
    completion = run_profile(hedge("a", "b", after_ms=30_000), {"fake": fake})
    assert completion.text == "b answers"
    span = hedge_span(completion.trace)
    assert any(m.startswith("a failed after") and "Overloaded" in m and m.endswith("starting b now") for m in notes(span))
    assert completion.trace.duration_ms < 30_000  # the timer was not waited for


def test_a_failure_while_another_child_runs_starts_the_next_and_keeps_waiting() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("a at last", delay_s=0.3))
    fake.script("b", ServerError("boom", provider="fake", model="b", status=500))
    fake.script("c", FakeReply("c", delay_s=5.0))
    completion = run_profile(hedge("a", "b", "c", after_ms=50), {"fake": fake})
    assert completion.text == "a at last"
    assert fake.cancelled == ["c"]
    span = hedge_span(completion.trace)
    assert {s.label: s.status for s in span.children} == {"a": "ok", "b": "error", "c": "cancelled"}
    assert any(m.startswith("b failed after") and m.endswith("starting c now") for m in notes(span))


def test_every_child_failing_raises_all_their_errors_in_order() -> None:
    fake = FakeProvider()
    fake.script("a", FakeError(ServerError("late boom", provider="fake", model="a", status=500), delay_s=0.2))
    fake.script("b", ModelNotFound("gone", provider="fake", model="b", status=404))
    spans: list = []
    with pytest.raises(AllAttemptsFailed) as caught:
        run_profile(hedge("a", "b", after_ms=20), {"fake": fake}, spans=spans)
    assert [type(e).__name__ for e in caught.value.exceptions] == ["ModelNotFound", "ServerError"]
    assert caught.value.failover
    assert sorted(a.status for a in spans[0].attempts()) == ["error", "error"]
    assert any(m.startswith("b failed (") and m.endswith("waiting for a") for m in notes(hedge_span(spans[0])))


def test_an_error_no_target_can_fix_stops_the_hedge_and_cancels_the_rest() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("slow", delay_s=5.0))
    fake.script("b", BadRequest("bad field", provider="fake", model="b", status=400))
    spans: list = []
    with pytest.raises(BadRequest):
        run_profile(hedge("a", "b", after_ms=20), {"fake": fake}, spans=spans)
    assert fake.cancelled == ["a"]
    span = hedge_span(spans[0])
    assert {s.label: s.status for s in span.children} == {"a": "cancelled", "b": "error"}
    assert "b failed with an error no other target can fix; stopping" in notes(span)


def test_hedged_children_never_stream() -> None:
    fake = FakeProvider().script("a", FakeReply("slow", delay_s=5.0)).script("b", FakeReply("the answer"))
    sink = Recorder()
    completion = run_profile(hedge("a", "b", after_ms=20), {"fake": fake}, sink=sink)
    assert completion.text == "the answer"
    assert sink.events == []
    assert [c.stream for c in fake.calls] == [False, False]


def test_a_hedge_of_strategies_cancels_a_whole_branch() -> None:
    fake = FakeProvider()
    fake.script("a", FakeReply("slow", delay_s=5.0)).script("b", FakeReply("b")).script("c", FakeReply("c", delay_s=0.01))
    profile = {"models": MODELS, "strategy": {"hedge": [{"fallback": ["a", "b"]}, "c"], "after_ms": 30}}
    completion = run_profile(profile, {"fake": fake})
    assert completion.text == "c"
    fallback = child(hedge_span(completion.trace), "fallback")
    assert fallback.status == "cancelled" and [s.status for s in fallback.children] == ["cancelled"]
    assert [c.model for c in fake.calls] == ["a", "c"]  # the branch was stopped, not moved on to b


def test_builder_makes_a_hedge_node_with_built_children() -> None:
    node = build_tree(Profile.model_validate({"name": "t", **hedge("a", "b", after_ms=250)}))
    assert isinstance(node, HedgeNode)
    assert node.after_ms == 250
    assert [c.label for c in node.children()] == ["a", "b"]


# --- the built-in profiles -----------------------------------------------------------------------


def run_builtin(name: str, request: Request, cwd: Path, providers: dict | None = None) -> Completion:
    """A built-in profile run as `mmo ask` runs it; ``providers`` replace vendors by fakes."""
    env = AppEnv({}, cwd, MmoPaths.from_env())
    loaded = load_profile(name, cwd=cwd, paths=env.paths)

    return run_request_sync(request, env, resolved=ResolvedProfile(loaded.profile, "builtin", name), providers=providers)


def test_the_builtin_hedge_profile_hedges_a_slow_gpt4o_with_gemini_pro(tmp_path: Path) -> None:
    # Replay waits the simulated latency here: gpt-4o would take 33 s, pro starts at 2 s.
    request = Request.from_prompt("MMLU-Pro question 3609", metadata={"id": "mmlu_pro-3609"})
    completion = run_builtin("hedge", request, tmp_path)
    assert completion.model_id == "replay:gemini-1.5-pro-002"
    span = hedge_span(completion.trace)
    assert {s.label: s.status for s in span.children} == {"gpt4o": "cancelled", "pro": "ok"}
    assert notes(span)[0] == "gpt4o has not answered after 2000 ms; starting pro"


def test_the_builtin_multi_vendor_profile_hedges_across_vendors_inside_its_slo(tmp_path: Path) -> None:
    openai = FakeProvider("openai").script("gpt-4.1-mini", ServerError("outage", provider="openai", model="gpt-4.1-mini", status=500))
    anthropic = FakeProvider("anthropic").script("claude-haiku-4-5", FakeReply("from haiku", usage=Usage(20, 5)))
    gemini = FakeProvider("gemini")
    providers = {"openai": openai, "anthropic": anthropic, "gemini": gemini}
    completion = run_builtin("multi-vendor", Request.from_prompt("Summarise."), tmp_path, providers)
    assert completion.text == "from haiku" and completion.model_id == "anthropic:claude-haiku-4-5"
    slo = completion.trace.children[0]
    assert slo.kind == "slo" and [c.kind for c in slo.children] == ["fallback"]
    hedge = slo.children[0].children[0]
    assert hedge.kind == "hedge"
    assert any(m.startswith("mini failed after") and m.endswith("starting haiku now") for m in notes(hedge))
    assert gemini.calls == []
    # Priced from the library: haiku's known price, not unknown.
    assert completion.trace.total_cost().usd is not None and completion.trace.total_cost().usd > 0
