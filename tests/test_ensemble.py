"""Ensemble behaviour with scripted fake providers (no HTTP): votes, tie-breaks, judges,
aggregators, failing members, concurrency and costs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mmo.app.engine import open_engine
from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv, RunSettings
from mmo.config.loader import load_profile
from mmo.config.schema import Profile
from mmo.core.errors import AllAttemptsFailed, ConfigError, ModelNotFound, NoConsensus, Overloaded, ServerError
from mmo.core.paths import MmoPaths
from mmo.core.trace import Span
from mmo.core.types import Completion, Cost, Delta, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.strategies.build import build_tree
from mmo.strategies.ensemble import count_votes, parse_choice_number
from tests.support.strategy_harness import Recorder, run_profile

MODELS = {"flash": "fake:flash", "pro": "fake:pro", "llama": "fake:llama", "referee": "fake:judge", "big": "fake:big"}
QUESTION = "Which option is right?"


def ensemble(*members: str, **options: object) -> dict:
    return {"models": MODELS, "strategy": {"ensemble": list(members), **options}}


def answers(fake: FakeProvider, **texts: str) -> FakeProvider:
    for model, text in texts.items():
        fake.script(model, FakeReply(text))
    return fake


def ensemble_span(trace: Span) -> Span:
    span = trace.children[0]
    assert span.kind == "ensemble"
    return span


def notes(span: Span) -> list[str]:
    return [e.message for e in span.events]


# --- vote ----------------------------------------------------------------------------------------


def test_majority_vote_returns_the_first_member_answer_with_the_winning_letter() -> None:
    fake = answers(FakeProvider(), flash="I think (A). The answer is (A).", pro="The answer is (C).", llama="So the answer is (C)")
    completion = run_profile(ensemble("flash", "pro", "llama"), {"fake": fake}, QUESTION)
    assert completion.text == "The answer is (C)." and completion.model_id == "fake:pro"
    messages = notes(ensemble_span(completion.trace))
    assert "votes: C x2 (pro, llama), A x1 (flash)" in messages
    assert "C wins with 2 of 3 votes; answer from pro" in messages
    assert sorted(c.model for c in fake.calls) == ["flash", "llama", "pro"]
    assert all(not c.stream for c in fake.calls)


def test_members_run_concurrently() -> None:
    fake = FakeProvider()
    for model in ("flash", "pro", "llama"):
        fake.script(model, FakeReply("The answer is (B).", delay_s=0.15))
    completion = run_profile(ensemble("flash", "pro", "llama"), {"fake": fake})
    members = ensemble_span(completion.trace).children
    assert len(members) == 3
    # Every member started before any of them finished.
    assert max(m.start_ms for m in members) < min(m.start_ms + m.duration_ms for m in members)


def test_a_tie_goes_to_member_order_without_a_tie_break() -> None:
    fake = answers(FakeProvider(), flash="The answer is (A).", pro="The answer is (C).")
    completion = run_profile(ensemble("flash", "pro"), {"fake": fake})
    assert completion.model_id == "fake:flash"
    assert "tie broken in favour of A, the answer of flash" in notes(ensemble_span(completion.trace))


def test_a_tie_goes_to_the_most_trusted_member_in_tie_break_order() -> None:
    fake = answers(FakeProvider(), flash="The answer is (A).", pro="The answer is (C).", llama="no idea here")
    completion = run_profile(ensemble("flash", "pro", "llama", tie_break=["pro", "flash"]), {"fake": fake})
    assert completion.model_id == "fake:pro" and completion.text == "The answer is (C)."
    messages = notes(ensemble_span(completion.trace))
    assert "votes: C x1 (pro), A x1 (flash); no choice answer from llama" in messages
    assert "tie broken in favour of C, the answer of pro" in messages


def test_a_failing_member_is_left_out_and_the_others_still_vote() -> None:
    fake = answers(FakeProvider(), pro="The answer is (D).", llama="The answer is (D).")
    fake.script("flash", Overloaded("busy", provider="fake", model="flash", status=529))
    completion = run_profile(ensemble("flash", "pro", "llama", min_votes=2), {"fake": fake})
    assert completion.model_id == "fake:pro"
    span = ensemble_span(completion.trace)
    messages = notes(span)
    assert any(m.startswith("flash failed and is left out: Overloaded") for m in messages)
    assert "2 of 3 members answered" in messages
    assert {s.label: s.status for s in span.children} == {"flash": "error", "pro": "ok", "llama": "ok"}


def test_too_few_answers_fail_with_every_member_error() -> None:
    fake = answers(FakeProvider(), llama="The answer is (D).")
    fake.script("flash", ServerError("boom", provider="fake", model="flash", status=500))
    fake.script("pro", ModelNotFound("gone", provider="fake", model="pro", status=404))
    with pytest.raises(AllAttemptsFailed) as caught:
        run_profile(ensemble("flash", "pro", "llama", min_votes=2), {"fake": fake})
    assert [type(e).__name__ for e in caught.value.exceptions] == ["ServerError", "ModelNotFound"]
    assert "1 of 3 members answered, 2 needed" in caught.value.message


def test_no_majority_is_no_consensus_and_a_fallback_above_moves_on() -> None:
    fake = answers(FakeProvider(), flash="The answer is (A).", pro="The answer is (B).", llama="The answer is (C).", big="The answer is (B).")
    with pytest.raises(NoConsensus) as caught:
        run_profile(ensemble("flash", "pro", "llama", min_votes=2), {"fake": fake})
    assert "no answer reached 2 votes" in caught.value.message and "A x1 (flash)" in caught.value.message

    fake = answers(FakeProvider(), flash="The answer is (A).", pro="The answer is (B).", llama="The answer is (C).", big="The answer is (B).")
    profile = {"models": MODELS, "strategy": {"fallback": [{"ensemble": ["flash", "pro", "llama"], "min_votes": 2}, "big"]}}
    completion = run_profile(profile, {"fake": fake})
    assert completion.model_id == "fake:big"
    fallback = completion.trace.children[0]
    assert any(m.startswith("moving on from ensemble to big: NoConsensus") for m in notes(fallback))


def test_no_extractable_answer_at_all_is_no_consensus() -> None:
    fake = answers(FakeProvider(), flash="no idea", pro="cannot tell")
    with pytest.raises(NoConsensus, match="no extractable answer"):
        run_profile(ensemble("flash", "pro"), {"fake": fake})


def test_other_extractors_vote_on_numbers() -> None:
    fake = answers(FakeProvider(), flash="It costs $1,200.", pro="about 1200", llama="1300 maybe")
    completion = run_profile(ensemble("flash", "pro", "llama", extract="number"), {"fake": fake})
    assert completion.model_id == "fake:flash"
    assert "votes: 1200 x2 (flash, pro), 1300 x1 (llama)" in notes(ensemble_span(completion.trace))


def test_count_votes_ranks_ties_by_tie_break_then_member_order() -> None:
    ballots = [("a", "X"), ("b", "Y"), ("c", "Y"), ("d", "X"), ("e", None)]
    assert count_votes(ballots).winner == "X"  # 2-2: a comes first
    assert count_votes(ballots, ["c"]).winner == "Y"
    assert count_votes(ballots, ["c"]).tie_broken_by == "c"
    assert count_votes([("a", "X"), ("b", "X"), ("c", "Y")], ["c"]).winner == "X"  # no tie: trust does not outvote
    assert count_votes([("a", None)]).winner is None


# --- judge ---------------------------------------------------------------------------------------


def test_the_judge_sees_numbered_answers_and_its_pick_is_returned() -> None:
    fake = answers(FakeProvider(), flash="Paris is the capital.", pro="Lyon, I believe.", judge=" 1 ")
    completion = run_profile(ensemble("flash", "pro", combine="judge", judge="referee"), {"fake": fake}, "Capital of France?")
    assert completion.text == "Paris is the capital." and completion.model_id == "fake:flash"
    (judge_call,) = fake.calls_to("judge")
    assert not judge_call.stream
    prompt = judge_call.request.last_user_text()
    assert "Capital of France?" in prompt
    assert "Answer 1:\n<<<\nParis is the capital.\n>>>" in prompt and "Answer 2:\n<<<\nLyon, I believe.\n>>>" in prompt
    assert "judge referee picked answer 1 (flash)" in notes(ensemble_span(completion.trace))


@pytest.mark.parametrize("reply", ["I pick 2", "4", "0", "two", ""])
def test_an_unparseable_judge_reply_falls_back_to_the_vote(reply: str) -> None:
    fake = answers(FakeProvider(), flash="The answer is (B).", pro="The answer is (A).", llama="The answer is (A).", judge=reply)
    completion = run_profile(ensemble("flash", "pro", "llama", combine="judge", judge="referee"), {"fake": fake})
    assert completion.model_id == "fake:pro"
    messages = notes(ensemble_span(completion.trace))
    # An empty reply is no answer at all (EmptyAnswer); any other is not a number.
    opening = "judge referee failed (EmptyAnswer" if reply == "" else "judge reply"
    assert any(m.startswith(opening) and "falling back to a vote" in m for m in messages)
    assert "A wins with 2 of 3 votes; answer from pro" in messages


def test_a_failing_judge_falls_back_to_the_vote() -> None:
    fake = answers(FakeProvider(), flash="The answer is (B).", pro="The answer is (B).")
    fake.script("judge", ServerError("down", provider="fake", model="judge", status=500))
    completion = run_profile(ensemble("flash", "pro", combine="judge", judge="referee"), {"fake": fake})
    assert completion.model_id == "fake:flash"
    assert any(m.startswith("judge referee failed (ServerError") for m in notes(ensemble_span(completion.trace)))


def test_a_single_answer_is_not_judged() -> None:
    fake = answers(FakeProvider(), pro="only me")
    fake.script("flash", ServerError("down", provider="fake", model="flash", status=500))
    completion = run_profile(ensemble("flash", "pro", combine="judge", judge="referee"), {"fake": fake})
    assert completion.text == "only me"
    assert fake.calls_to("judge") == []


@pytest.mark.parametrize(("text", "expected"), [("2", 2), (" (2) ", 2), ("[3]", 3), ("#1", 1), ("2.", 2), ("4", None), ("0", None), ("2 because", None), ("Answer 2", None)])
def test_judge_replies_are_parsed_strictly(text: str, expected: int | None) -> None:
    assert parse_choice_number(text, 3) == expected


# --- aggregate -----------------------------------------------------------------------------------


def test_the_aggregator_writes_one_answer_from_all_and_streams_it() -> None:
    fake = answers(FakeProvider(), flash="Paris.", pro="It is Paris, on the Seine.", judge="Paris, on the Seine, is the capital.")
    sink = Recorder()
    completion = run_profile(ensemble("flash", "pro", combine="aggregate", judge="referee"), {"fake": fake}, "Capital of France?", sink=sink)
    assert completion.text == "Paris, on the Seine, is the capital." and completion.model_id == "fake:judge"
    (call,) = fake.calls_to("judge")
    prompt = call.request.last_user_text()
    assert "Capital of France?" in prompt and "Candidate 1:\n<<<\nParis.\n>>>" in prompt and "It is Paris, on the Seine." in prompt
    # Only the aggregator's answer reaches the screen; members are never streamed.
    assert call.stream and sink.text == completion.text
    assert {e.model_id for e in sink.events if isinstance(e, Delta)} == {"fake:judge"}
    assert not any(c.stream for c in fake.calls if c.model != "judge")


def test_the_cost_of_every_member_and_the_judge_counts() -> None:
    fake = FakeProvider()
    fake.script("flash", FakeReply("The answer is (A).", usage=Usage(10, 2), cost=Cost(0.001, "test")))
    fake.script("pro", FakeReply("The answer is (B).", usage=Usage(10, 2), cost=Cost(0.01, "test")))
    fake.script("judge", FakeReply("2", usage=Usage(40, 1), cost=Cost(0.0005, "test")))
    completion = run_profile(ensemble("flash", "pro", combine="judge", judge="referee"), {"fake": fake})
    assert completion.model_id == "fake:pro"
    assert completion.trace.total_cost().usd == pytest.approx(0.0115)
    assert completion.trace.total_usage() == Usage(60, 5)


# --- building ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"combine": "judge"}, "needs a judge"),
        ({"combine": "aggregate"}, "needs a judge"),
        ({"judge": "referee"}, "a judge is used only with"),
        ({"combine": "aggregate", "judge": "referee", "min_votes": 2}, "min_votes and tie_break apply"),
        ({"min_votes": 3}, "only 2 members"),
        ({"tie_break": ["llama"]}, "tie_break names 'llama', which is not a member"),
        ({"extract": {"regex": "(unclosed"}}, "not a valid regular expression"),
    ],
)
def test_configuration_mistakes_are_caught_when_the_profile_is_built(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_tree(Profile.model_validate({"name": "t", **ensemble("flash", "pro", **options)}))


def test_the_tree_lists_members_and_judge_as_children() -> None:
    node = build_tree(Profile.model_validate({"name": "t", **ensemble("flash", "pro", combine="judge", judge="referee")}))
    assert [c.label for c in node.children()] == ["flash", "pro", "referee"]


def test_cancelling_the_ensemble_cancels_every_member() -> None:
    fake = FakeProvider().script("flash", FakeReply("A", delay_s=5.0)).script("pro", FakeReply("B", delay_s=5.0)).script("big", FakeReply("quick"))
    profile = {"models": MODELS, "strategy": {"slo": {"ensemble": ["flash", "pro"]}, "within_ms": 50, "otherwise": "big"}}
    completion = run_profile(profile, {"fake": fake})
    assert completion.text == "quick"
    assert sorted(fake.cancelled) == ["flash", "pro"]
    ensemble = completion.trace.children[0].children[0]
    assert ensemble.kind == "ensemble" and ensemble.status == "cancelled"
    assert [s.status for s in ensemble.children] == ["cancelled", "cancelled"]


# --- the built-in profile ------------------------------------------------------------------------


def run_builtin(name: str, task_id: str, cwd: Path) -> Completion:
    """A built-in profile, run offline with its own (replay) provider, as `mmo ask` would."""
    env = AppEnv({}, cwd, MmoPaths.from_env())
    loaded = load_profile(name, cwd=cwd, paths=env.paths)

    async def go() -> Completion:
        resolved = ResolvedProfile(loaded.profile, "builtin", name)
        async with open_engine(RunSettings(read_cache=False, write_cache=False), env, resolved=resolved) as engine:
            request = Request.from_prompt(f"MMLU-Pro question {task_id}", metadata={"id": task_id})
            outcome = await engine.run(request)
            assert outcome.completion is not None, outcome.error
            return outcome.completion

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("task_id", "votes"),
    [
        ("mmlu_pro-419", "votes: G x2 (pro, llama70b), B x1 (flash)"),
        ("mmlu_pro-135", "votes: I x1 (pro), A x1 (flash), G x1 (llama70b)"),
        ("mmlu_pro-10794", "votes: C x2 (pro, llama70b); no choice answer from flash"),
    ],
)
def test_the_builtin_vote_profile_runs_offline(tmp_path: Path, task_id: str, votes: str) -> None:
    completion = run_builtin("vote", task_id, tmp_path)
    span = ensemble_span(completion.trace)
    assert votes in notes(span)
    assert completion.model_id == "replay:gemini-1.5-pro-002"
    assert len(list(completion.trace.attempts())) == 3
    assert completion.trace.total_cost().usd == pytest.approx(sum(a.cost.usd for a in completion.trace.attempts()))
