"""Small JSON helpers for vendor bodies: frozen params as plain JSON, ``Params.extra`` merged
into a request body, and the lenient readers of an answer's counts and tool arguments."""

from __future__ import annotations

import json
from typing import Any, Mapping

_SCALARS = frozenset({str, int, float, bool})


def plain_json(value: Any) -> Any:
    """Mappings and tuples (as frozen params hold them) to dicts and lists, for ``json=``."""
    if value is None or type(value) in _SCALARS:
        return value  # the usual case, without the ``Mapping`` check (an ABC: slow to say no)
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    return value


def merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``Params.extra`` merged into a request body. Objects present on both sides are merged key by
    key (so ``{"generationConfig": {"topK": 40}}`` adds to the config instead of replacing it);
    anything else in ``extra`` wins, verbatim."""
    merged = dict(body)
    if not extra:
        return merged
    for key, value in plain_json(extra).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_extra(merged[key], value)
        else:
            merged[key] = value
    return merged


def count(value: Any) -> int:
    """A token count from a vendor body: missing, null or junk is 0."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def json_text(value: Any) -> str:
    """Tool-call arguments that arrived as an object, as the JSON text ``ToolCall`` keeps."""
    return _COMPACT_TEXT(value)


_COMPACT_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def arguments_object(arguments: str) -> dict[str, Any]:
    """Tool-call arguments as the object Anthropic and Gemini want. Arguments another model wrote
    as invalid JSON (or as a non-object) are kept under one key rather than dropped."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}
