"""Bench checks: every kind with its edge cases, every spec that cannot run refused before any
call (``file:line`` and the fix), and the LLM judge end to end through the one run API, on the
scripted fake provider and on the loopback server, with its score parsed and its cost counted."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from mmo.app.bench.checks import CHECK_KINDS, Check, Verdict, build_check, parse_check_option
from mmo.app.bench.datasets import builtin_default_check
from mmo.app.bench.tasks import Task, load_task_set
from mmo.app.engine import open_engine
from mmo.app.settings import AppEnv, ProfileChoice, RunSettings
from mmo.core.errors import ConfigError, Overloaded
from mmo.core.paths import MmoPaths
from mmo.core.types import Usage
from mmo.providers.fake import FakeProvider, FakeReply
from mmo.runtime.runlog import RunLog
from tests.support.batch_harness import loop_profile
from tests.support.loopback import Fault, LoopbackServer

WHERE = "tasks.jsonl:3"


def check(spec: Any, base_dir: Path | None = None) -> Check:
    return build_check(spec, where=WHERE, base_dir=base_dir or Path.cwd())


def verdict(spec: Any, answer: str, reference: Any = None) -> Verdict:
    return check(spec).verdict(answer, reference)


def refused(spec: Any, base_dir: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        check(spec, base_dir)
    assert caught.value.message.startswith(f"{WHERE}: ")
    return caught.value.message


# --- exact ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "answer", "reference", "correct"),
    [
        ("exact", "  Paris. ", "paris", True),
        ("exact", "Paris is the capital", "Paris", False),
        ("exact", '"The  Hague"', "the hague", True),
        ({"kind": "exact", "case": False}, "paris", "Paris", False),
        ({"kind": "exact", "case": False}, "Paris!", "Paris", True),
        ({"kind": "exact", "whitespace": False}, "New  York", "new york", False),
        ({"kind": "exact", "punctuation": False}, "Paris.", "paris", False),
        ("exact", "42", 42, True),
        ("exact", "Lyon", ["Paris", "Lyon"], True),
        ({"kind": "exact", "value": "yes"}, "Yes.", "ignored", True),
    ],
)
def test_exact_with_its_normalisations(spec: Any, answer: str, reference: Any, correct: bool) -> None:
    assert verdict(spec, answer, reference).correct is correct


# --- choice --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "extracted"),
    [
        ("Let me think. Answer: D. Actually the answer is (C).", "C"),  # "answer is" comes first
        ("Answer: B\nAnswer: E", "B"),  # the first line with "Answer: X"
        ("It is between A and J, so I pick G", "G"),  # the last standalone letter
        ("The answer is **(H)**", "H"),  # markdown bold removed, as the harness does
        ("no letter here at all", None),
    ],
)
def test_choice_reads_the_letter_in_the_harness_order(answer: str, extracted: str | None) -> None:
    result = verdict("choice", answer, "C")
    assert result.extracted == extracted and result.correct is (extracted == "C")
    if extracted is None:
        assert result.reason == "no answer letter in the text"


def test_choice_takes_a_letter_reference_in_any_common_form() -> None:
    assert verdict("choice", "the answer is (c)... The answer is (C)", "(c)").correct is True
    assert verdict("choice", "The answer is (B)", " b ").correct is True
    assert verdict("choice", "The answer is (B)", "C").reason == "chose B, expected C"


# --- number --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "answer", "reference", "correct", "extracted"),
    [
        ("number", "It costs $20.00 in total.", 20, True, "20"),
        ("number", "It costs 20", "$20.00", True, "20"),
        ("number", "First 12, then 1,234.50", "1234.5", True, "1234.5"),
        ("number", "three quarters: 3/4", 0.75, True, "0.75"),
        ("number", "about 19.6", 20, False, "19.6"),
        ({"kind": "number", "tolerance": 0.5}, "about 19.6", 20, True, "19.6"),
        ({"kind": "number", "tolerance": 0.3}, "about 19.6", 20, False, "19.6"),
        ({"kind": "number", "relative": 0.01}, "1005", 1000, True, "1005"),
        ({"kind": "number", "relative": 0.001}, "1005", 1000, False, "1005"),
        ("number", "0.1 + 0.2 = 0.3", 0.3, True, "0.3"),
        ("number", "-3 degrees", "-3", True, "-3"),
        ({"kind": "number", "marker": "####"}, "6 * 7 = 42, minus 1 is 41\n#### 42\nI hope 41 is wrong", 42, True, "42"),
        ({"kind": "number", "marker": "####"}, "#### $1,000 (from 10 x 100)", 1000, True, "1000"),
        ({"kind": "number", "marker": "####"}, "the result is 42", 42, False, None),
        ("number", "no digits", 1, False, None),
        ({"kind": "number", "value": 7}, "seven is 7", "ignored", True, "7"),
    ],
)
def test_number_reads_the_last_number_or_the_one_after_the_marker(spec: Any, answer: str, reference: Any, correct: bool, extracted: str | None) -> None:
    result = verdict(spec, answer, reference)
    assert (result.correct, result.extracted) == (correct, extracted)


def test_a_wrong_number_says_what_was_read_and_expected() -> None:
    assert verdict("number", "I get 21", "$20.00").reason == "read 21, expected 20"
    assert verdict({"kind": "number", "marker": "####"}, "42", 42).reason == "no number after '####'"


# --- contains / not_contains ---------------------------------------------------------------


def test_contains_and_not_contains() -> None:
    assert verdict("contains", "The capital is PARIS, France.", "paris").correct is True
    assert verdict({"kind": "contains", "case": False}, "The capital is PARIS.", "paris").correct is False
    assert verdict("contains", "red and  blue", ["red", "blue"]).correct is True
    assert verdict("contains", "red only", ["red", "blue"]).reason == "missing 'blue'"
    assert verdict({"kind": "contains", "match": "any"}, "red only", ["red", "blue"]).correct is True
    assert verdict({"kind": "contains", "value": "ok"}, "it is OK", None).correct is True
    result = verdict("not_contains", "As an AI language model, I cannot", ["as an ai", "sorry"])
    assert (result.correct, result.extracted) == (False, "as an ai")
    assert verdict({"kind": "not_contains", "value": "sorry"}, "Here you go", None).correct is True


# --- regex ---------------------------------------------------------------------------------


def test_regex_with_its_own_pattern_or_the_reference_as_pattern() -> None:
    result = verdict({"kind": "regex", "pattern": r"\b\d{3}-\d{4}\b"}, "call 555-1234 now", None)
    assert (result.correct, result.extracted) == (True, "555-1234")
    assert verdict({"kind": "regex", "pattern": "^yes$"}, "yes, indeed", None).correct is False
    assert verdict("regex", "colour", r"colou?r").correct is True
    assert verdict("regex", "COLOR", r"(?i)colou?r").correct is True
    assert check("regex").reference_problem("(unclosed") is not None
    assert check("regex").reference_problem(None) == "no reference for its 'regex' check: give the task a 'reference', or the check a 'value'"


# --- json_schema ---------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}, "required": ["name"]}


@pytest.mark.parametrize(
    ("answer", "correct", "reason"),
    [
        ('{"name": "Ada", "age": 36}', True, None),
        ('```json\n{"name": "Ada"}\n```', True, None),
        ('{"age": 36}', False, "does not match the schema at $: 'name' is a required property"),
        ('{"name": "Ada", "age": -1}', False, "does not match the schema at $.age"),
        ('Sure! {"name": "Ada"}', False, "not valid JSON"),
        ("[" * 50_000 + "]" * 50_000, False, "JSON nested deeper than 100 levels"),
        ('{"name": "Ada", "x": NaN}', False, "not valid JSON"),
    ],
)
def test_json_schema_passes_only_valid_json_matching_the_schema(answer: str, correct: bool, reason: str | None) -> None:
    result = verdict({"kind": "json_schema", "schema": SCHEMA}, answer)
    assert result.correct is correct
    assert (result.reason is None) if reason is None else (reason in (result.reason or ""))


def test_a_schema_file_is_resolved_relative_to_the_task_file(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "person.json").write_text(json.dumps(SCHEMA))
    (tmp_path / "schemas" / "person.yaml").write_text("type: object\nrequired: [name]\n")
    tasks = tmp_path / "t.jsonl"
    tasks.write_text(
        json.dumps({"prompt": "JSON please", "check": {"kind": "json_schema", "schema_file": "schemas/person.json"}})
        + "\n"
        + json.dumps({"prompt": "YAML schema", "check": {"kind": "json_schema", "schema_file": "schemas/person.yaml"}})
        + "\n"
    )
    loaded = load_task_set(tasks)
    for task in loaded.tasks:
        assert loaded.check_for(task).verdict('{"name": "x"}', None).correct is True
        assert loaded.check_for(task).verdict("{}", None).correct is False


def test_a_schema_that_cannot_be_used_is_refused_at_load(tmp_path: Path) -> None:
    assert "cannot read 'schema_file' 'nope.json'" in refused({"kind": "json_schema", "schema_file": "nope.json"}, tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    assert "is not valid JSON" in refused({"kind": "json_schema", "schema_file": "bad.json"}, tmp_path)
    (tmp_path / "bad.yaml").write_text("a: [unclosed\n")
    assert "invalid YAML" in refused({"kind": "json_schema", "schema_file": "bad.yaml"}, tmp_path)
    (tmp_path / "huge.json").write_text(" " * (1024 * 1024 + 1))
    assert "larger than 1024 KiB" in refused({"kind": "json_schema", "schema_file": "huge.json"}, tmp_path)
    assert "not a valid JSON Schema" in refused({"kind": "json_schema", "schema": {"minimum": "zero"}})
    assert "must be a mapping" in refused({"kind": "json_schema", "schema": ["type", "object"]})
    assert "one of them" in refused({"kind": "json_schema"})
    assert "one of them" in refused({"kind": "json_schema", "schema": SCHEMA, "schema_file": "x.json"})


# --- specs that cannot run -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("chioce", "unknown check kind 'chioce' (did you mean 'choice'?)"),
        ({"kind": "number", "tolerance": -1}, "'tolerance' must be a number at least 0"),
        ({"kind": "number", "tolerance": "1"}, "'tolerance' must be a number"),
        ({"kind": "number", "tolerance": float("inf")}, "'tolerance' must be a number"),
        ({"kind": "number", "marker": ""}, "'marker' must be non-empty text"),
        ({"kind": "exact", "case": "yes"}, "'case' must be true or false"),
        ({"kind": "contains", "match": "most"}, "'match' must be one of all, any"),
        ({"kind": "choice", "letters": "ABCD"}, "unknown option 'letters'"),
        ({"kind": "regex", "pattern": "*a"}, "'pattern' '*a' is not a valid regular expression: nothing to repeat"),
        ({"kind": "regex", "pattern": "(?P<x"}, "not a valid regular expression"),
        ({"kind": "judge"}, "needs 'model'"),
        ({"kind": "judge", "model": "m", "threshold": 0.8, "min_score": 8}, "not both"),
        ({"kind": "judge", "model": "m", "threshold": 7}, "'threshold' must be a number from 0 to 1"),
        ({"kind": "judge", "model": "m", "min_score": 11}, "'min_score' must be a number from 0 to 10"),
        ({"kind": "judge", "model": "m", "params": {"temperature": 9}}, "temperature"),
        ({"kind": "judge", "model": "m", "params": "hot"}, "'params' must be a mapping"),
        ({"kind": "choice", "value": "K"}, "'value': the reference of a 'choice' check must be one letter A-J"),
        ({"kind": "number", "value": "lots"}, "'value': the reference of a 'number' check must hold a number"),
        ({"kind": "contains", "value": [""]}, "'value': the reference of a 'contains' check must be non-empty text"),
        ({"no": "kind"}, "a check needs a 'kind'"),
        (["choice"], "a check is a kind name"),
    ],
)
def test_a_check_that_cannot_run_is_refused_with_where_and_the_fix(spec: Any, expected: str) -> None:
    assert expected in refused(spec)


def test_a_regex_error_names_the_task_file_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("tasks:\n  - prompt: Q\n    check:\n      kind: regex\n      pattern: '[a-'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{path}:3: check 'regex': 'pattern' '\[a-' is not a valid regular expression"):
        load_task_set(path)


def test_check_option_text_is_a_kind_name_or_a_json_object() -> None:
    assert parse_check_option("choice") == {"kind": "choice"}
    assert parse_check_option(' {"kind": "number", "tolerance": 0.01} ') == {"kind": "number", "tolerance": 0.01}
    with pytest.raises(ConfigError, match="^--check: not a JSON object"):
        parse_check_option("{kind: number}")
    assert set(CHECK_KINDS) == {"exact", "choice", "number", "contains", "not_contains", "regex", "json_schema", "judge"}


def test_every_built_check_rebuilds_from_its_spec(tmp_path: Path) -> None:
    specs = ["exact", "choice", {"kind": "number", "marker": "####"}, "contains", "not_contains", {"kind": "regex", "pattern": "x"}, {"kind": "json_schema", "schema": SCHEMA}, {"kind": "judge", "model": "m"}]
    for spec in specs:
        built = check(spec)
        assert check(built.spec).spec == built.spec and type(check(built.spec)) is type(built)


def test_a_task_set_lists_the_judge_models_to_resolve_before_any_call(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rows = [{"prompt": "A", "check": {"kind": "judge", "model": "big"}}, {"prompt": "B", "reference": "x"}, {"prompt": "C", "check": {"kind": "judge", "model": "small", "rubric": "r"}}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert load_task_set(path, default_check={"kind": "judge", "model": "big", "rubric": "other"}).judge_models() == ("big", "small")
    assert load_task_set("builtin:mmlu_pro_sample").judge_models() == ()


def test_the_builtin_sample_is_scored_by_choice() -> None:
    assert builtin_default_check("mmlu_pro_sample") == {"kind": "choice"} and builtin_default_check("nope") is None


# --- the LLM judge, end to end --------------------------------------------------------------

JUDGE_PROFILE = """\
providers:
  lab: {base_url: "http://127.0.0.1:9/v1", key: none}   # replaced by a scripted fake
models:
  grader: {model: "lab:grader", price: {input: 1, output: 2}}
  answerer: {model: "lab:answerer", price: {input: 1, output: 2}}
strategy: {fallback: [answerer]}
"""


def judge_env(tmp_path: Path, profile: str = JUDGE_PROFILE) -> tuple[RunSettings, AppEnv]:
    (tmp_path / "lab.yaml").write_text(profile)
    env = AppEnv.from_process()
    return RunSettings(choice=ProfileChoice(str(tmp_path / "lab.yaml")), read_cache=False, write_cache=False), AppEnv(env.environ, tmp_path, env.paths)


def judge_task(tmp_path: Path, check: dict[str, Any], reference: Any = "Paris") -> tuple[Task, Check]:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"id": "capital", "prompt": "What is the capital of France?", "system": "Answer in one word.", "reference": reference, "check": check}) + "\n")
    tasks = load_task_set(path)
    return tasks.tasks[0], tasks.check_for(tasks.tasks[0])


def run_judge(tmp_path: Path, fake: FakeProvider, check_spec: dict[str, Any], answer: str = "Paris.", reference: Any = "Paris") -> Verdict:
    task, built = judge_task(tmp_path, check_spec, reference)
    settings, env = judge_env(tmp_path)

    async def go() -> Verdict:
        async with open_engine(settings, env, providers={"lab": fake}) as engine:
            return await built.judge(answer, task, engine)

    return asyncio.run(go())


def test_the_judge_scores_through_the_run_api_and_its_cost_is_its_own(tmp_path: Path) -> None:
    fake = FakeProvider("lab").script("grader", FakeReply("The answer names Paris, as the reference does.\nScore: 8", usage=Usage(300, 20)))
    result = run_judge(tmp_path, fake, {"kind": "judge", "model": "grader", "rubric": "Is the city right?"})
    assert (result.correct, result.score, result.extracted, result.reason) == (True, 0.8, "8/10", None)
    assert result.judge_cost_usd == pytest.approx((300 * 1 + 20 * 2) / 1e6)
    (call,) = fake.calls_to("grader")
    sent = call.request.messages[-1].content
    for part in ("<rubric>\nIs the city right?", "<instructions_given>\nAnswer in one word.", "<question>\nWhat is the capital of France?", "<reference_answer>\nParis", "<answer>\nParis."):
        assert part in sent
    assert "Score: N" in call.request.messages[0].content and fake.calls_to("answerer") == []
    with RunLog.reader(MmoPaths.from_env().runlog_path) as log:
        (record,) = log.recent()
    assert record.command == "bench-judge" and record.cost_usd == pytest.approx(result.judge_cost_usd)


@pytest.mark.parametrize(
    ("spec", "reply", "correct", "score"),
    [
        ({"kind": "judge", "model": "grader"}, "**Score:** 7/10", True, 0.7),  # the default bar is 7
        ({"kind": "judge", "model": "grader"}, "Score: 6.5", False, 0.65),
        ({"kind": "judge", "model": "grader", "threshold": 0.9}, "Score: 8", False, 0.8),
        ({"kind": "judge", "model": "grader", "min_score": 3}, "Score = 3", True, 0.3),
        ({"kind": "judge", "model": "grader"}, "Score: 2\nOn reflection... Score: 9", True, 0.9),  # its last score
    ],
)
def test_the_judge_s_score_is_parsed_and_held_to_the_threshold(tmp_path: Path, spec: dict[str, Any], reply: str, correct: bool, score: float) -> None:
    fake = FakeProvider("lab").script("grader", FakeReply(reply, usage=Usage(10, 5)))
    result = run_judge(tmp_path, fake, spec)
    assert (result.correct, result.score) == (correct, pytest.approx(score))


@pytest.mark.parametrize("reply", ["It is correct.", "Score: 12", "Score: high"])
def test_a_judge_reply_without_a_score_is_a_failed_judgement_that_still_costs(tmp_path: Path, reply: str) -> None:
    fake = FakeProvider("lab").script("grader", FakeReply(reply, usage=Usage(100, 10)))
    result = run_judge(tmp_path, fake, {"kind": "judge", "model": "grader"})
    assert result.correct is None and result.score is None
    assert "gave no 'Score: N' line with N from 0 to 10" in (result.reason or "")
    assert result.judge_cost_usd == pytest.approx((100 + 20) / 1e6)


def test_a_judge_that_fails_is_a_failed_judgement_with_the_error(tmp_path: Path) -> None:
    fake = FakeProvider("lab").script("grader", default=Overloaded("busy", provider="lab", model="grader"))
    result = run_judge(tmp_path, fake, {"kind": "judge", "model": "grader"})
    assert result.correct is None and result.reason is not None and result.reason.startswith("judge grader failed: Overloaded")


def test_a_cost_cap_that_refuses_the_judge_stops_the_run_instead_of_passing_for_a_verdict(tmp_path: Path) -> None:
    from mmo.core.errors import CostCapReached
    from mmo.runtime.spend import RunCap

    task, built = judge_task(tmp_path, {"kind": "judge", "model": "grader", "params": {"max_tokens": 1000}})
    settings, env = judge_env(tmp_path)
    fake = FakeProvider("lab").script("grader", default=FakeReply("Score: 9", usage=Usage(10, 5)))

    async def go() -> Verdict:
        async with open_engine(settings, env, providers={"lab": fake}, run_cap=RunCap(1e-6)) as engine:
            return await built.judge("Paris", task, engine)

    with pytest.raises(CostCapReached):
        asyncio.run(go())
    assert fake.calls == []


def test_the_judge_without_a_reference_uses_the_correctness_rubric_and_its_params(tmp_path: Path) -> None:
    fake = FakeProvider("lab").script("grader", FakeReply("Score: 10", usage=Usage(10, 5)))
    result = run_judge(tmp_path, fake, {"kind": "judge", "model": "grader", "params": {"max_tokens": 50, "temperature": 0}}, reference=None)
    assert result.correct is True
    (call,) = fake.calls_to("grader")
    assert "<reference_answer>" not in call.request.messages[-1].content and "Is the answer correct" in call.request.messages[-1].content
    assert (call.request.params.max_tokens, call.request.params.temperature) == (50, 0)


def test_a_local_check_judges_without_calling_anything(tmp_path: Path) -> None:
    task, built = judge_task(tmp_path, {"kind": "contains"})
    settings, env = judge_env(tmp_path)
    fake = FakeProvider("lab")

    async def go() -> Verdict:
        async with open_engine(settings, env, providers={"lab": fake}) as engine:
            return await built.judge("It is Paris", task, engine)

    assert asyncio.run(go()).correct is True and fake.calls == [] and not built.needs_judge
    assert check({"kind": "judge", "model": "grader"}).verdict("x", None).correct is None


def test_the_judge_over_http_on_the_loopback_server(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = loop_profile(tmp_path, loopback, price=(1.0, 2.0), max_tokens=64)
    loopback.script("fake-model", Fault.ok(text="The answer matches the reference.\nScore: 9"), Fault.ok(text="I cannot decide."))
    task, built = judge_task(tmp_path, {"kind": "judge", "model": "m"})
    env = AppEnv.from_process()
    env = AppEnv(env.environ, tmp_path, env.paths)
    settings = RunSettings(choice=ProfileChoice(str(profile)), read_cache=False, write_cache=False)

    async def go() -> tuple[Verdict, Verdict]:
        async with open_engine(settings, env) as engine:
            return await built.judge("Paris", task, engine), await built.judge("Lyon", task, engine)

    scored, unscored = asyncio.run(go())
    assert (scored.correct, scored.score) == (True, 0.9) and scored.judge_cost_usd is not None and scored.judge_cost_usd > 0
    assert unscored.correct is None and unscored.judge_cost_usd is not None and unscored.judge_cost_usd > 0
    assert loopback.calls("<reference_answer>\nParis") == 2
