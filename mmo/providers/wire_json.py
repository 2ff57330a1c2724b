"""Small JSON helpers for vendor bodies: frozen params as plain JSON, ``Params.extra`` merged
into a request body, an answer parsed within a nesting limit (``parse_json``), the reader of an
answer's token counts (``TokenCounts``, which flags counts that cannot be right), and the lenient
readers of indices and tool arguments."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Mapping

from mmo.core.usage import MAX_PLAUSIBLE_TOKENS
from mmo.providers.bounded_body import LimitExceeded

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
    """A count from a vendor body (an index): missing, null or junk is 0."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


class TokenCounts:
    """Token counts read from a vendor's usage object, noting any that cannot be right (negative,
    not a number, more than ``MAX_PLAUSIBLE_TOKENS``): those count 0 and make the usage
    ``suspect``, so it is flagged and never priced. A missing or null count is 0, as vendors
    leave out what does not apply."""

    def __init__(self, usage: Mapping[str, Any]) -> None:
        self.usage = usage
        self.problems: list[str] = []

    def __call__(self, name: str, within: Mapping[str, Any] | None = None) -> int:
        value = (self.usage if within is None else within).get(name)
        if value is None:
            return 0
        number = _number(value)
        if number is None:
            self.problems.append(f"{name}={_shown(value)} is not a whole number")
        elif number < 0:
            self.problems.append(f"{name}={_shown(value)} is negative")
        elif number > MAX_PLAUSIBLE_TOKENS:
            self.problems.append(f"{name}={_shown(value)} is more than {MAX_PLAUSIBLE_TOKENS:,}")
        else:
            return int(number)
        return 0

    @property
    def suspect(self) -> str | None:
        return "; ".join(self.problems) or None


def _number(value: Any) -> float | None:
    """A finite whole number (an int, an integral float, or digits in a string), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return value
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def json_text(value: Any) -> str:
    """Tool-call arguments that arrived as an object, as the JSON text ``ToolCall`` keeps."""
    return _COMPACT_TEXT(value)


_COMPACT_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def arguments_object(arguments: str) -> dict[str, Any]:
    """Tool-call arguments as the object Anthropic and Gemini want. Arguments another model wrote
    as invalid JSON (or as a non-object) are kept under one key rather than dropped."""
    try:
        value = json.loads(arguments or "{}")
    except (ValueError, RecursionError):  # RecursionError: nested past what Python can parse
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"value": value}


# A JSON string, escapes included (the unrolled form: linear, no backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


def nested_deeper_than(text: str | bytes, limit: int) -> bool:
    """Whether JSON ``text`` nests more than ``limit`` brackets deep. A body with no more opening
    brackets than the limit cannot: two C-speed counts decide that for nearly every answer. Only
    a body with more is scanned: its strings removed, its brackets followed."""
    if isinstance(text, str):
        if text.count("[") + text.count("{") <= limit:
            return False
        text = text.encode("utf-8", "replace")
    elif text.count(b"[") + text.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _JSON_STRING.sub(b"", text).translate(None, _NOT_BRACKETS):
        depth = depth + 1 if bracket in _OPENERS else depth - 1
        if depth > limit:
            return True
    return False


def parse_json(text: str | bytes, max_depth: int) -> Any:
    """``json.loads`` of an answer or event, refusing one nested deeper than ``max_depth`` with
    ``LimitExceeded`` before parsing it (a deep document would raise ``RecursionError`` in the
    parser, or later in whatever walks it). Raises ``ValueError`` when it is not JSON."""
    if nested_deeper_than(text, max_depth):
        raise LimitExceeded(f"JSON nested deeper than {max_depth} levels (max_json_depth)")
    try:
        return json.loads(text)
    except RecursionError:  # a limit close to Python's recursion limit, on a deep call stack
        raise LimitExceeded(f"JSON nested too deeply to read (max_json_depth is {max_depth})") from None
