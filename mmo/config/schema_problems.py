"""pydantic's validation errors described in the user's terms: the key path they wrote (union
tags dropped), the line it is on, and what was expected in YAML's words.

A profile file may hold an API key by mistake (the schema refuses key headers), so no message
here ever quotes a string found under ``providers``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Annotated, Any, Mapping, Sequence, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from mmo.config.problems import KeyPath, Problem, format_key_path
from mmo.config.schema import NODE_SPECS, Profile, field_types
from mmo.config.type_hints import is_union, unwrap
from mmo.config.yaml_lines import line_of, yaml_type


@dataclass(frozen=True, slots=True)
class _Located:
    """A pydantic error location turned into the key path the user wrote."""

    path: KeyPath
    ends_at_union_member: bool  # a whole union member was refused (e.g. "not a string")
    parent_model: type[BaseModel] | None  # where the last key was looked up


def schema_problems(error: ValidationError, file: str, lines: Mapping[KeyPath, int]) -> list[Problem]:
    located = [(_locate(item["loc"]), item) for item in error.errors()]
    # A smart union (``str | ModelEntry``) reports every member it tried. When some member went
    # deeper into the value, the members refused outright are noise; when none did, they merge
    # into one "expected X or Y".
    deeper = {loc.path for loc, _ in located if not loc.ends_at_union_member}
    problems: list[Problem] = []
    merged: dict[KeyPath, list[tuple[_Located, Any]]] = {}
    for loc, item in located:
        if loc.ends_at_union_member:
            if not any(other[: len(loc.path)] == loc.path for other in deeper):
                merged.setdefault(loc.path, []).append((loc, item))
            continue
        problems.append(Problem(file, _describe(loc, item), format_key_path(loc.path), line_of(loc.path, lines)))
    for path, items in merged.items():
        expected = " or ".join(_expectation(item["msg"]) for _, item in items)
        message = f"expected {expected}{_got(items[0][1]['input'], path)}"
        problems.append(Problem(file, message, format_key_path(path), line_of(path, lines)))
    return problems


def _locate(loc: tuple[str | int, ...]) -> _Located:
    """Drop pydantic's union tags from ``loc`` by walking the schema's types alongside it."""
    current: Any = Profile
    path: list[str | int] = []
    ended_at_member = False
    parent: type[BaseModel] | None = None
    for segment in loc:
        ended_at_member = False
        current = unwrap(current)
        members = _union_members(current)
        if members is not None:
            if segment in members:
                current, ended_at_member = members[segment], True
                continue
            current = Any
        if segment == "[key]":
            continue
        path.append(segment)
        if isinstance(current, type) and issubclass(current, BaseModel):
            parent = current
            current = field_types(current).get(str(segment), Any)
        else:
            parent = None
            origin, args = get_origin(current), get_args(current)
            if origin in (dict, Mapping) and len(args) == 2:
                current = args[1]
            elif origin in (list, tuple, Sequence) and args:
                current = args[0]
            else:
                current = Any
    return _Located(tuple(path), ended_at_member, parent)


def _union_members(tp: Any) -> dict[str | int, Any] | None:
    """Tag -> member type for a union, as pydantic names members in error locations."""
    if not is_union(tp):
        return None
    members: dict[str | int, Any] = {}
    for arg in get_args(tp):
        if get_origin(arg) is Annotated:
            inner, *metadata = get_args(arg)
            tag = next((str(m.tag) for m in metadata if isinstance(m, Tag)), None)
            members[tag or str(getattr(inner, "__name__", inner))] = inner
        elif arg is not type(None):
            members[getattr(arg, "__name__", str(arg))] = arg
    return members


def _describe(loc: _Located, item: Mapping[str, Any]) -> str:
    kind, message, value = item["type"], item["msg"], item.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(str(loc.path[-1]), loc.parent_model)
    if kind == "unknown_strategy":
        return _unknown_node(value)
    if kind == "value_error":
        return str(message).removeprefix("Value error, ")
    if message.startswith("Input should be "):
        hint = _key_hint(loc.path) if kind == "literal_error" else ""
        return f"expected {_expectation(message)}{_got(value, loc.path)}{hint}"
    return f"{message}{_got(value, loc.path)}"


def _expectation(message: str) -> str:
    """pydantic's "Input should be a valid integer" -> "an integer", in YAML's words."""
    text = message.removeprefix("Input should be ")
    if text.startswith("a valid dictionary or instance of "):
        return f"a mapping ({text.removeprefix('a valid dictionary or instance of ')})"
    text = text.replace("a valid dictionary", "a mapping").replace("a valid ", "a ")
    return re.sub(r"\ba (?=[aeiou])", "an ", text)


def _got(value: Any, path: KeyPath) -> str:
    if isinstance(value, bool):
        return f", got {'true' if value else 'false'}"
    if value is None:
        return ", got null"
    if isinstance(value, (int, float)):
        return f", got {value!r}"
    if isinstance(value, str):
        # Strings under providers may be secrets a user pasted into the wrong key.
        if path[:1] == ("providers",) or len(value) > 60:
            return ", got a string"
        return f", got {value!r}"
    return f", got a {yaml_type(value)}"


def _key_hint(path: KeyPath) -> str:
    if len(path) == 3 and path[0] == "providers" and path[2] == "key":
        return f" (keys never go in a profile: run `mmo keys set {path[1]}` or name a variable in key_env)"
    return ""


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return f"unknown key {key!r}"
    allowed = [info.alias or name for name, info in model.model_fields.items()]  # as a profile spells them
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}; expected one of: {', '.join(allowed)}"


def _unknown_node(value: Any) -> str:
    kinds = list(NODE_SPECS)
    expected = f"expected a model alias, a provider:model, or a mapping with one of the keys: {', '.join(kinds)}"
    if isinstance(value, dict):
        keys = [str(key) for key in value]
        close = next((match for key in keys for match in difflib.get_close_matches(key, kinds, n=1, cutoff=0.6)), None)
        hint = f"; did you mean {close!r}?" if close else ""
        return f"{expected}; got a mapping with keys: {', '.join(keys) or '(none)'}{hint}"
    return f"{expected}; got a {yaml_type(value)}"
