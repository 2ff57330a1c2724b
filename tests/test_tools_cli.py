"""`mmo ask --tools` end to end over real HTTP against the loopback fake provider: the tools reach
each vendor in its format, a tool call in the answer is printed (stdout JSON, `--json`,
`--explain`, streamed or not, from the cache), only models that can call tools are tried, and a
bad tools file is refused before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmo.cli.main import app
from tests.support.loopback import LoopbackServer

KINDS = ("openai", "anthropic", "gemini")
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The time in a city", "parameters": {"type": "object", "properties": {}}}}
PROMPT = "Use get_weather for Paris"


def write_profile(tmp_path: Path, server: LoopbackServer, kind: str, *, capabilities: str = "", second: str | None = None,
                  strategy: str = "fallback: [a]") -> Path:
    base_urls = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}
    providers = f'  p: {{kind: {kind}, base_url: "{base_urls[kind]}", key_env: LOOP_KEY}}\n'
    models = f'  a: {{model: "p:first-model", price: {{input: 1, output: 2}}{capabilities}}}\n'
    if second is not None:
        providers += f'  q: {{kind: {second}, base_url: "{base_urls[second]}", key_env: LOOP_KEY}}\n'
        models += '  b: {model: "q:second-model", price: {input: 1, output: 2}}\n'
    profile = tmp_path / "tools.yaml"
    profile.write_text(f"providers:\n{providers}models:\n{models}defaults: {{timeout_s: 5, max_tokens: 64}}\nstrategy:\n  {strategy}\n")
    return profile


def write_tools(tmp_path: Path, tools: Any, name: str = "tools.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tools, indent=2) if not isinstance(tools, str) else tools)
    return path


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOP_KEY", "sk-loop-secret-123456")


def ask(profile: Path, *args: str, prompt: str = PROMPT) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["ask", "--profile", str(profile), *args, prompt])
    return result.exit_code, result.stdout, result.stderr


def sent(server: LoopbackServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if isinstance(r.body, dict)]


# --- the tool call is shown ------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["--no-stream", "--stream"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_tool_call_is_printed_as_json_on_stdout(tmp_path: Path, loopback: LoopbackServer, kind: str, stream: str) -> None:
    profile = write_profile(tmp_path, loopback, kind)
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER, TIME])), "--no-cache", stream)
    assert code == 0, err
    assert out.startswith("{"), f"no blank answer line before the tool call: {out!r}"
    shown = json.loads(out)
    assert shown == {"text": "", "tool_calls": [{"id": shown["tool_calls"][0]["id"], "name": "get_weather", "arguments": {"query": PROMPT}}]}
    assert shown["tool_calls"][0]["id"]


@pytest.mark.parametrize("kind", KINDS)
def test_json_and_explain_carry_the_tool_call(tmp_path: Path, loopback: LoopbackServer, kind: str) -> None:
    profile = write_profile(tmp_path, loopback, kind)
    tools = str(write_tools(tmp_path, [WEATHER]))
    code, out, err = ask(profile, "--tools", tools, "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["ok"] is True and payload["answer"] == ""
    assert [(c["name"], c["arguments"]) for c in payload["tool_calls"]] == [("get_weather", {"query": PROMPT})]
    assert payload["completion"]["finish_reason"] == "tool_calls"
    code, out, err = ask(profile, "--tools", tools, "--explain", "--no-cache", "--no-stream")
    assert code == 0, err
    assert "answered with 1 tool call(s): get_weather" in err
    assert json.loads(out)["tool_calls"][0]["name"] == "get_weather"


@pytest.mark.parametrize("kind", KINDS)
def test_text_written_with_the_tool_call_is_kept(tmp_path: Path, loopback: LoopbackServer, kind: str) -> None:
    from tests.support.loopback import Fault

    profile = write_profile(tmp_path, loopback, kind)
    tools = str(write_tools(tmp_path, [WEATHER]))
    loopback.script("first-model", Fault.ok(text="Let me look."), Fault.ok(text="Let me look."))
    code, out, err = ask(profile, "--tools", tools, "--no-stream", "--no-cache")
    assert code == 0, err
    assert json.loads(out)["text"] == "Let me look."
    code, out, err = ask(profile, "--tools", tools, "--stream", "--no-cache")
    assert code == 0, err
    streamed, _, rest = out.partition("\n")
    assert streamed == "Let me look."  # the streamed text, its line ended, then the tool call
    assert json.loads(rest) == {"text": "Let me look.", "tool_calls": [{"id": json.loads(rest)["tool_calls"][0]["id"], "name": "get_weather",
                                                                        "arguments": {"query": PROMPT}}]}


def test_a_cached_tool_call_is_served_and_shown_without_a_blank_line(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = write_profile(tmp_path, loopback, "openai")
    tools = str(write_tools(tmp_path, [WEATHER]))
    first = ask(profile, "--tools", tools, "--stream")
    second = ask(profile, "--tools", tools, "--stream", "--explain")
    assert first[0] == second[0] == 0, second[2]
    assert loopback.stats().by_model.get("first-model") == 1  # the second answer came from the cache
    assert "cache hit" in second[2]
    assert second[1].startswith("{") and json.loads(second[1]) == json.loads(first[1])


def test_the_run_log_keeps_the_tool_call(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = write_profile(tmp_path, loopback, "gemini")
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])), "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    shown = CliRunner().invoke(app, ["logs", "show", run_id[:8], "--json"])
    assert shown.exit_code == 0, shown.stderr
    logged = json.loads(shown.stdout)
    answer = logged.get("answer") or logged["run"]["answer"]
    assert json.loads(answer)["tool_calls"][0]["arguments"] == {"query": PROMPT}


# --- what each vendor is sent ----------------------------------------------------------------

_CHOICES = {
    "openai": {"auto": "auto", "required": "required", "none": "none", "get_time": {"type": "function", "function": {"name": "get_time"}}},
    "anthropic": {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}, "get_time": {"type": "tool", "name": "get_time"}},
    "gemini": {"auto": {"mode": "AUTO"}, "required": {"mode": "ANY"}, "none": {"mode": "NONE"},
               "get_time": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}},
}


@pytest.mark.parametrize("choice", ["auto", "required", "none", "get_time"])
@pytest.mark.parametrize("kind", KINDS)
def test_tool_choice_reaches_each_vendor_in_its_format(tmp_path: Path, loopback: LoopbackServer, kind: str, choice: str) -> None:
    profile = write_profile(tmp_path, loopback, kind)
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER, TIME])), "--tool-choice", choice, "--no-cache", "--no-stream",
                         prompt="What now?")
    assert code == 0, err
    body = sent(loopback)[-1]
    if kind == "gemini":
        assert body["toolConfig"]["functionCallingConfig"] == _CHOICES[kind][choice]
    else:
        assert body["tool_choice"] == _CHOICES[kind][choice]
    expected = {"auto": None, "none": None, "required": "get_weather", "get_time": "get_time"}[choice]
    if expected is None:
        assert out.strip() == "echo: What now?"  # no call asked for: a plain answer
    else:
        assert json.loads(out)["tool_calls"][0]["name"] == expected


# --- only models that can call tools ---------------------------------------------------------


def test_a_model_known_not_to_call_tools_is_skipped(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = write_profile(tmp_path, loopback, "openai", capabilities=", capabilities: {tools: false}", second="anthropic", strategy="fallback: [a, b]")
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])), "--explain", "--no-stream")
    assert code == 0, err
    assert json.loads(out)["tool_calls"][0]["name"] == "get_weather"
    assert loopback.stats().by_model.get("first-model") is None  # nothing was sent to it
    assert loopback.stats().by_model.get("second-model") == 1
    assert "cannot call tools" in err


def test_no_model_that_can_call_tools_is_refused_before_any_call(tmp_path: Path, loopback: LoopbackServer) -> None:
    profile = write_profile(tmp_path, loopback, "openai", capabilities=", capabilities: {tools: false}")
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])))
    assert code == 2, err
    assert "Models considered: a: cannot call" in " ".join(err.split()), err
    assert loopback.requests == []
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])), "--tool-choice", "none", "--no-stream", prompt="hi")
    assert code == 0 and out.strip() == "echo: hi"  # tools it must not call need no tool-calling model


# --- cascades ---------------------------------------------------------------------------------


def test_a_cascade_accepts_a_tool_call_that_text_gates_cannot_read(tmp_path: Path, loopback: LoopbackServer) -> None:
    strategy = "cascade: [a, b]\n  accept: {min_length: 20, json: true, no_refusal: true}"
    profile = write_profile(tmp_path, loopback, "openai", second="gemini", strategy=strategy)
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])), "--explain", "--no-stream")
    assert code == 0, err
    assert json.loads(out)["tool_calls"][0]["name"] == "get_weather"
    assert loopback.stats().by_model.get("second-model") is None  # not escalated for its empty text
    assert "a tool call: this gate reads answer text" in " ".join(err.split())


def test_finish_reasons_stop_escalates_a_tool_call(tmp_path: Path, loopback: LoopbackServer) -> None:
    strategy = "cascade: [a, b]\n  accept: {finish_reasons: [stop]}"
    profile = write_profile(tmp_path, loopback, "openai", second="gemini", strategy=strategy)
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, [WEATHER])), "--no-stream", "--explain")
    assert loopback.stats().by_model.get("second-model") == 1, err
    assert "finish reason tool_calls is not one of stop" in err


# --- bad tools files -------------------------------------------------------------------------

_LINES = '[\n  {"name": "ok_tool", "parameters": {"type": "object"}},\n  {"name": "bad name!", "parameters": {"type": "object"}}\n]\n'

BAD_FILES = [
    ("not JSON", '[{"name": "a",}]', "tools.json:1", "not valid JSON"),
    ("a bad name, on its line", _LINES, "tools.json:3", "'bad name!' is not a tool name"),
    ("a duplicate", json.dumps([WEATHER, {**WEATHER}], indent=2), "tools.json:", "given twice"),
    ("parameters not an object schema", json.dumps([{"name": "a", "parameters": {"type": "string"}}]), "tools.json:1", "must describe an object"),
    ("parameters not a JSON Schema", json.dumps([{"name": "a", "parameters": {"type": "object", "properties": {"x": {"type": "strnig"}}}}]),
     "tools.json:1", "not a valid JSON Schema"),
    ("not a list", json.dumps({"name": "a"}), "tools.json:1", "must be a JSON list"),
    ("an unknown key", json.dumps([{"name": "a", "paramters": {}}]), "tools.json:1", "'paramters'"),
    ("a server tool", json.dumps([{"type": "web_search_20250305", "name": "web_search"}]), "tools.json:1", "server"),
]


@pytest.mark.parametrize(("name", "text", "where", "says"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_tools_file_is_refused_naming_file_and_line(tmp_path: Path, loopback: LoopbackServer, name: str, text: str, where: str,
                                                          says: str) -> None:
    profile = write_profile(tmp_path, loopback, "openai")
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, text)))
    assert code == 2, err
    assert where in err and says in err, err
    assert loopback.requests == []


def test_a_duplicate_is_reported_on_the_line_of_the_second_tool(tmp_path: Path, loopback: LoopbackServer) -> None:
    text = '[\n{"name": "a"},\n\n{"name": "a"}\n]'
    code, out, err = ask(write_profile(tmp_path, loopback, "openai"), "--tools", str(write_tools(tmp_path, text)))
    assert code == 2 and "tools.json:4" in err and "given twice" in err, err


@pytest.mark.parametrize(("args", "says"), [
    (["--tool-choice", "auto"], "needs tools"),
    (["-p", 'tools=[{"name": "f"}]'], "tools are not a parameter"),
    (["--tool-choice", "get_wether"], "neither auto|required|none nor a tool's name"),
])
def test_a_bad_tool_choice_is_refused(tmp_path: Path, loopback: LoopbackServer, args: list[str], says: str) -> None:
    profile = write_profile(tmp_path, loopback, "openai")
    tools = ["--tools", str(write_tools(tmp_path, [WEATHER]))] if "get_wether" in args else []
    code, out, err = ask(profile, *tools, *args)
    assert code == 2 and says in err, err
    assert loopback.requests == []


def test_vendor_forms_copied_from_docs_are_read(tmp_path: Path, loopback: LoopbackServer) -> None:
    anthropic = {"name": "get_weather", "description": "", "input_schema": WEATHER["parameters"]}
    gemini = {"functionDeclarations": [{"name": "get_date", "parameters": {"type": "OBJECT", "properties": {"tz": {"type": "STRING"}}}}]}
    body = {"tools": [anthropic, TIME, gemini], "tool_choice": {"type": "function", "function": {"name": "get_date"}}}
    profile = write_profile(tmp_path, loopback, "openai")
    code, out, err = ask(profile, "--tools", str(write_tools(tmp_path, body)), "--no-stream", "--no-cache")
    assert code == 0, err
    sent_tools = sent(loopback)[-1]["tools"]
    assert [t["function"]["name"] for t in sent_tools] == ["get_weather", "get_time", "get_date"]
    assert sent_tools[2]["function"]["parameters"] == {"type": "object", "properties": {"tz": {"type": "string"}}}
    assert json.loads(out)["tool_calls"][0]["name"] == "get_date"


def test_gemini_is_sent_the_json_schema_field(tmp_path: Path, loopback: LoopbackServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": False, "required": ["city"]}
    profile = write_profile(tmp_path, loopback, "gemini")
    code, _, err = ask(profile, "--tools", str(write_tools(tmp_path, [{"name": "get_weather", "parameters": schema}])), "--no-stream")
    assert code == 0, err
    assert sent(loopback)[-1]["tools"] == [{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": schema}]}]


def test_the_readme_documents_the_options() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    for needle in ("--tools FILE.json", "--tool-choice", '"tool_calls"', "tool_choice"):
        assert needle in readme, needle
