"""``json`` and ``json_schema``: the whole answer is one JSON value (optionally inside one code
fence), and it validates against a JSON Schema (``$schema`` picks the draft, default 2020-12;
``format`` is checked). A schema given as a string is a file path (JSON or YAML), resolved
against the current working directory when the profile is built."""

from __future__ import annotations

from typing import Any

from mmo.core.errors import ConfigError
from mmo.core.types import Completion
from mmo.strategies.gates.kinds import GateKind
from mmo.strategies.gates.verdict import GateResult, LocalGate, clip


class JsonValidGate(LocalGate):
    name = "json_valid"

    def verdict(self, completion: Completion) -> GateResult:
        from mmo.strategies.extract import parse_json_answer

        try:
            parse_json_answer(completion.text)
        except ValueError as error:
            return self.failed(f"not valid JSON: {error}")
        return self.passed("valid JSON")


class JsonSchemaGate(LocalGate):
    name = "json_schema"

    def __init__(self, validator: Any, source: str) -> None:
        self.validator = validator
        self.source = source

    @classmethod
    def from_spec(cls, value: dict[str, Any] | str) -> JsonSchemaGate:
        if isinstance(value, str):
            schema, source = read_schema_file(value)
        else:
            schema, source = value, "inline schema"
        return cls(schema_validator(schema, source), source)

    def verdict(self, completion: Completion) -> GateResult:
        from jsonschema.exceptions import best_match

        from mmo.strategies.extract import parse_json_answer

        try:
            value = parse_json_answer(completion.text)
        except ValueError as error:
            return self.failed(f"not valid JSON: {error}")
        mismatch = best_match(self.validator.iter_errors(value))
        if mismatch is None:
            return self.passed(f"matches the {self.source}")
        return self.failed(f"does not match the {self.source} at {mismatch.json_path}: {clip(mismatch.message)}")


def read_schema_file(value: str) -> tuple[Any, str]:
    """A JSON Schema from a JSON or YAML file. A relative path is resolved against the current
    working directory (a node is built without knowing which directory its profile came from)."""
    import json
    from pathlib import Path

    given = Path(value).expanduser()
    path = given if given.is_absolute() else Path.cwd() / given
    where = f"accept.json_schema file {value!r} ({path}; a relative path is resolved against the current directory)"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{where}: cannot read it: {error.strerror or error}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text), f"schema {value}"
        except yaml.YAMLError as error:
            raise ConfigError(f"{where}: not valid YAML: {error}") from None
    try:
        return json.loads(text), f"schema {value}"
    except ValueError as error:
        raise ConfigError(f"{where}: not valid JSON: {error}") from None


def schema_validator(schema: Any, source: str) -> Any:
    """A validator for ``schema`` (its ``$schema`` picks the draft; 2020-12 by default), checked
    now: an invalid schema is a ``ConfigError`` before anything is spent."""
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import SchemaError

    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator_class.check_schema(schema)
    except SchemaError as error:
        raise ConfigError(f"accept.json_schema ({source}) is not a valid JSON Schema: {error.message} at {error.json_path}") from None
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _valid(builder: Any, value: bool | None) -> JsonValidGate | None:
    return JsonValidGate() if value else None


def _schema(builder: Any, value: dict[str, Any] | str | None) -> JsonSchemaGate | None:
    return None if value is None else JsonSchemaGate.from_spec(value)


GATES = (
    GateKind("json_valid", bool | None, _valid, {"alias": "json", "description": "the answer parses as JSON"}),
    GateKind("json_schema", dict[str, Any] | str | None, _schema, {"description": "a JSON Schema, inline or a file path"}),
)
