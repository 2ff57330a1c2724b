"""Tool calls in the loopback's answers: which tool a request asks to be called, and that call in
each vendor's answer and stream (shapes from ``shared/reference/wire-formats.md``: OpenAI
``tool_calls`` with arguments as text, streamed as fragments joined by index; Anthropic
``tool_use`` blocks, streamed as ``input_json_delta`` fragments; Gemini ``functionCall`` parts,
whole, with a ``thoughtSignature``).

A request gets a tool call when it offers tools in its vendor's format and either forces a call
(OpenAI ``tool_choice`` ``required`` or a named function, Anthropic ``{type: any|tool}``, Gemini
mode ``ANY``) or, with the choice left to the model, names one of the offered tools in its last
user message. The call's arguments are ``{"query": <the last user message>}``. Tools in another
vendor's format are refused with a 400, as the vendors do.
"""

from __future__ import annotations

import json
from typing import Any

ARGUMENT_FRAGMENTS = 3


class ToolFormatError(ValueError):
    """The tools or the tool choice are not in the route's vendor format."""


def tool_to_call(shape: str, body: dict[str, Any], prompt: str) -> str | None:
    """The name of the tool the answer calls, or None for a text answer."""
    names = _offered(shape, body)
    if not names:
        return None
    forced, allowed = _forced(shape, body)
    if forced is False:
        return None
    if forced is True:
        return allowed or names[0]
    return next((name for name in names if name in prompt), None)


def arguments_for(prompt: str) -> str:
    return json.dumps({"query": prompt}, separators=(",", ":"))


def fragments(arguments: str) -> list[str]:
    """The arguments cut in pieces, as vendors stream them."""
    size = max(1, -(-len(arguments) // ARGUMENT_FRAGMENTS))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def _offered(shape: str, body: dict[str, Any]) -> list[str]:
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not tools:
        raise ToolFormatError("'tools' must be a non-empty list")
    if shape == "openai":
        return [_openai_name(tool) for tool in tools]
    if shape == "anthropic":
        return [_named(tool, "input_schema") for tool in tools]
    return [_named(d, "parametersJsonSchema", "parameters") for tool in tools for d in _declarations(tool)]


def _openai_name(tool: Any) -> str:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        raise ToolFormatError("each tool must be {type: function, function: {name, description, parameters}}")
    return _named(tool["function"], "parameters")


def _declarations(tool: Any) -> list[Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("functionDeclarations"), list):
        raise ToolFormatError("each tool must be {functionDeclarations: [...]}")
    return list(tool["functionDeclarations"])


def _named(tool: Any, *schema_keys: str) -> str:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise ToolFormatError("each tool needs a name")
    schemas = [tool[key] for key in schema_keys if key in tool]
    if not all(isinstance(s, dict) and s.get("type") == "object" for s in schemas):
        raise ToolFormatError(f"tool {tool['name']}: its schema must be an object schema")
    return str(tool["name"])


def _forced(shape: str, body: dict[str, Any]) -> tuple[bool | None, str | None]:
    """(True: a call is forced, False: none allowed, None: the model decides; the forced name)."""
    if shape == "openai":
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            return True, (choice.get("function") or {}).get("name")
        return {"required": True, "none": False}.get(str(choice)), None
    if shape == "anthropic":
        choice = body.get("tool_choice") or {}
        kind = choice.get("type") if isinstance(choice, dict) else None
        return {"any": True, "tool": True, "none": False}.get(str(kind)), choice.get("name") if kind == "tool" else None
    config = ((body.get("toolConfig") or {}).get("functionCallingConfig")) or {}
    allowed = config.get("allowedFunctionNames") or [None]
    return {"ANY": True, "NONE": False}.get(str(config.get("mode"))), allowed[0]


# --- answers -------------------------------------------------------------------------------


def openai_message_calls(call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    return [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]


def openai_stream_deltas(call_id: str, name: str, arguments: str) -> list[dict[str, Any]]:
    first = {"tool_calls": [{"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]}
    rest = [{"tool_calls": [{"index": 0, "function": {"arguments": piece}}]} for piece in fragments(arguments)]
    return [first, *rest]


def anthropic_block(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": name, "input": json.loads(arguments)}


def anthropic_stream_events(index: int, call_id: str, name: str, arguments: str) -> list[tuple[str, dict[str, Any]]]:
    start = {"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}}
    deltas = [
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})
        for piece in fragments(arguments)
    ]
    return [("content_block_start", start), *deltas, ("content_block_stop", {"type": "content_block_stop", "index": index})]


def gemini_part(name: str, arguments: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, "args": json.loads(arguments)}, "thoughtSignature": "bG9vcGJhY2s="}
