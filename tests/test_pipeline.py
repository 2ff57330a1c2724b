"""Pipeline behaviour with scripted fake providers (no HTTP): templates, step order, streaming of
the output step only, checks that stop, repair or continue, and costs; plus the safe template
renderer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mmo.app.profile_choice import ResolvedProfile
from mmo.app.settings import AppEnv
from mmo.config.loader import load_profile
from mmo.config.schema import Profile
from mmo.core.errors import CheckFailed, ConfigError, ServerError
from mmo.core.paths import MmoPaths
from mmo.core.protocols import leaf_targets
from mmo.core.target import RunOptions
from mmo.core.trace import Span
from mmo.core.types import Cost, Delta, Params, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.context import execute
from mmo.strategies.build import build_tree
from mmo.strategies.templates import Template
from tests.support.engine_harness import run_request_sync
from tests.support.strategy_harness import Recorder, run_profile, services_for

MODELS = {"writer": "fake:writer", "critic": "fake:critic", "editor": "fake:editor"}


def pipeline(*steps: dict, **options: object) -> dict:
    return {"models": MODELS, "strategy": {"pipeline": list(steps), **options}}


DRAFT = {"name": "draft", "run": "writer", "prompt": "Answer briefly: {input}"}
CRITIQUE = {"name": "critique", "run": "critic", "prompt": "Question: {input}\nDraft: {draft}\nList the flaws."}
REFINE = {"name": "refine", "run": "editor", "prompt": "Question: {input}\nDraft: {draft}\nCritique: {critique}\nWrite the final answer."}


def draft_critique_refine(fake: FakeProvider) -> FakeProvider:
    fake.script("writer", FakeReply("Paris", usage=Usage(10, 1), cost=Cost(0.001, "test")))
    fake.script("critic", FakeReply("Too short.", usage=Usage(30, 3), cost=Cost(0.002, "test")))
    fake.script("editor", FakeReply("Paris is the capital of France.", usage=Usage(50, 8), cost=Cost(0.003, "test")))
    return fake


def pipeline_span(trace: Span) -> Span:
    span = trace.children[0]
    assert span.kind == "pipeline"
    return span


def notes(span: Span) -> list[str]:
    return [e.message for e in span.events]


def test_steps_run_in_order_with_earlier_outputs_in_their_prompts() -> None:
    fake = draft_critique_refine(FakeProvider())
    completion = run_profile(pipeline(DRAFT, CRITIQUE, REFINE), {"fake": fake}, "Capital of France?")
    assert completion.text == "Paris is the capital of France." and completion.model_id == "fake:editor"
    assert [c.model for c in fake.calls] == ["writer", "critic", "editor"]
    prompts = [c.request.last_user_text() for c in fake.calls]
    assert prompts[0] == "Answer briefly: Capital of France?"
    assert prompts[1] == "Question: Capital of France?\nDraft: Paris\nList the flaws."
    assert prompts[2] == "Question: Capital of France?\nDraft: Paris\nCritique: Too short.\nWrite the final answer."
    span = pipeline_span(completion.trace)
    assert [(s.kind, s.label) for s in span.children] == [("step", "draft"), ("step", "critique"), ("step", "refine")]
    assert [s.children[0].label for s in span.children] == ["writer", "critic", "editor"]
    # Every step's cost counts.
    assert completion.trace.total_cost().usd == pytest.approx(0.006)
    assert completion.trace.total_usage() == Usage(90, 12)


def test_only_the_last_step_streams() -> None:
    fake = draft_critique_refine(FakeProvider())
    sink = Recorder()
    completion = run_profile(pipeline(DRAFT, CRITIQUE, REFINE), {"fake": fake}, sink=sink)
    assert [c.stream for c in fake.calls] == [False, False, True]
    assert sink.text == completion.text
    assert {e.model_id for e in sink.events if isinstance(e, Delta)} == {"fake:editor"}


def test_an_output_step_before_the_end_is_the_answer_and_nothing_streams() -> None:
    fake = FakeProvider().script("writer", FakeReply("42")).script("critic", FakeReply("The answer 42 is right."))
    verify = {"name": "verify", "run": "critic", "prompt": "Is {answer} right for: {input}?"}
    sink = Recorder()
    completion = run_profile(pipeline({"name": "answer", "run": "writer"}, verify, output="answer"), {"fake": fake}, "6 x 7?", sink=sink)
    assert completion.text == "42" and completion.model_id == "fake:writer"
    assert [c.model for c in fake.calls] == ["writer", "critic"]
    assert fake.calls[1].request.last_user_text() == "Is 42 right for: 6 x 7??"
    assert sink.events == []
    assert "the answer is step 'answer''s output; later steps checked it" in notes(pipeline_span(completion.trace))


def test_a_model_answer_is_inserted_as_text_never_expanded_as_a_template() -> None:
    fake = FakeProvider().script("writer", FakeReply("use {input} and {draft.__class__} and {{x}}")).script("critic", FakeReply("ok"))
    run_profile(pipeline(DRAFT, {"name": "critique", "run": "critic", "prompt": "<{draft}>"}), {"fake": fake}, "Q")
    assert fake.calls[1].request.last_user_text() == "<use {input} and {draft.__class__} and {{x}}>"


def test_system_prompt_params_and_metadata_carry_over_unless_a_step_sets_its_own_system() -> None:
    fake = FakeProvider().script("writer", FakeReply("draft text")).script("critic", FakeReply("final"))
    critique = {"name": "critique", "run": "critic", "prompt": "{draft}", "system": "You review answers to: {input}"}
    tree = build_tree(Profile.model_validate({"name": "t", **pipeline(DRAFT, critique)}))
    request = Request.from_prompt("Q?", system="Be terse.", params=Params(temperature=0.2), metadata={"id": "task-1"}, tags=("demo",))
    asyncio.run(execute(tree, request, services_for({"fake": fake}), RunOptions()))
    first, second = fake.calls
    assert first.request.system == "Be terse." and second.request.system == "You review answers to: Q?"
    for call in (first, second):
        assert call.request.params.temperature == 0.2
        assert dict(call.request.metadata) == {"id": "task-1"} and call.request.tags == ("demo",)
        assert [m.role for m in call.request.messages] == ["system", "user"]


def test_a_failing_step_stops_the_pipeline_with_its_error() -> None:
    fake = FakeProvider().script("writer", ServerError("down", provider="fake", model="writer", status=500))
    fake.script("critic", FakeReply("never"))
    spans: list = []
    with pytest.raises(ServerError):
        run_profile(pipeline(DRAFT, CRITIQUE), {"fake": fake}, spans=spans)
    assert [c.model for c in fake.calls] == ["writer"]
    assert [s.status for s in pipeline_span(spans[0]).children] == ["error"]


def test_a_step_may_be_any_strategy() -> None:
    fake = FakeProvider().script("writer", ServerError("down", provider="fake", model="writer", status=500))
    fake.script("critic", FakeReply("draft from critic")).script("editor", FakeReply("done"))
    draft = {"name": "draft", "run": {"fallback": ["writer", "critic"], "retry": {"attempts": 1}}}
    completion = run_profile(pipeline(draft, {"name": "final", "run": "editor", "prompt": "Polish: {draft}"}), {"fake": fake})
    assert completion.text == "done"
    assert fake.calls[-1].request.last_user_text() == "Polish: draft from critic"


# --- checks (gates from the cascade) -------------------------------------------------------------


def checked(on_fail: str, **gates: object) -> dict:
    return {"name": "draft", "run": "writer", "prompt": "{input}", "check": gates or {"regex": "^OK"}, "on_fail": on_fail}


FINAL = {"name": "final", "run": "editor", "prompt": "Polish: {draft}"}


def test_check_stop_raises_an_error_naming_the_step_and_the_gate() -> None:
    fake = FakeProvider().script("writer", FakeReply("nope")).script("editor", FakeReply("never"))
    spans: list = []
    with pytest.raises(CheckFailed) as caught:
        run_profile(pipeline(checked("stop"), FINAL), {"fake": fake}, spans=spans)
    assert caught.value.step == "draft" and "regex" in caught.value.gate
    assert "pipeline step 'draft' failed its check" in caught.value.message
    assert caught.value.failover
    assert [c.model for c in fake.calls] == ["writer"]
    step = pipeline_span(spans[0]).children[0]
    assert any("failed" in m and "stopping (on_fail: stop)" in m for m in notes(step))


def test_check_repair_asks_again_once_with_the_answer_and_the_reason() -> None:
    fake = FakeProvider().script("writer", FakeReply("nope"), FakeReply("OK fixed")).script("editor", FakeReply("final"))
    completion = run_profile(pipeline(checked("repair"), FINAL), {"fake": fake}, "Say OK")
    assert completion.text == "final"
    first, second = fake.calls_to("writer")
    assert [m.role for m in second.request.messages] == ["user", "assistant", "user"]
    assert second.request.messages[0].content == "Say OK" and second.request.messages[1].content == "nope"
    assert "did not pass a check" in second.request.messages[2].content
    assert fake.calls_to("editor")[0].request.last_user_text() == "Polish: OK fixed"
    step = pipeline_span(completion.trace).children[0]
    assert [s.status for s in step.children] == ["ok", "ok"]
    assert any("asking writer once more (on_fail: repair)" in m for m in notes(step))
    assert "the repaired answer passed the check" in notes(step)


def test_check_repair_that_fails_again_stops() -> None:
    fake = FakeProvider().script("writer", FakeReply("nope"), FakeReply("still nope")).script("editor", FakeReply("never"))
    with pytest.raises(CheckFailed, match="also after one repair"):
        run_profile(pipeline(checked("repair"), FINAL), {"fake": fake})
    assert len(fake.calls_to("writer")) == 2 and fake.calls_to("editor") == []


def test_check_continue_notes_the_failure_and_goes_on() -> None:
    fake = FakeProvider().script("writer", FakeReply("nope")).script("editor", FakeReply("final"))
    completion = run_profile(pipeline(checked("continue"), FINAL), {"fake": fake})
    assert completion.text == "final"
    assert fake.calls_to("editor")[0].request.last_user_text() == "Polish: nope"
    step = pipeline_span(completion.trace).children[0]
    assert any("continuing with this answer (on_fail: continue)" in m for m in notes(step))


def test_a_checked_last_step_is_not_streamed_before_it_passes() -> None:
    fake = FakeProvider().script("writer", FakeReply("OK then"))
    sink = Recorder()
    completion = run_profile(pipeline(checked("stop")), {"fake": fake}, sink=sink)
    assert completion.text == "OK then"
    assert sink.events == [] and [c.stream for c in fake.calls] == [False]


def test_a_confidence_check_asks_for_a_confidence_and_passes_on_the_cleaned_answer() -> None:
    fake = FakeProvider().script("writer", FakeReply("Paris\nConfidence: 0.9")).script("editor", FakeReply("final"))
    draft = {"name": "draft", "run": "writer", "check": {"min_confidence": 0.5}}
    run_profile(pipeline(draft, FINAL), {"fake": fake}, "Capital of France?")
    asked = fake.calls_to("writer")[0].request
    assert asked.system is not None and "confidence" in asked.system.lower()
    assert fake.calls_to("editor")[0].request.last_user_text() == "Polish: Paris"


def test_a_step_lists_the_models_its_check_calls() -> None:
    draft = {"name": "draft", "run": "writer", "check": {"judge": {"model": "critic"}}}
    tree = build_tree(Profile.model_validate({"name": "t", **pipeline(draft)}))
    (step,) = tree.children()
    assert step.children()[0].label == "writer"
    assert [target.id for target in leaf_targets(tree)] == ["fake:writer", "fake:critic"]


# --- building ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "options", "message"),
    [
        ([{**DRAFT, "prompt": "{draft.__class__}"}], {}, r"\{draft.__class__\} is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "{draft[0]}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "{draft!r}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "{draft:>99999}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "{0}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "{}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "json: {\"a\": 1}"}], {}, "is not allowed"),
        ([DRAFT, {**CRITIQUE, "prompt": "a } b"}], {}, "unmatched"),
        ([{**DRAFT, "prompt": "{critique}"}, CRITIQUE], {}, r"step 'draft' prompt: unknown placeholder \{critique\}"),
        ([DRAFT, {**CRITIQUE, "system": "{nope}"}], {}, r"step 'critique' system: unknown placeholder \{nope\}"),
        ([DRAFT, {**DRAFT, "run": "critic"}], {}, "two steps are named 'draft'"),
        ([{**DRAFT, "name": "input"}], {}, "cannot be named 'input'"),
        ([DRAFT], {"output": "final"}, "output names 'final', which is not a step"),
        ([{**DRAFT, "on_fail": "repair"}], {}, "on_fail needs a check"),
    ],
)
def test_mistakes_are_caught_when_the_profile_is_built(steps: list, options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_tree(Profile.model_validate({"name": "t", **pipeline(*steps, **options)}))


def test_templates_render_names_and_doubled_braces_only() -> None:
    template = Template.parse('Reply as {{"score": N}} about {draft} for {input}; {draft} again', "t")
    assert template.names == ("draft", "input")
    assert template.render({"draft": "D", "input": "I"}) == 'Reply as {"score": N} about D for I; D again'
    with pytest.raises(ConfigError, match="no value"):
        template.render({"draft": "D"})
    assert Template.parse("no placeholders", "t").render({}) == "no placeholders"


def test_the_builtin_refine_profile_drafts_critiques_and_refines(tmp_path: Path) -> None:
    openai = FakeProvider("openai").script(
        "gpt-4.1-mini",
        FakeReply("Light scatters.", usage=Usage(20, 4)),
        FakeReply("Sunlight bumps into air molecules, and blue light bounces around the most, so the sky looks blue.", usage=Usage(120, 25)),
    )
    anthropic = FakeProvider("anthropic").script("claude-sonnet-4-5", FakeReply("Too vague for a child; say what scatters.", usage=Usage(60, 12)))
    env = AppEnv({}, tmp_path, MmoPaths.from_env())
    loaded = load_profile("refine", cwd=tmp_path, paths=env.paths)

    resolved = ResolvedProfile(loaded.profile, "builtin", "refine")
    completion = run_request_sync(Request.from_prompt("Why is the sky blue?"), env, resolved=resolved, providers={"openai": openai, "anthropic": anthropic})
    assert completion.text.startswith("Sunlight bumps") and completion.model_id == "openai:gpt-4.1-mini"
    critique = anthropic.calls[0].request
    assert "Draft answer:\nLight scatters." in critique.last_user_text() and critique.system.startswith("You are a demanding reviewer")
    assert critique.params.max_tokens == 700
    refine = openai.calls[1].request.last_user_text()
    assert "Too vague for a child; say what scatters." in refine and "Why is the sky blue?" in refine
    span = pipeline_span(completion.trace)
    assert [s.label for s in span.children] == ["draft", "critique", "refine"]
    assert any(m.startswith("check passed") for s in span.children for m in notes(s))
    assert completion.trace.total_cost().usd is not None and completion.trace.total_cost().usd > 0
