"""``-p key=value`` pairs from the command line (or a batch row's ``params``) to ``Params``."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from mmo.core.errors import ConfigError
from mmo.core.types import Params, frozen_mapping

_INT = {"max_tokens", "seed", "top_logprobs"}
_FLOAT = {"temperature", "top_p", "timeout_s"}
_BOOL = {"logprobs"}
_TEXT = {"reasoning_effort"}


def parse_param_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["temperature=0.2", "stop=END"]`` -> a mapping; values that read as JSON are JSON."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"parameter {pair!r} is not key=value (for example -p temperature=0.2)")
        out[name.strip()] = _json_or_text(raw)
    return out


def params_from_mapping(values: Mapping[str, Any]) -> Params:
    """Known names become typed fields; any other name goes to ``extra`` (sent verbatim)."""
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, value in values.items():
        try:
            if name in _INT:
                fields[name] = int(value)
            elif name in _FLOAT:
                fields[name] = float(value)
            elif name in _BOOL:
                fields[name] = _as_bool(name, value)
            elif name in _TEXT:
                fields[name] = str(value)
            elif name == "stop":
                fields[name] = tuple(value) if isinstance(value, list) else (str(value),)
            elif name == "response_format":
                if not isinstance(value, dict):
                    raise ValueError("expected a JSON object")
                fields[name] = frozen_mapping(value)
            elif name == "extra" and isinstance(value, dict):
                extra.update(value)
            else:
                extra[name] = value
        except (TypeError, ValueError) as error:
            raise ConfigError(f"parameter {name}={value!r}: {error}") from None
    return Params(**fields, extra=frozen_mapping(extra))


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"1", "true", "yes", "on"}:
        return True
    if str(value).lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true or false")
