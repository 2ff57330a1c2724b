"""The tool fields of a batch row: the tools the model may call, the tool choice, and messages
that continue a tool call.

    {"prompt": "Weather in Paris?", "tools": [{"name": "get_weather", "parameters": {...}}],
     "tool_choice": "required"}
    {"tools": [...], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\\"temp\\": 21}"}]}

``tools`` and ``tool_choice`` are read as ``mmo ask --tools`` reads a file (``mmo.spec.tools``: any
vendor's form). An assistant message's ``tool_calls`` take our form (``{id, name, arguments}``,
the shape the batch output writes) or OpenAI's (``{id, type: function, function: {name,
arguments}}``); ``arguments`` is an object or its JSON text, and its ``content`` may be null. A
``tool`` message needs the ``tool_call_id`` of a call made earlier in the row, and may give the
tool's ``name``; every call must have its result right after its assistant message (OpenAI and
Anthropic refuse a conversation with a call left unanswered). Each adapter sends the conversation
in its vendor's format.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from mmo.core.types import Message, Params, ToolCall, ToolSpec
from mmo.spec.tools import TOOL_NAME, ToolProblem, parse_tool_choice, parse_tools

TOOL_FIELDS = ("tool_calls", "tool_call_id")


def row_params_with_tools(data: Mapping[str, Any], params: Params) -> Params:
    """``params`` with the row's tools and tool choice; raises ``ToolProblem`` saying what is wrong."""
    tools: tuple[ToolSpec, ...] = ()
    if data.get("tools") is not None:
        try:
            tools = parse_tools(data["tools"])
        except ToolProblem as problem:
            raise ToolProblem(f"'tools': {problem}") from None
    choice = parse_tool_choice(data.get("tool_choice"), tools)
    return params.merged(tools=tools, tool_choice=choice) if tools else params


def has_tool_fields(item: Mapping[str, Any]) -> bool:
    return any(key in item for key in TOOL_FIELDS)


def tool_message(position: int, item: Mapping[str, Any], earlier: Sequence[Message]) -> Message:
    """A message of a tool-calling conversation; raises ``ToolProblem`` naming the message."""
    role, content = item.get("role"), item.get("content")
    where = f"message {position}"
    if role == "assistant" and "tool_calls" in item and "tool_call_id" not in item:
        if content is not None and not isinstance(content, str):
            raise ToolProblem(f"{where}: content must be a string or null")
        return Message("assistant", content or "", _calls(where, item["tool_calls"]))
    if role == "tool" and "tool_calls" not in item:
        return _result(where, item, earlier)
    raise ToolProblem(f"{where}: tool_calls go on an assistant message, tool_call_id on a tool message")


def _calls(where: str, value: Any) -> tuple[ToolCall, ...]:
    if not isinstance(value, list) or not value:
        raise ToolProblem(f"{where}: tool_calls must be a non-empty list of {{id, name, arguments}}")
    calls = tuple(_call(f"{where}, tool call {n}", item) for n, item in enumerate(value, 1))
    ids = [call.id for call in calls]
    if len(set(ids)) != len(ids):
        raise ToolProblem(f"{where}: two tool calls have the same id")
    return calls


def _call(where: str, item: Any) -> ToolCall:
    if not isinstance(item, dict):
        raise ToolProblem(f"{where}: must be an object {{id, name, arguments}}")
    nested = item.get("function")
    function: Mapping[str, Any] = nested if isinstance(nested, dict) else item
    call_id, name, arguments = item.get("id"), function.get("name"), function.get("arguments", {})
    if not isinstance(call_id, str) or not call_id:
        raise ToolProblem(f"{where}: needs an 'id' (a non-empty string) for its result to name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise ToolProblem(f"{where}: 'name' must be a tool name (1 to 64 letters, digits, '_' or '-')")
    if isinstance(arguments, str):
        return ToolCall(call_id, name, arguments)  # as the model wrote it, even when not valid JSON
    if not isinstance(arguments, dict):
        raise ToolProblem(f"{where}: 'arguments' must be an object or its JSON text")
    return ToolCall(call_id, name, json.dumps(arguments, ensure_ascii=False))


def _result(where: str, item: Mapping[str, Any], earlier: Sequence[Message]) -> Message:
    call_id, content, name = item.get("tool_call_id"), item.get("content"), item.get("name")
    if not isinstance(content, str):
        raise ToolProblem(f"{where}: a tool message's content must be a string (the tool's result; JSON as text)")
    calls = {call.id: call.name for message in earlier for call in message.tool_calls}
    if not isinstance(call_id, str) or call_id not in calls:
        known = ", ".join(map(repr, calls)) or "none"
        raise ToolProblem(f"{where}: tool_call_id {call_id!r} answers no tool call made earlier in the row (the calls: {known})")
    if name is not None and name != calls[call_id]:
        raise ToolProblem(f"{where}: name {name!r} is not the name of call {call_id!r} ({calls[call_id]!r})")
    return Message("tool", content, tool_call_id=call_id, name=calls[call_id])


def check_tool_turns(messages: Sequence[Message]) -> None:
    """Every tool call answered by a ``tool`` message right after the call's assistant message
    (before the next other message), as OpenAI and Anthropic require; raises ``ToolProblem``."""
    for position, message in enumerate(messages, 1):
        if not message.tool_calls:
            continue
        answered = set()
        for later in messages[position:]:
            if later.role != "tool":
                break
            answered.add(later.tool_call_id)
        missing = [call.id for call in message.tool_calls if call.id not in answered]
        if missing:
            raise ToolProblem(
                f"message {position}: tool call {missing[0]!r} has no result: follow the assistant message with a "
                f"tool message per call ({{\"role\": \"tool\", \"tool_call_id\": {missing[0]!r}, \"content\": ...}})"
            )
