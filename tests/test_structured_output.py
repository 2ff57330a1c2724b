"""Structured output: `--schema` (and a batch row's `schema`) asks each vendor natively where the
model can, as instructions where it cannot, validates every answer, re-asks a single model once,
escalates a cascade, and never shows or caches an answer that does not match. Wire shapes are
checked against the recorded exchanges of the three vendors' structured-output modes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from mmo.catalog.capabilities import Capabilities, Flag
from mmo.cli.main import app
from mmo.core.types import Completion, Params, Request
from mmo.runtime.structured import answer_problems, prepare, schema_name, schema_problem, strict_compatible
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import Fault, LoopbackServer

RECORDED = Path(__file__).parent / "data" / "recorded-http"
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}}, "required": ["city", "country"]}
STRICT_CITY = {**CITY, "additionalProperties": False}
NATIVE = Capabilities(structured_output=Flag(True, "test"))
NOT_NATIVE = Capabilities(structured_output=Flag(False, "test"))
GOOD = '{"city": "Paris", "country": "France"}'
BAD = '{"city": "Paris"}'


def request_for(schema: Any = CITY) -> Request:
    return Request.from_prompt("Where is the Eiffel tower?").with_params(Params(output_schema=schema))


def recorded_request(path: str) -> dict[str, Any]:
    """The first recorded request body of a cassette."""
    interaction = yaml.safe_load((RECORDED / path).read_text())["interactions"][0]["request"]
    body = interaction.get("parsed_body") or interaction["body"]
    return json.loads(body) if isinstance(body, str) else body


# ---- asking ------------------------------------------------------------------------------------


def test_a_native_model_gets_the_schema_as_response_format_strict_only_when_openai_allows_it() -> None:
    loose, how = prepare(request_for(CITY), NATIVE, "m")
    assert loose.params.response_format == {"type": "json_schema", "json_schema": {"name": "answer", "schema": CITY, "strict": False}}
    assert "not strict" in how
    strict, how = prepare(request_for({**STRICT_CITY, "title": "City location"}), NATIVE, "m")
    assert strict.params.response_format is not None
    assert strict.params.response_format["json_schema"]["strict"] is True
    assert strict.params.response_format["json_schema"]["name"] == "City_location"
    assert how == "native structured output, strict"


def test_strict_mode_needs_every_object_closed_and_every_property_required() -> None:
    nested = {**STRICT_CITY, "properties": {**STRICT_CITY["properties"], "where": {"type": "object", "properties": {"x": {"type": "number"}}}}}
    nested["required"] = [*STRICT_CITY["required"], "where"]
    assert strict_compatible(STRICT_CITY) and not strict_compatible(CITY) and not strict_compatible(nested)
    assert schema_name({"title": "a" * 80}) == "a" * 64 and schema_name({}) == "answer"


@pytest.mark.parametrize("capabilities", [NOT_NATIVE, Capabilities()], ids=["known-not-native", "unknown"])
def test_a_model_without_native_support_gets_instructions_and_no_response_format(capabilities: Capabilities) -> None:
    asked, how = prepare(request_for(), capabilities, "m")
    assert asked.params.response_format is None
    assert asked.messages[-1].content == "Where is the Eiffel tower?"
    system = asked.system or ""
    assert "JSON Schema" in system and '"country"' in system
    assert how.startswith("schema sent as instructions")


def test_a_schema_whose_root_is_not_an_object_goes_as_instructions_even_to_a_native_model() -> None:
    asked, how = prepare(request_for({"type": "array", "items": {"type": "string"}}), NATIVE, "m")
    assert asked.params.response_format is None and "root is not an object" in how


# ---- checking ----------------------------------------------------------------------------------


def answer(text: str) -> Completion:
    return Completion(text, "p:m")


def test_answers_are_validated_a_fence_is_accepted_and_errors_name_the_path() -> None:
    assert answer_problems(CITY, answer(GOOD)) == ()
    assert answer_problems(CITY, answer(f"```json\n{GOOD}\n```")) == ()
    assert answer_problems(CITY, answer(BAD)) == ("$: 'country' is a required property",)
    assert answer_problems(CITY, answer("Paris, France"))[0].startswith("not one JSON value")
    assert answer_problems(CITY, answer('{"city": 1, "country": 2}')) == ("$.city: 1 is not of type 'string'", "$.country: 2 is not of type 'string'")


def test_a_bad_schema_is_named() -> None:
    assert schema_problem(CITY) is None
    assert "not a valid JSON Schema" in (schema_problem({"type": 12}) or "")
    assert "must be an object" in (schema_problem([1]) or "")


# ---- the recorded wire shapes ------------------------------------------------------------------


def write_profile(tmp_path: Path, server: LoopbackServer, kind: str, strategy: str = "a", native: str = "true") -> Path:
    base = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(
        f'providers:\n  p: {{kind: {kind}, base_url: "{base}", key: none}}\n'
        f"models:\n"
        f'  a: {{model: "p:small", price: {{input: 1, output: 2}}, capabilities: {{structured_output: {native}}}}}\n'
        f'  b: {{model: "p:big", price: {{input: 2, output: 4}}, capabilities: {{structured_output: {native}}}}}\n'
        f"defaults: {{max_tokens: 64, timeout_s: 5}}\nstrategy: {strategy}\n"
    )
    return path


def write_schema(tmp_path: Path, schema: Any = CITY, name: str = "city.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(schema, indent=2) if not isinstance(schema, str) else schema)
    return path


def ask(profile: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["ask", "--profile", str(profile), "--no-cache", *args, "Where is the Eiffel tower?"])


def bodies(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if isinstance(r.body, dict)]


def test_openai_sends_the_recorded_response_format(tmp_path: Path, loopback: LoopbackServer) -> None:
    recorded = recorded_request("openai/pydantic-ai__test_openai_native_output.yaml")["response_format"]
    schema = recorded["json_schema"]["schema"]
    loopback.script("small", Fault.ok(GOOD))
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path, schema)))
    assert result.exit_code == 0, result.stderr
    sent = bodies(loopback)[0]["response_format"]
    assert sent == {**recorded, "json_schema": {**recorded["json_schema"], "name": "answer"}}  # our name: the schema's title, else "answer"


def test_anthropic_sends_the_recorded_output_config(tmp_path: Path, loopback: LoopbackServer) -> None:
    recorded = recorded_request("anthropic/llm-anthropic__test_schema_prompt.yaml")["output_config"]
    loopback.script("small", Fault.ok(json.dumps({"name": "Cleo", "age": 4, "bio": "A good dog"})))
    result = ask(write_profile(tmp_path, loopback, "anthropic"), "--schema", str(write_schema(tmp_path, recorded["format"]["schema"])))
    assert result.exit_code == 0, result.stderr
    assert bodies(loopback)[0]["output_config"] == recorded


def test_gemini_sends_the_recorded_generation_config(tmp_path: Path, loopback: LoopbackServer) -> None:
    config = recorded_request("gemini/pydantic-ai__test_google_native_output.yaml")["generationConfig"]
    schema = config["responseJsonSchema"]
    loopback.script("small", Fault.ok(json.dumps({"city": "Mexico City", "country": "Mexico"})))
    result = ask(write_profile(tmp_path, loopback, "gemini"), "--schema", str(write_schema(tmp_path, schema)))
    assert result.exit_code == 0, result.stderr
    sent = bodies(loopback)[0]["generationConfig"]
    assert (sent["responseMimeType"], sent["responseJsonSchema"]) == (config["responseMimeType"], schema)


def test_an_ollama_style_server_gets_the_recorded_response_format(tmp_path: Path, loopback: LoopbackServer) -> None:
    recorded = recorded_request("openai-compatible/pydantic-ai__test_ollama_local_native_output_uses_json_schema.yaml")["response_format"]
    loopback.script("small", Fault.ok(GOOD))
    schema = {**recorded["json_schema"]["schema"], "title": recorded["json_schema"]["name"]}
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path, schema)))
    assert result.exit_code == 0, result.stderr
    sent = bodies(loopback)[0]["response_format"]
    assert (sent["type"], sent["json_schema"]["name"]) == (recorded["type"], recorded["json_schema"]["name"])


# ---- end to end --------------------------------------------------------------------------------


def test_ask_prints_the_validated_json_alone(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(f"```json\n{GOOD}\n```"))
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path)), "--stream", "--explain")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"city": "Paris", "country": "France"}
    assert "native structured output, not strict" in result.stderr and "the answer matches the schema" in result.stderr


def test_json_output_carries_the_parsed_value(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(GOOD))
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path)), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["json"] == {"city": "Paris", "country": "France"}


def test_a_single_model_is_re_asked_once_with_the_errors_then_answers(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(BAD), Fault.ok(GOOD))
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path)), "--explain")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["country"] == "France"
    sent = bodies(loopback)
    assert len(sent) == 2
    assert sent[1]["messages"][-2] == {"role": "assistant", "content": BAD}
    assert "'country' is a required property" in sent[1]["messages"][-1]["content"]
    assert "re-asking a once with the validation errors" in result.stderr


def test_a_single_model_wrong_twice_fails_with_exit_1_showing_the_errors(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(BAD), Fault.ok('{"city": 3, "country": "F"}'))
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path)))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "does not match the JSON Schema" in result.stderr and "$.city: 3 is not of type 'string'" in result.stderr
    assert len(bodies(loopback)) == 2


def test_a_cascade_escalates_an_invalid_answer_without_a_re_ask(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(BAD))
    loopback.script("big", Fault.ok(GOOD))
    profile = write_profile(tmp_path, loopback, "openai", strategy="{cascade: [a, b]}")
    result = ask(profile, "--schema", str(write_schema(tmp_path)), "--explain")
    assert result.exit_code == 0, result.stderr
    assert [body["model"] for body in bodies(loopback)] == ["small", "big"]
    assert json.loads(result.stdout)["country"] == "France"
    assert "escalating from a" in result.stderr and "does not match the JSON Schema" in result.stderr


def test_a_model_without_native_support_is_told_the_schema_and_still_validated(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(GOOD))
    result = ask(write_profile(tmp_path, loopback, "openai", native="false"), "--schema", str(write_schema(tmp_path)), "--explain")
    assert result.exit_code == 0, result.stderr
    sent = bodies(loopback)[0]
    assert "response_format" not in sent
    assert any(m["role"] == "system" and "JSON Schema" in m["content"] for m in sent["messages"])
    assert "schema sent as instructions: a has no native structured output" in result.stderr


def test_an_invalid_answer_is_never_cached(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(BAD), Fault.ok(BAD), Fault.ok(GOOD))
    profile = write_profile(tmp_path, loopback, "openai")
    schema = str(write_schema(tmp_path))
    first = CliRunner().invoke(app, ["ask", "--profile", str(profile), "--schema", schema, "q"])
    assert first.exit_code == 1
    second = CliRunner().invoke(app, ["ask", "--profile", str(profile), "--schema", schema, "q"])
    assert second.exit_code == 0, second.stderr
    third = CliRunner().invoke(app, ["ask", "--profile", str(profile), "--schema", schema, "q"])
    assert third.exit_code == 0 and len(bodies(loopback)) == 3  # the valid answer came from the cache


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{\n  "type": "object",\n  "properties": {,}\n}', ":3: not valid JSON"),
        ('{"type": 12}', "not a valid JSON Schema"),
        ("[1, 2]", "must be an object"),
    ],
)
def test_a_bad_schema_file_is_refused_before_any_call(tmp_path: Path, loopback: LoopbackServer, content: str, expected: str) -> None:
    result = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(write_schema(tmp_path, content)))
    assert result.exit_code == 2
    assert expected in result.stderr and "city.json" in result.stderr
    assert bodies(loopback) == []


def test_a_yaml_schema_file_and_a_directory(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(GOOD))
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(CITY))
    assert ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(path)).exit_code == 0
    refused = ask(write_profile(tmp_path, loopback, "openai"), "--schema", str(tmp_path))
    assert refused.exit_code == 2 and "is a directory" in refused.stderr


def test_batch_rows_with_a_schema(tmp_path: Path, loopback: LoopbackServer) -> None:
    loopback.script("small", Fault.ok(GOOD), Fault.ok(BAD), Fault.ok(BAD))
    data = tmp_path / "in.jsonl"
    rows = [
        {"id": "good", "prompt": "Eiffel tower?", "schema": CITY},
        {"id": "bad", "prompt": "Big Ben?", "schema": CITY},
        {"id": "broken", "prompt": "x", "schema": {"type": 12}},
    ]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run_cli(str(data), "-P", str(write_profile(tmp_path, loopback, "openai")), "--no-cache", "-c", "1")
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert json.loads(out["good"]["answer"]) == {"city": "Paris", "country": "France"}
    assert out["bad"]["status"] == "failed" and "does not match the JSON Schema" in json.dumps(out["bad"])
    assert "broken" not in out  # a malformed line: reported apart, with its line and why
    assert "not a valid JSON Schema" in (tmp_path / "in.errors.jsonl").read_text()
    assert result.exit_code == 1


# ---- bench tasks -------------------------------------------------------------------------------


def test_a_bench_task_carries_its_schema_to_the_request_and_the_batch_row(tmp_path: Path) -> None:
    from mmo.app.bench.runner import task_row
    from mmo.app.bench.tasks import load_task_set, task_from_json, task_to_json

    path = tmp_path / "tasks.jsonl"
    path.write_text(
        json.dumps({"defaults": {"check": {"kind": "json_schema", "schema": CITY}, "schema": CITY}}) + "\n"
        + json.dumps({"id": "t1", "prompt": "Where is the Eiffel tower?"}) + "\n"
    )
    task = load_task_set(path).tasks[0]
    assert task.request().params.output_affecting()["output_schema"] == CITY
    assert task_row(task)["schema"] == CITY
    assert task_from_json(json.loads(json.dumps(task_to_json(task)))) == task


def test_a_bench_task_with_a_bad_schema_names_its_line(tmp_path: Path) -> None:
    from mmo.app.bench.tasks import load_task_set
    from mmo.core.errors import ConfigError

    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"prompt": "a", "check": "exact", "reference": "a"}) + "\n" + json.dumps({"prompt": "b", "check": "exact", "reference": "b", "schema": {"type": 12}}) + "\n")
    with pytest.raises(ConfigError) as raised:
        load_task_set(path)
    assert "tasks.jsonl:2" in raised.value.message and "not a valid JSON Schema" in raised.value.message
