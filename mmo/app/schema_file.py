"""``mmo ask --schema FILE`` and a batch row's ``schema``: a JSON Schema for the answer, read and
checked before anything is spent (``mmo.runtime.structured`` asks for it and validates against
it). A file is JSON, or YAML when it ends in ``.yaml``/``.yml``; at most ``MAX_SCHEMA_FILE_BYTES``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from mmo.core.errors import ConfigError
from mmo.core.json_answer import parse_json_answer
from mmo.core.types import Completion, frozen_mapping
from mmo.runtime.structured import schema_problem
from mmo.spec.input_files import load_json_text, read_small_file

MAX_SCHEMA_FILE_BYTES = 1 << 20


def read_schema_file(path: Path) -> Mapping[str, Any]:
    """The schema in ``path``, checked; a ``ConfigError`` naming the file (and line) otherwise."""
    text = read_small_file(path, "schema file", MAX_SCHEMA_FILE_BYTES)
    if path.suffix.lower() in (".yaml", ".yml"):
        from mmo.config.yaml_lines import parse_yaml

        parsed = parse_yaml(text, str(path), what="a JSON Schema")
        if parsed.problems:
            raise ConfigError(str(parsed.problems[0]))
        data = parsed.data
    else:
        data = load_json_text(text, path)
    problem = schema_problem(data)
    if problem is not None:
        raise ConfigError(f"{problem}: fix the schema (https://json-schema.org/understanding-json-schema)", source=str(path))
    frozen: Mapping[str, Any] = frozen_schema(data)
    return frozen


def checked_schema(value: Any, where: str) -> Mapping[str, Any]:
    """An inline schema (a batch row's ``schema``), checked; ``ValueError`` naming ``where``."""
    problem = schema_problem(value)
    if problem is not None:
        raise ValueError(f"{where}: {problem}")
    frozen: Mapping[str, Any] = frozen_schema(value)
    return frozen


def structured_value(completion: Completion) -> Any:
    """The JSON value of an answer that matched its schema (any code fence around it dropped)."""
    return parse_json_answer(completion.text)


def frozen_schema(value: Any) -> Any:
    """The schema as immutable data (it travels inside frozen ``Params``)."""
    if isinstance(value, dict):
        return frozen_mapping({key: frozen_schema(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(frozen_schema(item) for item in value)
    return value
