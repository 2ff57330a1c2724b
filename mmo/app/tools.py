"""Tools in and tool calls out, for the commands.

In: ``mmo ask --tools FILE.json --tool-choice auto|required|none|NAME`` read and checked before
anything is spent (``mmo.spec.tools`` says what a tools file may hold); ``--tool-choice`` wins over
a ``tool_choice`` the file carries.

Out: an answer that calls tools is shown as one JSON object, the same on ``mmo ask``'s standard
output, in ``--json`` (``tool_calls``), in a batch output line and in the run log's answer::

    {"text": "<what the model also wrote, often empty>",
     "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]}

``arguments`` is the parsed JSON object; when the model wrote arguments that are not a JSON
object (OpenAI sends them as text, which may be broken), they are kept as the raw text with
``arguments_error`` saying why, so nothing the model produced is lost.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmo.core.errors import ConfigError
from mmo.core.types import Completion, Params, ToolCall, ToolSpec
from mmo.spec.tools import ToolProblem, load_tools_file, parse_tool_choice


def request_tools(path: Path | None, choice: str | None) -> tuple[tuple[ToolSpec, ...], str | None]:
    """The tools of ``--tools`` and the choice of ``--tool-choice`` (or the file's own), checked;
    a ``ConfigError`` naming the file, the line and the fix otherwise."""
    tools, file_choice = load_tools_file(path) if path is not None else ((), None)
    try:
        return tools, parse_tool_choice(choice, tools) if choice is not None else file_choice
    except ToolProblem as problem:
        raise ConfigError(f"--tool-choice: {problem}") from None


def with_tools(params: Params, tools: tuple[ToolSpec, ...], choice: str | None) -> Params:
    """``params`` carrying the tools (unchanged when there are none)."""
    return replace(params, tools=tools, tool_choice=choice) if tools else params


def tool_call_json(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "name": call.name}
    try:
        arguments = call.parsed_arguments()
    except (ValueError, RecursionError) as error:
        return {**out, "arguments": call.arguments, "arguments_error": f"not valid JSON ({getattr(error, 'msg', 'nested too deeply')})"}
    if not isinstance(arguments, dict):
        return {**out, "arguments": call.arguments, "arguments_error": "not a JSON object"}
    return {**out, "arguments": arguments}


def tool_answer(completion: Completion) -> dict[str, Any]:
    """The answer of a completion that calls tools, as shown everywhere (module docstring)."""
    return {"text": completion.text, "tool_calls": [tool_call_json(call) for call in completion.tool_calls]}


def tool_answer_text(completion: Completion, *, indent: int | None = None) -> str:
    return json.dumps(tool_answer(completion), ensure_ascii=False, indent=indent)


def shown_answer(completion: Completion) -> str:
    """The answer as text: the model's text, or the tool-call object when it called tools."""
    return tool_answer_text(completion) if completion.tool_calls else completion.text
