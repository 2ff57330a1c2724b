"""``-p key=value`` pairs from the command line as a mapping (``mmo.spec.params`` validates it)."""

from __future__ import annotations

import json
from typing import Any, Iterable

from mmo.core.errors import ConfigError


def parse_param_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["temperature=0.2", "stop=END"]`` -> a mapping; values that read as JSON are JSON."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"parameter {pair!r} is not key=value (for example -p temperature=0.2)")
        try:
            value = _json_or_text(raw)
        except RecursionError:
            raise ConfigError(f"parameter {name.strip()!r} is nested too deeply to read") from None
        if not _encodable(value):
            raise ConfigError(f"parameter {name.strip()!r} holds a lone surrogate (a \\uD800-\\uDFFF escape without its pair), which is not Unicode text")
        out[name.strip()] = value
    return out


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
    except RecursionError:  # brackets nested thousands deep: never a parameter
        raise ConfigError(f"parameter value {raw[:40]!r}... nests too deeply to be a parameter") from None
