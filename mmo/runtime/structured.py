"""Structured output: an answer that must be JSON matching a JSON Schema (``mmo ask --schema``, a
batch row's or a bench task's ``schema``; ``Params.output_schema``).

Around every model call (``RunContext.complete``), so every strategy gets it:

* **Asking.** A model with native structured output (the catalogue's ``structured_output``) gets
  the schema as ``response_format: {type: json_schema, json_schema: {name, schema, strict}}``,
  which each adapter writes in its vendor's form (OpenAI and OpenAI-compatible servers such as
  Ollama as is, Anthropic ``output_config.format``, Gemini ``responseJsonSchema``). ``strict`` is
  true only when the schema meets OpenAI's strict mode (every object closed with
  ``additionalProperties: false`` and every property required); otherwise the vendor is asked
  without it, and validation below does the checking. A model known to lack native support, a
  model nobody knows (a native request to a server that has none is a 400 that no fallback can
  get past), and a schema whose root is not an object (vendors accept only objects natively) get
  the schema as instructions in a system message instead. A request that sets ``response_format``
  itself is sent as it is.
* **Checking.** Every answer is validated with ``jsonschema`` (the schema's ``$schema`` picks the
  draft, 2020-12 by default; ``format`` is checked); the whole answer must be one JSON value, a
  code fence around it is accepted. An answer that does not match is recorded (its cost counts)
  and raises ``SchemaMismatch``, a ``failover`` error: a fallback moves on, a cascade escalates,
  an ensemble counts the member out. It is never cached, and a cached answer is validated again
  before it is served. An answer that calls tools is not checked (it is not the answer yet).
* **Re-asking** is the single-model strategy's (``mmo.strategies.model``): once, with the
  validation errors.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Mapping

from mmo.catalog.capabilities import Capabilities
from mmo.core.json_answer import parse_json_answer
from mmo.core.types import Completion, Message, Request
from mmo.core.types import plain_data as _plain

MAX_PROBLEMS = 5  # validation errors named in a message and a re-ask
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable JSON Schema object, or ``None``."""
    if not isinstance(schema, Mapping):
        return f"a JSON Schema must be an object (a mapping), got {type(schema).__name__}"
    try:
        text = json.dumps(_plain(schema), sort_keys=True, allow_nan=False)
    except (ValueError, RecursionError) as error:
        return f"not JSON data: {error}"
    return _problem_of(text)


@lru_cache(maxsize=64)
def _problem_of(schema_json: str) -> str | None:
    """Checked once per schema: a batch whose rows share one pays for one check."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    schema = json.loads(schema_json)
    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as error:
        return f"not a valid JSON Schema: {error.message} at {error.json_path}"
    return None


def prepare(request: Request, capabilities: Capabilities, model: str) -> tuple[Request, str]:
    """The request as ``model`` should get it, and how the schema is asked for (for the trace)."""
    params = request.params
    schema = params.output_schema
    if schema is None:
        return request, ""
    if params.response_format is not None:
        return request, "response_format given: sent as it is; the answer is validated against the schema"
    native = capabilities.structured_output.value
    if native and schema.get("type") == "object":
        strict = strict_compatible(schema)
        fmt = {"type": "json_schema", "json_schema": {"name": schema_name(schema), "schema": _plain(schema), "strict": strict}}
        how = "native structured output, strict" if strict else (
            "native structured output, not strict (strict needs every object closed with additionalProperties: false "
            "and every property required)")
        return request.with_params(params.merged(response_format=fmt)), how
    why = ("its root is not an object" if schema.get("type") != "object" and native
           else f"{model} has no native structured output" if native is False
           else f"whether {model} has native structured output is unknown (a profile's capabilities: can say)")
    messages = (*request.messages[:-1], Message("system", instructions(schema)), request.messages[-1])
    return Request(messages, params, request.metadata, request.tags), f"schema sent as instructions: {why}"


def instructions(schema: Mapping[str, Any]) -> str:
    return ("Answer with exactly one JSON value that matches this JSON Schema, and nothing else: no prose, "
            "no code fence.\n" + json.dumps(_plain(schema), ensure_ascii=False))


def answer_problems(schema: Mapping[str, Any], completion: Completion) -> tuple[str, ...]:
    """Why the answer does not match ``schema`` (at most ``MAX_PROBLEMS``); empty when it does,
    or when the answer calls tools instead."""
    if completion.tool_calls:
        return ()
    try:
        value = parse_json_answer(completion.text)
    except ValueError as error:
        return (f"not one JSON value: {error}",)
    except RecursionError:
        return ("JSON nested too deeply to validate",)
    errors = sorted(_validator(json.dumps(_plain(schema), sort_keys=True)).iter_errors(value), key=lambda e: list(e.absolute_path))
    return tuple(f"{error.json_path}: {_clip(error.message)}" for error in errors[:MAX_PROBLEMS])


def reask(request: Request, answer: str, problems: tuple[str, ...]) -> Request:
    """``request`` with the invalid answer and what is wrong with it, asking once more."""
    listed = "\n".join(f"- {problem}" for problem in problems)
    correction = f"Your answer does not match the JSON Schema:\n{listed}\nAnswer again with only the corrected JSON."
    return Request((*request.messages, Message("assistant", answer), Message("user", correction)), request.params, request.metadata, request.tags)


def strict_compatible(schema: Any) -> bool:
    """Whether ``schema`` meets OpenAI's strict mode: every object schema closed
    (``additionalProperties: false``) with every property required."""
    if isinstance(schema, list):
        return all(strict_compatible(item) for item in schema)
    if not isinstance(schema, Mapping):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(schema.get("required") or ()) != set(properties):
            return False
    return all(strict_compatible(value) for key, value in schema.items() if key not in ("enum", "const", "default", "examples"))


def schema_name(schema: Mapping[str, Any]) -> str:
    """A name for the schema as OpenAI wants one (``^[a-zA-Z0-9_-]{1,64}$``): its title, else ``answer``."""
    title = schema.get("title")
    name = _NAME.sub("_", title)[:64] if isinstance(title, str) and title.strip() else ""
    return name or "answer"


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    """A validator per schema (a batch validates every row against the same one)."""
    from jsonschema import Draft202012Validator, validators

    schema = json.loads(schema_json)
    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
