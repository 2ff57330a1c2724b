"""The cascade strategy, with scripted fake providers (no HTTP), and the offline cascade profiles
on the bundled MMLU-Pro replay sample."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from mmo.app.ask import AskInput, ask
from mmo.app.engine import open_engine
from mmo.app.profile_choice import resolve_profile
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.config.schema import Profile
from mmo.core.errors import AllAttemptsFailed, BadRequest, MissingKey, Overloaded, QualityGateFailed, Timeout
from mmo.core.paths import MmoPaths
from mmo.core.protocols import leaf_targets
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Request
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.strategies.build import build_tree, describe
from mmo.strategies.extract import choice, strict_choice
from mmo.strategies.gates.confidence import CONFIDENCE_INSTRUCTION
from tests.support.strategy_harness import Recorder, run_profile

MODELS = {"cheap": "fake:cheap", "mid": "fake:mid", "big": "fake:big", "other": "fake:other", "judge": "fake:judge"}
STRICT = r"answer is \([A-J]\)"


def cascade(*tiers: Any, accept: dict[str, Any] | None = None, on_exhausted: str = "last") -> dict[str, Any]:
    return {"models": MODELS, "strategy": {"cascade": list(tiers), "accept": accept or {}, "on_exhausted": on_exhausted}}


def cascade_notes(trace: Span) -> list[str]:
    return [event.message for event in trace.children[0].events]


def models_called(fake: FakeProvider) -> list[str]:
    return [call.model for call in fake.calls]


def test_the_first_answer_that_passes_is_accepted_and_nothing_else_is_called() -> None:
    fake = FakeProvider().script("cheap", FakeReply("The answer is (C).")).script("big", FakeReply("never"))
    completion = run_profile(cascade("cheap", "big", accept={"regex": STRICT}), {"fake": fake})
    assert completion.text == "The answer is (C)." and completion.model_id == "fake:cheap"
    assert models_called(fake) == ["cheap"]
    assert cascade_notes(completion.trace) == [
        r"cheap: gate regex passed: matches /answer is \([A-J]\)/",
        "accepted the answer of cheap: it passed regex",
    ]


def test_escalates_tier_by_tier_naming_the_gate_and_why() -> None:
    fake = FakeProvider().script("cheap", FakeReply("Paris")).script("mid", FakeReply("It is C")).script("big", FakeReply("The answer is (C)."))
    completion = run_profile(cascade("cheap", "mid", "big", accept={"regex": STRICT}), {"fake": fake})
    assert completion.model_id == "fake:big"
    assert models_called(fake) == ["cheap", "mid", "big"]
    notes = cascade_notes(completion.trace)
    assert notes[0] == r"escalating from cheap: gate regex failed: no match for /answer is \([A-J]\)/"
    assert notes[1] == r"escalating from mid: gate regex failed: no match for /answer is \([A-J]\)/"
    assert notes[-1] == "accepted the answer of big: it passed regex"
    escalation = completion.trace.children[0].events[0]
    assert escalation.attrs == {"tier": "cheap", "gate": "regex", "passed": False}


def test_cost_counts_every_rejected_tier_and_every_gate_call() -> None:
    fake = FakeProvider()
    fake.script("cheap", FakeReply("The answer is (A).", cost=Cost(0.001, "test")))
    fake.script("other", FakeReply("The answer is (B).", cost=Cost(0.002, "test")))
    fake.script("mid", FakeReply("The answer is (B).", cost=Cost(0.004, "test")))
    completion = run_profile(cascade("cheap", "mid", accept={"agree": {"model": "other"}}), {"fake": fake})
    assert completion.model_id == "fake:mid"
    assert completion.cost == Cost(0.004, "test")  # this answer's own call
    assert completion.trace.total_cost().usd == pytest.approx(0.007)  # the run: both tiers and the agree call
    assert [a.model_id for a in completion.trace.attempts()] == ["fake:cheap", "fake:other", "fake:mid"]


def test_exhausted_last_returns_the_last_answer_without_paying_for_model_gates_on_it() -> None:
    fake = FakeProvider().script("cheap", FakeReply("The answer is (A).")).script("mid", FakeReply("The answer is (B)."))
    fake.script("other", default=FakeReply("The answer is (C)."))
    accept = {"regex": r"\(B\)", "agree": {"model": "other"}}
    completion = run_profile(cascade("cheap", "mid", accept=accept), {"fake": fake})
    assert completion.model_id == "fake:mid"
    assert models_called(fake) == ["cheap", "mid"]  # cheap failed the regex: no agree call at all
    assert cascade_notes(completion.trace)[-1] == (
        "accepted the answer of mid: it passed regex (agree not run on the last tier: with on_exhausted 'last' its answer is returned anyway)"
    )
    fake = FakeProvider().script("cheap", FakeReply("one")).script("mid", FakeReply("two"))
    completion = run_profile(cascade("cheap", "mid", accept={"regex": "three"}), {"fake": fake})
    assert completion.text == "two"
    assert cascade_notes(completion.trace)[-1] == (
        "no answer passed the gates; returning the last answer, from mid (on_exhausted 'last'); it failed gate regex: no match for /three/"
    )


def test_exhausted_best_returns_the_answer_that_passed_the_most_gates() -> None:
    accept = {"min_length": 5, "regex": "C"}  # min_length runs first
    fake = FakeProvider().script("cheap", FakeReply("It is D")).script("mid", FakeReply("C"))
    completion = run_profile(cascade("cheap", "mid", accept=accept, on_exhausted="best"), {"fake": fake})
    assert completion.text == "It is D"  # passed min_length; mid failed it
    assert cascade_notes(completion.trace)[-1] == (
        "no answer passed the gates; returning the best answer, from cheap: it passed 1 of 2 gates (on_exhausted 'best'); it failed gate regex: no match for /C/"
    )
    # A tie goes to the later (more capable) tier.
    fake = FakeProvider().script("cheap", FakeReply("It is D")).script("mid", FakeReply("It is B"))
    completion = run_profile(cascade("cheap", "mid", accept=accept, on_exhausted="best"), {"fake": fake})
    assert completion.text == "It is B"


def test_best_mode_runs_model_gates_on_the_last_tier_too() -> None:
    fake = FakeProvider().script("cheap", FakeReply("The answer is (A).")).script("mid", FakeReply("The answer is (B)."))
    fake.script("other", default=FakeReply("The answer is (C)."))
    completion = run_profile(cascade("cheap", "mid", accept={"agree": {"model": "other"}}, on_exhausted="best"), {"fake": fake})
    assert models_called(fake) == ["cheap", "other", "mid", "other"]
    assert completion.text == "The answer is (B)."


def test_exhausted_error_raises_quality_gate_failed_and_keeps_the_trace() -> None:
    fake = FakeProvider().script("cheap", FakeReply("one")).script("mid", FakeReply("two"))
    spans: list[Span] = []
    with pytest.raises(QualityGateFailed) as caught:
        run_profile(cascade("cheap", "mid", accept={"regex": "three"}, on_exhausted="error"), {"fake": fake}, spans=spans)
    error = caught.value
    assert (error.gate, error.reason, error.model) == ("regex", "no match for /three/", "mid")
    assert error.failover and not error.retryable
    assert "two" not in error.one_line()  # the answer text stays out of messages
    assert error.one_line() == (
        "QualityGateFailed from fake:mid: no answer passed the gates of cascade (2 tiers); the answer of mid failed gate regex: no match for /three/"
    )
    assert [a.model_id for a in spans[0].attempts()] == ["fake:cheap", "fake:mid"]


def test_exhausted_error_with_tier_errors_too_raises_every_failure_in_order() -> None:
    fake = FakeProvider().script("cheap", Timeout("slow", provider="fake", model="cheap")).script("mid", FakeReply("two"))
    with pytest.raises(AllAttemptsFailed) as caught:
        run_profile(cascade("cheap", "mid", accept={"regex": "three"}, on_exhausted="error"), {"fake": fake})
    assert [type(e).__name__ for e in caught.value.exceptions] == ["Timeout", "QualityGateFailed"]


def test_a_failing_tier_escalates_and_its_error_is_noted() -> None:
    fake = FakeProvider().script("cheap", Overloaded("busy", provider="fake", model="cheap", status=529)).script("mid", FakeReply("The answer is (C)."))
    completion = run_profile(cascade("cheap", "mid", accept={"regex": STRICT}), {"fake": fake})
    assert completion.model_id == "fake:mid"
    assert cascade_notes(completion.trace)[0] == "escalating from cheap: Overloaded from fake:cheap HTTP 529: busy"
    assert [a.status for a in completion.trace.attempts()] == ["error", "ok"]


def test_the_last_answer_is_kept_when_the_last_tier_errors() -> None:
    fake = FakeProvider().script("cheap", FakeReply("one")).script("mid", Timeout("slow", provider="fake", model="mid"))
    completion = run_profile(cascade("cheap", "mid", accept={"regex": "three"}), {"fake": fake})
    assert completion.text == "one"
    notes = cascade_notes(completion.trace)
    assert "last tier mid failed: Timeout from fake:mid: slow" in notes
    assert notes[-1].startswith("no answer passed the gates; returning the last answer, from cheap")


def test_an_error_no_tier_can_fix_stops_the_cascade() -> None:
    fake = FakeProvider().script("cheap", BadRequest("invalid field", provider="fake", model="cheap", status=400)).script("mid", FakeReply("x"))
    with pytest.raises(BadRequest):
        run_profile(cascade("cheap", "mid"), {"fake": fake})
    assert models_called(fake) == ["cheap"]


def test_every_tier_failing_raises_all_attempts_failed_in_any_mode() -> None:
    for mode in ("last", "best", "error"):
        fake = FakeProvider().script("cheap", Timeout("slow", provider="fake", model="cheap"))
        fake.script("mid", Overloaded("busy", provider="fake", model="mid"))
        with pytest.raises(AllAttemptsFailed) as caught:
            run_profile(cascade("cheap", "mid", on_exhausted=mode), {"fake": fake})
        assert [type(e).__name__ for e in caught.value.exceptions] == ["Timeout", "Overloaded"]


def test_a_cascade_without_gates_accepts_the_first_answer() -> None:
    fake = FakeProvider().script("cheap", MissingKey("fake", "FAKE_API_KEY")).script("mid", FakeReply("anything"))
    completion = run_profile(cascade("cheap", "mid"), {"fake": fake})
    assert completion.text == "anything"
    assert cascade_notes(completion.trace)[0] == "no gates set: the first tier that answers is accepted"


def test_a_tier_can_be_a_fallback_group() -> None:
    group = {"fallback": ["cheap", "mid"], "retry": {"attempts": 1}}
    fake = FakeProvider().script("cheap", Overloaded("busy", provider="fake", model="cheap")).script("mid", FakeReply("The answer is (C)."))
    completion = run_profile(cascade(group, "big", accept={"regex": STRICT}), {"fake": fake})
    assert completion.model_id == "fake:mid" and models_called(fake) == ["cheap", "mid"]
    assert cascade_notes(completion.trace)[-1] == "accepted the answer of fallback: it passed regex"
    # The group's answer fails the gate: the cascade (not the fallback) moves on to the next tier.
    fake = FakeProvider().script("cheap", FakeReply("Paris")).script("big", FakeReply("The answer is (C)."))
    completion = run_profile(cascade(group, "big", accept={"regex": STRICT}), {"fake": fake})
    assert completion.model_id == "fake:big" and models_called(fake) == ["cheap", "big"]


def test_a_cascade_out_of_good_answers_fails_over_inside_a_fallback() -> None:
    inner = {"cascade": ["cheap"], "accept": {"regex": "C"}, "on_exhausted": "error"}
    profile = {"models": MODELS, "strategy": {"fallback": [inner, "big"], "retry": {"attempts": 1}}}
    fake = FakeProvider().script("cheap", FakeReply("D")).script("big", FakeReply("C"))
    completion = run_profile(profile, {"fake": fake})
    assert completion.model_id == "fake:big"
    assert completion.trace.children[0].children[0].error == "QualityGateFailed"


def test_confidence_is_asked_for_and_stripped_from_the_accepted_answer() -> None:
    fake = FakeProvider().script("cheap", FakeReply("Lyon\nConfidence: 0.4")).script("mid", FakeReply("Paris.\n\nConfidence: 0.95"))
    completion = run_profile(cascade("cheap", "mid", accept={"min_confidence": 0.8}), {"fake": fake})
    assert completion.text == "Paris." and completion.model_id == "fake:mid"
    for call in fake.calls:
        assert call.request.system == CONFIDENCE_INSTRUCTION
        assert call.request.last_user_text() == "What is the capital of France?"
    notes = cascade_notes(completion.trace)
    assert notes[0] == "asking every tier to end with 'Confidence: 0.NN' (min_confidence gate)"
    assert notes[1] == "escalating from cheap: gate min_confidence failed: self-rated confidence 0.40 is below 0.8"
    assert completion.trace.children[0].events[1].attrs["score"] == 0.4


def test_the_last_answer_is_returned_without_its_confidence_line_too() -> None:
    fake = FakeProvider().script("cheap", FakeReply("Lyon\nConfidence: 0.3"))
    completion = run_profile(cascade("cheap", accept={"min_confidence": 0.8}), {"fake": fake})
    assert completion.text == "Lyon"


def test_logprobs_are_requested_and_their_absence_escalates() -> None:
    fake = FakeProvider().script("cheap", FakeReply("Lyon")).script("mid", FakeReply("Paris", avg_logprob=-0.1))
    completion = run_profile(cascade("cheap", "mid", accept={"min_logprob": -0.5}), {"fake": fake})
    assert completion.model_id == "fake:mid"
    assert all(call.request.params.logprobs for call in fake.calls)
    notes = cascade_notes(completion.trace)
    assert notes[0] == "asking every tier for logprobs (min_logprob gate)"
    assert notes[1] == "escalating from cheap: gate min_logprob failed: no logprobs from this provider"


def test_tiers_never_stream_and_the_accepted_answer_is_returned_whole() -> None:
    fake = FakeProvider().script("cheap", FakeReply("rejected draft")).script("mid", FakeReply("The answer is (C)."))
    sink = Recorder()
    completion = run_profile(cascade("cheap", "mid", accept={"regex": STRICT}), {"fake": fake}, sink=sink)
    assert sink.events == []  # the renderer prints the returned completion
    assert [call.stream for call in fake.calls] == [False, False]
    assert completion.text == "The answer is (C)."


def test_the_tree_lists_the_models_gates_call() -> None:
    profile = Profile.model_validate(
        {"name": "t", **cascade("cheap", "mid", accept={"agree": {"model": "other"}, "judge": {"model": "judge"}})}
    )
    root = build_tree(profile)
    assert [t.id for t in leaf_targets(root)] == ["fake:cheap", "fake:mid", "fake:other", "fake:judge"]
    assert describe(root) == "cascade(cheap, mid, gate(other), gate(judge))"


# ---- the built-in offline profiles on the bundled replay sample ---------------------------------

FLASH = "gemini-1.5-flash-002"
LLAMA = "Llama-3.1-70B-Instruct"


def sample_tasks() -> list[dict[str, Any]]:
    with gzip.open(files("mmo").joinpath("data", "mmlu_pro_sample.jsonl.gz").open("rb"), "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def app_env(tmp_path: Path) -> AppEnv:
    return AppEnv(dict(os.environ), tmp_path, MmoPaths.from_env())


def ask_task(profile: str, task: dict[str, Any], env: AppEnv) -> Any:
    item = AskInput(prompt=task["prompt"], settings=RunSettings(choice=ProfileChoice(profile)), metadata={"id": task["id"]})
    return asyncio.run(ask(item, env))


def test_the_cascade_profile_escalates_when_flash_states_no_strict_answer(tmp_path: Path) -> None:
    tasks = sample_tasks()
    unclear = next(t for t in tasks if strict_choice(t["models"][FLASH]["text"]) is None)
    clear = next(t for t in tasks if strict_choice(t["models"][FLASH]["text"]) is not None)
    env = app_env(tmp_path)

    escalated = ask_task("cascade", unclear, env)
    assert escalated.error is None and escalated.completion is not None
    assert escalated.completion.model_id == f"replay:{LLAMA}"
    assert escalated.completion.text == unclear["models"][LLAMA]["text"]
    assert [a.model_id for a in escalated.trace.attempts()] == [f"replay:{FLASH}", f"replay:{LLAMA}"]
    expected_cost = unclear["models"][FLASH]["cost_usd"] + unclear["models"][LLAMA]["cost_usd"]
    assert escalated.total_cost.usd == pytest.approx(expected_cost)
    assert "escalating from flash: gate extract failed: no strict_choice answer could be extracted" in cascade_notes(escalated.trace)

    accepted = ask_task("cascade", clear, env)
    assert accepted.completion is not None and accepted.completion.model_id == f"replay:{FLASH}"
    assert [a.model_id for a in accepted.trace.attempts()] == [f"replay:{FLASH}"]


def test_the_cascade_profile_escalates_exactly_where_flash_had_no_strict_answer(tmp_path: Path) -> None:
    tasks = sample_tasks()
    env = app_env(tmp_path)

    async def first_models() -> dict[str, list[str]]:
        settings = RunSettings(choice=ProfileChoice("cascade"), read_cache=False, write_cache=False)
        tiers: dict[str, list[str]] = {}
        async with open_engine(settings, env) as engine:
            for task in tasks:
                request = Request.from_prompt(task["prompt"], metadata={"id": task["id"]})
                outcome = await engine.run(request)
                tiers[task["id"]] = [a.model_id or "" for a in outcome.trace.attempts()]
        return tiers

    tiers = asyncio.run(first_models())
    escalated = {task_id for task_id, models in tiers.items() if len(models) > 1}
    expected = {t["id"] for t in tasks if strict_choice(t["models"][FLASH]["text"]) is None}
    assert expected and escalated == expected


def test_the_agree_profile_accepts_flash_only_when_llama_picks_the_same_letter(tmp_path: Path) -> None:
    tasks = sample_tasks()
    agreeing = next(t for t in tasks if strict_choice(t["models"][FLASH]["text"]) and choice(t["models"][FLASH]["text"]) == choice(t["models"][LLAMA]["text"]))
    disagreeing = next(t for t in tasks if strict_choice(t["models"][FLASH]["text"]) and choice(t["models"][FLASH]["text"]) != choice(t["models"][LLAMA]["text"]))
    env = app_env(tmp_path)
    accepted = ask_task("cascade-agree", agreeing, env)
    assert accepted.completion is not None and accepted.completion.model_id == f"replay:{FLASH}"
    assert [a.model_id for a in accepted.trace.attempts()] == [f"replay:{FLASH}", f"replay:{LLAMA}"]
    escalated = ask_task("cascade-agree", disagreeing, env)
    assert escalated.completion is not None and escalated.completion.model_id == "replay:gemini-1.5-pro-002"
    assert [a.model_id for a in escalated.trace.attempts()] == [f"replay:{FLASH}", f"replay:{LLAMA}", "replay:gemini-1.5-pro-002"]


@pytest.mark.parametrize(
    ("profile", "task_id", "answered_by", "note"),
    [  # the examples the profiles' comments and the README give, on the recorded texts
        ("cascade", "mmlu_pro-153", FLASH, "flash: gate extract passed: extracted 'I' (strict_choice)"),
        ("cascade", "mmlu_pro-228", LLAMA, "escalating from flash: gate extract failed: no strict_choice answer could be extracted"),
        ("cascade-agree", "mmlu_pro-153", FLASH, "flash: gate agree passed: llama70b agrees: 'I' (choice)"),
        ("cascade-agree", "mmlu_pro-135", "gemini-1.5-pro-002", "escalating from flash: gate agree failed: llama70b answered 'G', this answer 'A' (choice)"),
    ],
)
def test_the_offline_cascades_examples_hold(tmp_path: Path, profile: str, task_id: str, answered_by: str, note: str) -> None:
    task = next(t for t in sample_tasks() if t["id"] == task_id)
    outcome = ask_task(profile, task, app_env(tmp_path))
    assert outcome.completion is not None and outcome.completion.model_id == f"replay:{answered_by}"
    assert note in cascade_notes(outcome.trace)


def test_the_json_profile_loads_with_its_schema_gate(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    root = build_tree(resolve_profile(ProfileChoice("cascade-json"), env).profile)
    assert root.gates.names == ("finish_reasons", "no_refusal", "json_schema")  # type: ignore[attr-defined]
    gate = root.gates.gates[-1]  # type: ignore[attr-defined]
    ok = gate.verdict(Completion('{"category": "billing", "priority": "high", "summary": "Charged twice for March."}', "fake:x"))
    short = gate.verdict(Completion('{"category": "billing", "priority": "high", "summary": "Refund"}', "fake:x"))
    assert ok.passed and not short.passed and "$.summary" in short.reason
