"""Tools in `mmo batch`: a row's `tools` and `tool_choice` reach the vendor, the output line
carries the tool calls (arguments parsed), a row may continue a tool call (assistant `tool_calls`,
then a `tool` message) and each adapter sends that conversation in its vendor's format, and a row
with bad tools is malformed (with why) while the others run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmo.app.batch.input import InputRow, Malformed, RowParser
from tests.support.batch_harness import read_jsonl, run_cli
from tests.support.loopback import LoopbackServer

WEATHER = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def profile_for(directory: Path, server: LoopbackServer, kind: str) -> Path:
    base = {"openai": server.openai_base_url, "anthropic": server.anthropic_base_url, "gemini": server.gemini_base_url}[kind]
    path = directory / f"{kind}.yaml"
    path.write_text(
        f'providers:\n  loop: {{kind: {kind}, base_url: "{base}", key: none}}\n'
        "models:\n  m: {model: \"loop:tool-model\", price: {input: 1, output: 2}}\n"
        "defaults: {max_tokens: 64, timeout_s: 5}\nstrategy: m\n"
    )
    return path


def rows(path: Path, *items: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


CONTINUED = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                           "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
    {"role": "user", "content": "And so?"},
]

# The continued conversation as each vendor documents it (shared/reference/wire-formats.md).
SENT_TURNS = {
    "openai": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"},
        {"role": "user", "content": "And so?"},
    ],
    "anthropic": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp\": 21}"},
                                     {"type": "text", "text": "And so?"}]},
    ],
    "gemini": [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                                     "thoughtSignature": "skip_thought_signature_validator"}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}, {"text": "And so?"}]},
    ],
}


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_rows_with_tools_and_tool_conversations(tmp_path: Path, loopback: LoopbackServer, kind: str) -> None:
    data = rows(
        tmp_path / "in.jsonl",
        {"id": "call", "prompt": "Use get_weather for Paris", "tools": [WEATHER]},
        {"id": "forced", "prompt": "What now?", "tools": [WEATHER], "tool_choice": "required"},
        {"id": "continued", "messages": CONTINUED, "tools": [WEATHER]},
        {"id": "plain", "prompt": "hello"},
    )
    result = run_cli(str(data), "-P", str(profile_for(tmp_path, loopback, kind)), "--no-cache")
    assert result.exit_code == 0, result.stderr
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert out["call"]["status"] == "done" and out["call"]["answer"] == ""
    assert [(c["name"], c["arguments"]) for c in out["call"]["tool_calls"]] == [("get_weather", {"query": "Use get_weather for Paris"})]
    assert out["call"]["finish_reason"] == "tool_calls"
    assert out["forced"]["tool_calls"][0]["arguments"] == {"query": "What now?"}
    assert out["continued"]["answer"] == "echo: And so?" and "tool_calls" not in out["continued"]
    assert "tool_calls" not in out["plain"]
    bodies = {r.prompt: r.body for r in loopback.requests}
    continued = bodies["And so?"]
    assert (continued["contents"] if kind == "gemini" else continued["messages"]) == SENT_TURNS[kind]
    assert "tools" not in bodies["hello"]


BAD_ROWS = [
    ({"prompt": "x", "tools": [{"name": "no spaces please"}]}, "'tools': tool 1: name 'no spaces please' is not a tool name"),
    ({"prompt": "x", "tools": [WEATHER, WEATHER]}, "given twice"),
    ({"prompt": "x", "tools": {"name": "a"}}, "must be a JSON list"),
    ({"prompt": "x", "tool_choice": "auto"}, "needs tools"),
    ({"prompt": "x", "tools": [WEATHER], "tool_choice": "get_wether"}, "nor a tool's name"),
    ({"prompt": "x", "params": {"tools": [WEATHER]}}, "tools are not a parameter"),
    ({"messages": [{"role": "tool", "tool_call_id": "c9", "content": "r"}]}, "answers no tool call made earlier"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"id": "c1", "name": "bad name"}]}]},
     "message 2, tool call 1: 'name' must be a tool name"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"name": "f"}]}]}, "needs an 'id'"),
    ({"messages": [{"role": "user", "content": "q", "tool_calls": []}]}, "tool_calls go on an assistant message"),
    ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"id": "c1", "name": "f"}, {"id": "c2", "name": "f"}]},
                   {"role": "tool", "tool_call_id": "c1", "content": "r"}, {"role": "user", "content": "next"}]},
     "message 2: tool call 'c2' has no result"),
]


@pytest.mark.parametrize(("row", "says"), BAD_ROWS, ids=[b[1] for b in BAD_ROWS])
def test_a_row_with_bad_tools_is_malformed_saying_why(row: dict[str, Any], says: str) -> None:
    parsed = RowParser({}).parse(4, json.dumps(row).encode())
    assert isinstance(parsed, Malformed), parsed
    assert says in parsed.reason, parsed.reason


def test_a_row_in_our_own_tool_call_form_is_read() -> None:
    """The tool_calls of an output line (arguments as an object) can be fed back as history."""
    row = {"messages": [{"role": "user", "content": "q"},
                        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "f", "arguments": {"a": 1}}]},
                        {"role": "tool", "tool_call_id": "c1", "content": "2"}], "tools": [{"name": "f"}], "tool_choice": "none"}
    parsed = RowParser({}).parse(1, json.dumps(row).encode())
    assert isinstance(parsed, InputRow)
    assistant, result = parsed.request.messages[1:]
    assert assistant.tool_calls[0].parsed_arguments() == {"a": 1}
    assert (result.tool_call_id, result.name) == ("c1", "f")
    assert parsed.request.params.tool_choice == "none" and parsed.request.params.tools[0].name == "f"


def test_a_bad_row_does_not_stop_the_others(tmp_path: Path, loopback: LoopbackServer) -> None:
    data = rows(tmp_path / "in.jsonl", {"id": "bad", "prompt": "x", "tools": [{"name": "a b"}]}, {"id": "good", "prompt": "hi"})
    result = run_cli(str(data), "-P", str(profile_for(tmp_path, loopback, "openai")), "--no-cache")
    assert result.exit_code == 1
    out = {row["id"]: row for row in read_jsonl(tmp_path / "in.out.jsonl")}
    assert out["good"]["answer"] == "echo: hi" and "bad" not in out


def test_the_readme_example_row_is_a_row() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split('```json\n{"id": "w1"', 1)[1].split("```", 1)[0]
    parsed = RowParser({}).parse(1, ('{"id": "w1"' + block).replace("\n", " ").encode())
    assert isinstance(parsed, InputRow), parsed
    assert [m.role for m in parsed.request.messages] == ["user", "assistant", "tool"]
    assert parsed.request.params.tools[0].name == "get_weather"
