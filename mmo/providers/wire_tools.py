"""Tool definitions and the tool choice (``Params.tools`` / ``Params.tool_choice``) in each
vendor's request fields. Each function returns the fields to add to a body, nothing when the
request has no tools.

* OpenAI (and every compatible server: Ollama ``/v1``, vLLM, Groq ...): ``tools: [{type:
  function, function: {name, description, parameters}}]``; ``tool_choice`` ``"auto"``,
  ``"required"``, ``"none"`` or ``{type: function, function: {name}}``.
* Anthropic: ``tools: [{name, description, input_schema}]``; ``tool_choice`` ``{type: auto}``,
  ``{type: any}``, ``{type: none}`` or ``{type: tool, name}``.
* Gemini: ``tools: [{functionDeclarations: [{name, description, parametersJsonSchema}]}]``: the
  JSON Schema field, not ``parameters`` (an OpenAPI subset that refuses much of JSON Schema, such
  as ``additionalProperties`` or ``$ref`` on older models); ``toolConfig: {functionCallingConfig:
  {mode: AUTO|ANY|NONE, allowedFunctionNames}}``, a named tool being ``ANY`` with only that name.

A tool choice left unset is not sent: each vendor's default is ``auto`` when tools are given.
"""

from __future__ import annotations

from typing import Any

from mmo.core.types import Params
from mmo.providers.wire_json import plain_json

# A function call replayed to Gemini must carry the thought signature the model gave it (Gemini 3
# refuses a turn without one); mmo does not keep signatures, so it sends the value Google
# documents for history whose signature is unknown (https://ai.google.dev/gemini-api/docs/thought-signatures).
GEMINI_UNKNOWN_SIGNATURE = "skip_thought_signature_validator"

_ANTHROPIC_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
_GEMINI_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}


def openai_tools(params: Params) -> dict[str, Any]:
    if not params.tools:
        return {}
    tools = [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": plain_json(t.parameters)}}
        for t in params.tools
    ]
    out: dict[str, Any] = {"tools": tools}
    choice = params.tool_choice
    if choice is not None:
        out["tool_choice"] = choice if choice in ("auto", "required", "none") else {"type": "function", "function": {"name": choice}}
    return out


def anthropic_tools(params: Params) -> dict[str, Any]:
    if not params.tools:
        return {}
    tools = [{"name": t.name, "description": t.description, "input_schema": plain_json(t.parameters)} for t in params.tools]
    out: dict[str, Any] = {"tools": tools}
    choice = params.tool_choice
    if choice is not None:
        kind = _ANTHROPIC_CHOICES.get(choice)
        out["tool_choice"] = {"type": kind} if kind else {"type": "tool", "name": choice}
    return out


def gemini_tools(params: Params) -> dict[str, Any]:
    if not params.tools:
        return {}
    # An empty description is left out: Gemini's API reference has listed the field as required.
    declarations = [
        {"name": t.name, **({"description": t.description} if t.description else {}), "parametersJsonSchema": plain_json(t.parameters)}
        for t in params.tools
    ]
    out: dict[str, Any] = {"tools": [{"functionDeclarations": declarations}]}
    choice = params.tool_choice
    if choice is not None:
        mode = _GEMINI_MODES.get(choice)
        config: dict[str, Any] = {"mode": mode} if mode else {"mode": "ANY", "allowedFunctionNames": [choice]}
        out["toolConfig"] = {"functionCallingConfig": config}
    return out
