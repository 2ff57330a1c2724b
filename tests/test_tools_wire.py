"""Tool definitions and the tool choice in each vendor's request body, checked against the shapes
the vendors document (shared/reference/wire-formats.md; the recorded OpenAI and Anthropic tool
exchanges are checked in test_providers_recorded), and tool definitions read in every form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from mmo.core.errors import ConfigError
from mmo.core.types import Params, Request, ToolSpec
from mmo.spec.tools import ToolProblem, load_tools_file, parse_tool_choice, parse_tools
from tests.support.recorded import make_provider, run

_OK = {
    "openai": {"model": "m", "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}]},
    "anthropic": {"model": "m", "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn", "usage": {}},
    "gemini": {"candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]},
}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}
TOOLS = (ToolSpec("get_weather", "The weather", SCHEMA), ToolSpec("noop", "", {"type": "object", "properties": {}}))


def body_for(kind: str, params: Params) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=_OK[kind])

    run(make_provider(kind, handler).complete(Request.from_prompt("hi", params=params), "m"))
    return bodies[0]


def test_openai_tools_body() -> None:
    body = body_for("openai", Params(tools=TOOLS, tool_choice="get_weather"))
    assert body["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "The weather", "parameters": SCHEMA}},
        {"type": "function", "function": {"name": "noop", "description": "", "parameters": {"type": "object", "properties": {}}}},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_anthropic_tools_body() -> None:
    body = body_for("anthropic", Params(tools=TOOLS, tool_choice="required"))
    assert body["tools"][0] == {"name": "get_weather", "description": "The weather", "input_schema": SCHEMA}
    assert body["tool_choice"] == {"type": "any"}


def test_gemini_tools_body() -> None:
    body = body_for("gemini", Params(tools=TOOLS, tool_choice="none"))
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "The weather", "parametersJsonSchema": SCHEMA},
        {"name": "noop", "parametersJsonSchema": {"type": "object", "properties": {}}},  # no empty description
    ]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
def test_no_tools_no_tool_fields_and_an_unset_choice_is_not_sent(kind: str) -> None:
    assert not {"tools", "tool_choice", "toolConfig"} & set(body_for(kind, Params()))
    assert not {"tool_choice", "toolConfig"} & set(body_for(kind, Params(tools=TOOLS)))


def test_every_form_reads_to_the_same_tool() -> None:
    forms = [
        {"name": "get_weather", "description": "The weather", "parameters": SCHEMA},
        {"type": "function", "function": {"name": "get_weather", "description": "The weather", "parameters": SCHEMA, "strict": True}},
        {"name": "get_weather", "description": "The weather", "input_schema": SCHEMA},
        {"type": "custom", "name": "get_weather", "description": "The weather", "input_schema": SCHEMA},
        {"functionDeclarations": [{"name": "get_weather", "description": "The weather", "parametersJsonSchema": SCHEMA}]},
    ]
    assert [parse_tools([form])[0] for form in forms] == [TOOLS[0]] * len(forms)
    assert parse_tools([{"name": "bare"}])[0].parameters == {"type": "object", "properties": {}}


@pytest.mark.parametrize(("tools", "says"), [
    ([{"name": "x" * 65}], "is not a tool name"),
    ([{"name": "a.b"}], "is not a tool name"),
    ([{"name": "a", "parameters": {"type": "object", "properties": {"x": {"minimum": "one"}}}}], "not a valid JSON Schema"),
    ([{"name": "a", "parameters": {"type": "object", "properties": {"x": float("nan")}}}], "finite"),
    ([{"name": "a", "description": 3}], "description must be a string"),
    ([{"type": "function", "function": "f"}], "must be an object"),
    ([{"name": f"t{i}"} for i in range(129)], "at most 128"),
])
def test_bad_tools(tools: list[Any], says: str) -> None:
    with pytest.raises(ToolProblem) as caught:
        parse_tools(tools)
    assert says in str(caught.value)


def test_tool_choice_keywords_win_and_names_are_checked() -> None:
    assert parse_tool_choice(" required ", TOOLS) == "required"
    assert parse_tool_choice("noop", TOOLS) == "noop"
    with pytest.raises(ToolProblem):
        parse_tool_choice("nope", TOOLS)


def test_a_tools_file_error_names_the_line_of_the_tool(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{\n  "tools": [\n    {"name": "a"},\n    {"name": "a"}\n  ]\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_tools_file(path)
    assert str(caught.value).startswith(f"{path}:4: tool 2: the name 'a' is given twice")
    path.write_text('[{"name": "a"}]\n')
    assert load_tools_file(path) == ((ToolSpec("a", "", {"type": "object", "properties": {}}),), None)
    with pytest.raises(ConfigError, match="cannot read tools file"):
        load_tools_file(tmp_path / "missing.json")


def test_a_tools_file_that_is_a_directory_a_device_or_too_big_is_refused(tmp_path: Path) -> None:
    import os
    import stat

    device = tmp_path / "zero"
    os.mknod(device, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's numbers, made here
    for path, says in ((tmp_path, "is a directory"), (device, "not a regular file")):
        with pytest.raises(ConfigError, match=says):
            load_tools_file(path)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (4 * 1024 * 1024 + 1))
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_tools_file(big)


def test_a_tools_file_may_be_a_pipe(tmp_path: Path) -> None:
    import os
    import threading

    fifo = tmp_path / "tools.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("w") as handle:
            handle.write('[{"name": "piped"}]')

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    tools, _ = load_tools_file(fifo)
    writer.join(timeout=5)
    assert [t.name for t in tools] == ["piped"]
