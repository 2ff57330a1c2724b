"""Quality gates, each run through its real code on scripted answers (no HTTP): every gate passes
and fails with the reason a user reads in `--explain`."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mmo.config.schema import Profile
from mmo.core.errors import BadRequest, BudgetExceeded, ConfigError, Timeout
from mmo.core.target import RunOptions
from mmo.core.trace import Span, SpanBuilder
from mmo.core.types import Completion, Cost, Request, Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.context import SpanContext
from mmo.runtime.services import Services
from mmo.strategies.build import TreeBuilder
from mmo.strategies.gates.confidence import CONFIDENCE_INSTRUCTION, split_confidence
from mmo.strategies.gates.gate_set import Gates, build_gates
from mmo.strategies.gates.judge import JUDGE_INSTRUCTIONS, parse_score
from mmo.strategies.gates.spec import GatesSpec
from mmo.strategies.gates.verdict import GateResult
from tests.support.strategy_harness import services_for


@dataclass
class Evaluation:
    results: list[GateResult]
    span: Span
    services: Services

    @property
    def last(self) -> GateResult:
        return self.results[-1]


def make_gates(accept: dict[str, Any]) -> Gates:
    profile = Profile.model_validate({"name": "t", "models": {"judge": "fake:judge", "other": "fake:other"}, "strategy": "fake:a"})
    return build_gates(TreeBuilder(profile), GatesSpec.model_validate(accept))


def evaluate(
    accept: dict[str, Any],
    text: str,
    *,
    fake: FakeProvider | None = None,
    finish: str = "stop",
    logprob: float | None = None,
    prompt: str = "What is the capital of France?",
) -> Evaluation:
    gates = make_gates(accept)
    services = services_for({"fake": fake or FakeProvider()})
    builder = SpanBuilder("test", "test", "", time.perf_counter())
    ctx = SpanContext(services, RunOptions(), builder, None)
    completion = Completion(text, "fake:a", finish_reason=finish, avg_logprob=logprob)  # type: ignore[arg-type]
    results = asyncio.run(gates.evaluate(completion, Request.from_prompt(prompt), ctx))
    return Evaluation(results, builder.finish("ok"), services)


def verdict(accept: dict[str, Any], text: str, **kw: Any) -> tuple[bool, str]:
    result = evaluate(accept, text, **kw).last
    return result.passed, result.reason


# ---- gates that read only the answer ----------------------------------------------------------


def test_finish_reasons() -> None:
    assert verdict({"finish_reasons": ["stop"]}, "Paris") == (True, "finish reason stop")
    assert verdict({"finish_reasons": ["stop"]}, "Par", finish="length") == (False, "finish reason length is not one of stop")


@pytest.mark.parametrize(
    "text",
    [
        "I can't help with that.",
        "I\u2019m sorry, but I cannot share that information.",
        "I am unable to assist with this request.",
        "As an AI, I do not have opinions.",
        "I must decline.",
        "Sorry, I won't help with that.",
    ],
)
def test_no_refusal_detects_refusals(text: str) -> None:
    passed, reason = verdict({"no_refusal": True}, text)
    assert not passed and reason.startswith("refusal detected: ")


def test_no_refusal_passes_answers_and_looks_only_at_the_opening() -> None:
    assert verdict({"no_refusal": True}, "Paris is the capital of France.") == (True, "no refusal detected")
    # A refusal phrase deep in a long answer is the answer's topic, not a refusal.
    long_answer = "Here is a summary of common chatbot phrasing. " * 10 + "Bots often say 'I can't help with that.'"
    assert verdict({"no_refusal": True}, long_answer)[0]


def test_no_refusal_fails_a_filtered_answer() -> None:
    assert verdict({"no_refusal": True}, "", finish="content_filter") == (False, "the provider filtered the answer (finish reason content_filter)")


def test_length_bounds_count_stripped_characters() -> None:
    assert verdict({"min_length": 5}, "  Paris  ") == (True, "5 characters >= 5")
    assert verdict({"min_length": 6}, "Paris") == (False, "answer has 5 characters, fewer than 6")
    assert verdict({"max_length": 3}, "Paris") == (False, "answer has 5 characters, more than 3")
    with pytest.raises(ConfigError, match="min_length 10 is above max_length 5"):
        make_gates({"min_length": 10, "max_length": 5})


def test_json_valid_wants_the_whole_answer_as_json() -> None:
    assert verdict({"json": True}, '{"city": "Paris"}') == (True, "valid JSON")
    assert verdict({"json_valid": True}, '```json\n{"city": "Paris"}\n```')[0]
    passed, reason = verdict({"json": True}, 'Here it is: {"city": "Paris"}')
    assert not passed and reason.startswith("not valid JSON: Expecting value: line 1 column 1")


SCHEMA = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}, "population": {"type": "integer"}}}


def test_json_schema_inline() -> None:
    assert verdict({"json_schema": SCHEMA}, '{"city": "Paris", "population": 2100000}') == (True, "matches the inline schema")
    passed, reason = verdict({"json_schema": SCHEMA}, '{"city": "Paris", "population": "many"}')
    assert not passed
    assert reason == "does not match the inline schema at $.population: 'many' is not of type 'integer'"
    assert verdict({"json_schema": SCHEMA}, "{}") == (False, "does not match the inline schema at $: 'city' is a required property")
    assert verdict({"json_schema": SCHEMA}, "Paris")[1].startswith("not valid JSON")


def test_json_schema_checks_formats() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}
    assert verdict({"json_schema": schema}, '{"email": "ana@example.com"}')[0]
    assert not verdict({"json_schema": schema}, '{"email": "not an address"}')[0]


def test_json_schema_file_is_resolved_against_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "city.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "schemas" / "city.yaml").write_text("type: object\nrequired: [city]\n")
    monkeypatch.chdir(tmp_path)
    assert verdict({"json_schema": "schemas/city.json"}, '{"city": "Paris"}') == (True, "matches the schema schemas/city.json")
    assert verdict({"json_schema": "schemas/city.yaml"}, "{}")[1] == "does not match the schema schemas/city.yaml at $: 'city' is a required property"
    with pytest.raises(ConfigError) as caught:
        make_gates({"json_schema": "schemas/missing.json"})
    assert str(tmp_path / "schemas" / "missing.json") in str(caught.value)
    assert "resolved against the current directory" in str(caught.value)


def test_an_invalid_schema_is_a_config_error_at_build_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not a valid JSON Schema: 'strng' is not valid"):
        make_gates({"json_schema": {"type": "strng"}})
    (tmp_path / "bad.json").write_text("{not json")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="bad.json.*not valid JSON"):
        make_gates({"json_schema": "bad.json"})


def test_regex() -> None:
    assert verdict({"regex": r"answer is \([A-J]\)"}, "The answer is (C).") == (True, r"matches /answer is \([A-J]\)/")
    assert verdict({"regex": r"answer is \([A-J]\)"}, "It is C.") == (False, r"no match for /answer is \([A-J]\)/")
    with pytest.raises(ConfigError, match="accept.regex '\\(x' is not a valid regular expression"):
        make_gates({"regex": "(x"})


def test_extract() -> None:
    assert verdict({"extract": "strict_choice"}, "The answer is (C).") == (True, "extracted 'C' (strict_choice)")
    assert verdict({"extract": "strict_choice"}, "Answer: C") == (False, "no strict_choice answer could be extracted")
    assert verdict({"extract": {"regex": r"total (\d+)"}}, "the total 12") == (True, r"extracted '12' (regex /total (\d+)/)")
    assert verdict({"extract": "number"}, "x" * 10 + " 1234567890123456789012345678901234567890")[1] == "extracted a 40-character value (number)"
    with pytest.raises(ConfigError):
        make_gates({"extract": {"regex": "(("}})


# ---- self-rated confidence and logprobs -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Paris.\nConfidence: 0.92", 0.92),
        ("Paris.\n**Confidence:** 85%", 0.85),
        ("Paris.\nConfidence: 8/10", 0.8),
        ("Paris.\nconfidence = 90", 0.9),
        ("Paris.\nConfidence: 1", 1.0),
        ("Paris.\nConfidence: 250", None),
        ("Paris.", None),
    ],
)
def test_confidence_is_read_from_the_answer(text: str, value: float | None) -> None:
    confidence = split_confidence(text)[1]
    assert confidence is None if value is None else confidence == pytest.approx(value)


def test_confidence_line_is_removed_from_the_answer() -> None:
    assert split_confidence("Paris is the capital.\n\nConfidence: 0.9\n") == ("Paris is the capital.", 0.9)
    assert split_confidence("Paris is the capital. Confidence: 0.9") == ("Paris is the capital.", 0.9)
    assert split_confidence("Confidence: 0.2\nParis.\nConfidence: 0.9") == ("Confidence: 0.2\nParis.", 0.9)


def test_min_confidence() -> None:
    result = evaluate({"min_confidence": 0.8}, "Paris.\nConfidence: 0.85").last
    assert (result.passed, result.reason, result.score) == (True, "self-rated confidence 0.85 >= 0.8", 0.85)
    result = evaluate({"min_confidence": 0.8}, "Paris.\nConfidence: 0.6").last
    assert (result.passed, result.reason, result.score) == (False, "self-rated confidence 0.60 is below 0.8", 0.6)
    result = evaluate({"min_confidence": 0.8}, "Paris.").last
    assert not result.passed and result.reason.startswith("the answer states no confidence")


def test_other_gates_see_the_answer_without_its_confidence_line() -> None:
    results = evaluate({"json": True, "min_confidence": 0.5}, '{"city": "Paris"}\nConfidence: 0.9').results
    assert [(r.gate, r.passed) for r in results] == [("json_valid", True), ("min_confidence", True)]


def test_prepare_adds_the_confidence_instruction_and_asks_for_logprobs() -> None:
    gates = make_gates({"min_confidence": 0.5, "min_logprob": -1})
    prepared = gates.prepare(Request.from_prompt("Q?", system="Be brief."))
    assert prepared.messages[0].content == f"Be brief.\n\n{CONFIDENCE_INSTRUCTION}"
    assert prepared.last_user_text() == "Q?" and prepared.params.logprobs
    bare = gates.prepare(Request.from_prompt("Q?"))
    assert [m.role for m in bare.messages] == ["system", "user"] and bare.system == CONFIDENCE_INSTRUCTION
    assert make_gates({"regex": "x"}).prepare(Request.from_prompt("Q?")) == Request.from_prompt("Q?")


def test_min_logprob() -> None:
    result = evaluate({"min_logprob": -0.5}, "Paris", logprob=-0.2).last
    assert (result.passed, result.reason, result.score) == (True, "mean token logprob -0.200 >= -0.5", -0.2)
    assert verdict({"min_logprob": -0.5}, "Paris", logprob=-0.9) == (False, "mean token logprob -0.900 is below -0.5")
    missing = evaluate({"min_logprob": -0.5}, "Paris")
    assert (missing.last.passed, missing.last.reason) == (False, "no logprobs from this provider")
    assert any("fake:a returned no logprobs" in w for w in missing.services.warnings.items)


# ---- gates that ask another model -------------------------------------------------------------


def test_agree_passes_when_the_other_model_extracts_the_same_answer() -> None:
    fake = FakeProvider().script("other", FakeReply("Answer: C", usage=Usage(10, 2), cost=Cost(0.003, "test")))
    run = evaluate({"agree": {"model": "other", "extract": "choice"}}, "The answer is (C).", fake=fake)
    assert (run.last.passed, run.last.reason) == (True, "other agrees: 'C' (choice)")
    # The other model was asked the original question, under a span of its own, and its cost counts.
    assert fake.calls[0].request.last_user_text() == "What is the capital of France?" and not fake.calls[0].stream
    gate_span = run.span.children[0]
    assert (gate_span.kind, gate_span.label) == ("gate", "agree:other")
    assert run.span.total_cost() == Cost(0.003, "sum")


def test_agree_fails_on_a_different_answer_or_none() -> None:
    fake = FakeProvider().script("other", FakeReply("The answer is (D)."), FakeReply("I have no idea."))
    assert verdict({"agree": {"model": "other"}}, "The answer is (C).", fake=fake) == (False, "other answered 'D', this answer 'C' (choice)")
    assert verdict({"agree": {"model": "other", "extract": "strict_choice"}}, "The answer is (C).", fake=fake) == (
        False,
        "other gave no strict_choice answer to compare",
    )


def test_agree_does_not_ask_when_this_answer_has_nothing_to_compare() -> None:
    fake = FakeProvider().script("other", FakeReply("The answer is (C)."))
    assert verdict({"agree": {"model": "other", "extract": "number"}}, "no number", fake=fake) == (False, "no number answer to compare in this answer")
    assert fake.calls == []


def test_agree_fails_when_the_other_model_errors_and_stops_on_a_budget() -> None:
    fake = FakeProvider().script("other", Timeout("slow", provider="fake", model="other"))
    passed, reason = verdict({"agree": {"model": "other", "extract": "number"}}, "42", fake=fake)
    assert not passed and reason == "other could not answer: Timeout from fake:other: slow"
    fake = FakeProvider().script("other", BudgetExceeded("cap reached"))
    with pytest.raises(BudgetExceeded):
        evaluate({"agree": {"model": "other", "extract": "number"}}, "42", fake=fake)


def test_judge_scores_against_the_rubric() -> None:
    fake = FakeProvider().script("judge", FakeReply("Correct and complete.\nScore: 9", cost=Cost(0.01, "test")))
    run = evaluate({"judge": {"model": "judge", "rubric": "Names the capital.", "min_score": 7}}, "Paris.", fake=fake)
    assert (run.last.passed, run.last.reason, run.last.score) == (True, "judge judge scored 9/10 >= 7", 9.0)
    judge_request = fake.calls[0].request
    assert judge_request.system == JUDGE_INSTRUCTIONS
    asked = judge_request.last_user_text()
    assert "<rubric>\nNames the capital.\n</rubric>" in asked
    assert "<question>\nWhat is the capital of France?\n</question>" in asked and "<answer>\nParis.\n</answer>" in asked
    assert run.span.total_cost() == Cost(0.01, "sum")


def test_judge_fails_on_a_low_or_unparseable_score_or_an_error() -> None:
    fake = FakeProvider().script("judge", FakeReply("Score: 4/10"), FakeReply("Looks good to me!"), FakeReply("Score: 12"))
    fake.script("judge", BadRequest("bad", provider="fake", model="judge"))
    accept = {"judge": {"model": "judge"}}
    assert verdict(accept, "Paris.", fake=fake) == (False, "judge judge scored 4/10, below 7")
    assert verdict(accept, "Paris.", fake=fake) == (False, "judge judge gave no 'Score: N' line with N from 0 to 10 (17 characters)")
    assert not verdict(accept, "Paris.", fake=fake)[0]  # 12 is out of range: unparseable
    assert verdict(accept, "Paris.", fake=fake) == (False, "judge judge could not answer: BadRequest from fake:judge: bad")


@pytest.mark.parametrize(("reply", "score"), [("Score: 7", 7.0), ("**Score:** 8.5/10", 8.5), ("score=3\nScore: 6", 6.0), ("Score: eleven", None)])
def test_parse_score(reply: str, score: float | None) -> None:
    assert parse_score(reply) == score


# ---- order --------------------------------------------------------------------------------------


def test_cheap_gates_run_first_and_evaluation_stops_at_the_first_failure() -> None:
    fake = FakeProvider().script("judge", FakeReply("Score: 10")).script("other", FakeReply("The answer is (C)."))
    accept = {"judge": {"model": "judge"}, "agree": {"model": "other"}, "regex": "never", "min_length": 1}
    run = evaluate(accept, "The answer is (C).", fake=fake)
    assert [(r.gate, r.passed) for r in run.results] == [("min_length", True), ("regex", False)]
    assert fake.calls == []  # no model was paid to check an answer that had already failed
    assert make_gates(accept).names == ("min_length", "regex", "agree", "judge")


def test_model_gates_can_be_skipped() -> None:
    gates = make_gates({"regex": "C", "agree": {"model": "other"}})
    fake = FakeProvider()
    ctx = SpanContext(services_for({"fake": fake}), RunOptions(), SpanBuilder("t", "t", "", time.perf_counter()), None)
    results = asyncio.run(gates.evaluate(Completion("The answer is (C).", "fake:a"), Request.from_prompt("Q"), ctx, model_gates=False))
    assert [r.gate for r in results] == ["regex"] and fake.calls == []
