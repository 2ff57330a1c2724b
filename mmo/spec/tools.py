"""Tool definitions as a user gives them (``mmo ask --tools FILE.json``, a batch row's ``tools``)
and the tool choice (``--tool-choice``, a row's ``tool_choice``), checked before any call.

A tools file holds a JSON list of tools, or an object with a ``tools`` list (a request body
copied from a vendor's docs). Each tool may be written in any of the forms users copy:

* neutral: ``{"name", "description", "parameters": <JSON Schema>}``
* OpenAI: ``{"type": "function", "function": {"name", "description", "parameters", "strict"}}``
* Anthropic: ``{"name", "description", "input_schema": <JSON Schema>}``
* Gemini: ``{"functionDeclarations": [{"name", "description", "parameters" | "parametersJsonSchema"}]}``
  (one entry declaring several functions)

The file is a regular file or a pipe (``--tools <(jq ...)``) of at most ``MAX_TOOLS_FILE_BYTES``.
Names must match ``^[a-zA-Z0-9_-]{1,64}$`` (the rule every vendor accepts) and be unique. The
parameters must be a JSON Schema (Draft 2020-12 ``check_schema``) describing an object, as every
vendor requires; a tool without parameters takes none (``{"type": "object", "properties": {}}``).
OpenAI's ``strict`` is read and not sent (the other vendors have no such flag): the answer's
arguments are shown as the model wrote them. Anything else (an unknown key, a vendor's server tool
such as ``{"type": "web_search_20250305"}``) is refused, naming the tool and the fix; for a file,
the error names the line where the tool starts.

The tool choice is ``auto`` (the model decides), ``required`` (it must call one), ``none`` (it
must not) or a tool's name (it must call that one); a choice without tools is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from mmo.core.errors import ConfigError
from mmo.core.types import ToolSpec, frozen_mapping
from mmo.spec.input_files import load_json_text, read_small_file
from mmo.spec.params import value_problem

TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOOL_CHOICES = ("auto", "required", "none")
MAX_TOOLS = 128  # OpenAI's limit, the lowest of the three vendors'
MAX_TOOLS_FILE_BYTES = 4 << 20
NO_PARAMETERS: Mapping[str, Any] = frozen_mapping({"type": "object", "properties": {}})

_NEUTRAL_KEYS = {"name", "description", "parameters"}
_OPENAI_KEYS = {"type", "function"}
_FUNCTION_KEYS = {"name", "description", "parameters", "strict"}
_ANTHROPIC_KEYS = {"name", "description", "input_schema"}
_GEMINI_KEYS = {"name", "description", "parameters", "parametersJsonSchema"}
_FORMS = (
    'write each tool as {"name": ..., "description": ..., "parameters": {JSON Schema}} '
    '(OpenAI\'s {"type": "function", "function": {...}} and Anthropic\'s {"name", "description", "input_schema"} are read too)'
)


class ToolProblem(ValueError):
    """Why one tool (``index``, 0-based, in the list given) cannot be sent."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def parse_tools(value: Any) -> tuple[ToolSpec, ...]:
    """The tools in ``value`` (a list in any of the accepted forms); raises ``ToolProblem``."""
    if not isinstance(value, list):
        raise ToolProblem(f"tools must be a JSON list, got {_kind(value)}: {_FORMS}")
    tools: list[ToolSpec] = []
    for index, item in enumerate(value):
        try:
            tools.extend(_one_entry(item))
        except ToolProblem as problem:
            raise ToolProblem(f"tool {index + 1}: {problem}", index) from None
    _check_names(tools, value)
    if len(tools) > MAX_TOOLS:
        raise ToolProblem(f"{len(tools)} tools: at most {MAX_TOOLS} may be given (OpenAI's limit)")
    return tuple(tools)


def parse_tool_choice(value: Any, tools: tuple[ToolSpec, ...]) -> str | None:
    """``auto``, ``required``, ``none`` or one of ``tools``' names; raises ``ToolProblem``."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolProblem(f"tool_choice must be {'|'.join(TOOL_CHOICES)} or a tool's name, got {_kind(value)}")
    choice = value.strip()
    if not tools:
        raise ToolProblem(f"tool_choice {choice!r} needs tools: give them with --tools FILE.json (or a batch row's \"tools\")")
    if choice in TOOL_CHOICES or choice in {t.name for t in tools}:
        return choice
    names = ", ".join(t.name for t in tools)
    raise ToolProblem(f"tool_choice {choice!r} is neither {'|'.join(TOOL_CHOICES)} nor a tool's name (the tools: {names})")


def load_tools_file(path: Path) -> tuple[tuple[ToolSpec, ...], str | None]:
    """The tools in a JSON file (and the ``tool_choice`` an object-form file carries). Every
    problem is a ``ConfigError`` naming the file and line."""
    text = read_small_file(path, "tools file", MAX_TOOLS_FILE_BYTES)
    data = load_json_text(text, path)
    listed, choice = data, None
    if isinstance(data, dict) and "tools" in data:
        listed, choice = data["tools"], data.get("tool_choice")
        extra = sorted(set(data) - {"tools", "tool_choice"})
        if extra:
            raise ConfigError(f"unexpected key(s) {', '.join(map(repr, extra))} beside 'tools': give a list of tools, or {{\"tools\": [...]}}", source=f"{path}:1")
    try:
        tools = parse_tools(listed)
        return tools, vendor_tool_choice(choice, tools)
    except ToolProblem as problem:
        line = _element_lines(text).get(problem.index, 1) if problem.index is not None else 1
        raise ConfigError(str(problem), source=f"{path}:{line}") from None


def vendor_tool_choice(choice: Any, tools: tuple[ToolSpec, ...]) -> str | None:
    """A ``tool_choice`` copied with a request body, in any vendor's form (OpenAI's
    ``{"type": "function", "function": {"name"}}``, Anthropic's ``{"type": "any"}``, Gemini's
    ``{"mode": "ANY"}``) or ours; raises ``ToolProblem``."""
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        kind = choice.get("type") or choice.get("mode")
        choice = name if name else {"any": "required", "ANY": "required", "AUTO": "auto", "NONE": "none"}.get(str(kind), kind)
    return parse_tool_choice(choice, tools)


# --- one tool ------------------------------------------------------------------------------


def _one_entry(item: Any) -> list[ToolSpec]:
    if not isinstance(item, dict):
        raise ToolProblem(f"expected an object, got {_kind(item)}: {_FORMS}")
    declarations = item.get("functionDeclarations", item.get("function_declarations"))
    if declarations is not None:
        return _gemini_entry(item, declarations)
    if "function" in item or item.get("type") == "function":
        return [_openai_tool(item)]
    if item.get("type") == "custom":  # Anthropic's explicit name for a tool the client runs
        item = {k: v for k, v in item.items() if k != "type"}
    elif "type" in item:
        raise ToolProblem(f"type {item['type']!r} is a vendor's own (server) tool, which mmo cannot send to every vendor: {_FORMS}")
    if "input_schema" in item:
        _only(item, _ANTHROPIC_KEYS)
        return [_tool(item.get("name"), item.get("description"), item.get("input_schema"))]
    _only(item, _NEUTRAL_KEYS)
    return [_tool(item.get("name"), item.get("description"), item.get("parameters"))]


def _openai_tool(item: Mapping[str, Any]) -> ToolSpec:
    _only(item, _OPENAI_KEYS)
    if item.get("type") != "function":
        raise ToolProblem("an OpenAI-style tool needs \"type\": \"function\"")
    function = item.get("function")
    if not isinstance(function, dict):
        raise ToolProblem("\"function\" must be an object {name, description, parameters}")
    _only(function, _FUNCTION_KEYS)
    return _tool(function.get("name"), function.get("description"), function.get("parameters"))


def _gemini_entry(item: Mapping[str, Any], declarations: Any) -> list[ToolSpec]:
    _only(item, {"functionDeclarations", "function_declarations"})
    if not isinstance(declarations, list):
        raise ToolProblem("\"functionDeclarations\" must be a list")
    out = []
    for declaration in declarations:
        if not isinstance(declaration, dict):
            raise ToolProblem(f"each function declaration must be an object, got {_kind(declaration)}")
        _only(declaration, _GEMINI_KEYS)
        if "parameters" in declaration and "parametersJsonSchema" in declaration:
            raise ToolProblem(f"{declaration.get('name')!r} has both parameters and parametersJsonSchema: give one")
        schema = declaration.get("parametersJsonSchema", declaration.get("parameters"))
        out.append(_tool(declaration.get("name"), declaration.get("description"), _lower_types(schema)))
    return out


def _lower_types(schema: Any) -> Any:
    """Gemini's OpenAPI ``parameters`` spell types in capitals (``OBJECT``); JSON Schema does not."""
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else _lower_types(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_lower_types(v) for v in schema]
    return schema


def _tool(name: Any, description: Any, parameters: Any) -> ToolSpec:
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        shown = repr(name) if isinstance(name, str) else _kind(name)
        raise ToolProblem(f"name {shown} is not a tool name: use 1 to 64 letters, digits, '_' or '-' (e.g. \"get_weather\")")
    if description is not None and not isinstance(description, str):
        raise ToolProblem(f"{name!r}: description must be a string")
    return ToolSpec(name, description or "", _schema(name, parameters))


def _schema(name: str, parameters: Any) -> Mapping[str, Any]:
    if parameters is None:
        return NO_PARAMETERS
    if not isinstance(parameters, dict):
        raise ToolProblem(f"{name!r}: parameters must be a JSON Schema object, got {_kind(parameters)}")
    problem = value_problem(parameters)
    if problem is not None:
        raise ToolProblem(f"{name!r}: parameters {problem}")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as error:
        where = "/".join(str(p) for p in error.path) or "the top level"
        raise ToolProblem(f"{name!r}: parameters is not a valid JSON Schema (at {where}: {error.message})") from None
    if parameters.get("type", "object") != "object":
        raise ToolProblem(f"{name!r}: parameters must describe an object (\"type\": \"object\", with \"properties\"), as every vendor requires")
    return frozen_mapping({"type": "object", **parameters})


def _check_names(tools: list[ToolSpec], listed: list[Any]) -> None:
    seen: set[str] = set()
    for position, tool in enumerate(tools):
        if tool.name in seen:
            index = min(position, len(listed) - 1)  # entries and tools differ only for Gemini's grouped form
            raise ToolProblem(f"tool {index + 1}: the name {tool.name!r} is given twice: tool names must be unique", index)
        seen.add(tool.name)


def _only(item: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise ToolProblem(f"unexpected key(s) {', '.join(map(repr, unknown))} (allowed here: {', '.join(sorted(allowed))})")


def _kind(value: Any) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# --- lines ---------------------------------------------------------------------------------


def _element_lines(text: str) -> dict[int, int]:
    """The line each element of the tools list starts on (index -> 1-based line), found by
    decoding the list one element at a time; empty when the text is not shaped as expected."""
    start = _list_start(text)
    if start is None:
        return {}
    decoder, lines, position, index = json.JSONDecoder(), {}, start + 1, 0
    while index <= MAX_TOOLS * 4:  # bounded: a file this long has failed the count check already
        position = _skip_space(text, position)
        if position >= len(text) or text[position] == "]":
            break
        try:
            _, end = decoder.raw_decode(text, position)
        except (ValueError, RecursionError):
            break
        lines[index] = text.count("\n", 0, position) + 1
        position = _skip_space(text, end)
        if position >= len(text) or text[position] != ",":
            break
        position, index = position + 1, index + 1
    return lines


def _list_start(text: str) -> int | None:
    position = _skip_space(text, 0)
    if text.startswith("[", position):
        return position
    match = re.search(r'"tools"\s*:\s*\[', text)
    return match.end() - 1 if match else None


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
