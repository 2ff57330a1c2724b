"""What the three batch endpoints do alike: checking a job's ``custom_id``\\ s before anything is
sent, turning one vendor result into an ``ItemResult`` through the live parser, and reading the
loosely typed numbers and times of a job's status.

A result line is read like a live answer: the adapter's own ``parse_answer`` (so a batch answer
is the ``Completion`` a live call gives, the key scrubbed out the same way) and its own
``error_from_payload`` (so a refused request is the error the live API would have raised). A line
that is not a JSON object naming a request is skipped: it answers nothing mmo can attribute, and
the request it belonged to stays without a result (the caller sends it again).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable, Sequence

from mmo.core.errors import AnswerOverLimit, ProviderError
from mmo.providers.batch_api import BatchItem, ItemResult
from mmo.providers.batch_http import BatchWire
from mmo.providers.bounded_body import LimitExceeded
from mmo.providers.call_progress import Stopwatch
from mmo.providers.http_errors import CallTarget
from mmo.providers.wire import WireAnswer
from mmo.providers.wire_json import parse_json

CUSTOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

AnswerParser = Callable[[Any, CallTarget], WireAnswer]


def check_items(items: Sequence[BatchItem]) -> None:
    """A job's requests as every vendor accepts them: at least one, each ``custom_id`` of 1-64
    letters, digits, ``_`` or ``-`` (Anthropic refuses longer ones with an unhelpful 400) and
    unique (a duplicate hangs some servers' jobs). A caller's mistake: ``ValueError``."""
    if not items:
        raise ValueError("a batch job needs at least one request")
    seen: set[str] = set()
    for item in items:
        if not CUSTOM_ID.fullmatch(item.custom_id):
            raise ValueError(f"custom_id {item.custom_id!r} must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
        if item.custom_id in seen:
            raise ValueError(f"custom_id {item.custom_id!r} appears twice in one job")
        seen.add(item.custom_id)


def answer_result(custom_id: str, data: Any, parse: AnswerParser, wire: BatchWire, model: str) -> ItemResult:
    """One vendor answer as the ``Completion`` a live call would give, or the error it holds."""
    target = wire.target(model)
    try:
        answer = parse(data, target).shown(target)
    except ProviderError as error:
        return ItemResult(custom_id, error=error)
    except RecursionError:
        return ItemResult(custom_id, error=target.error(AnswerOverLimit, "answer nested too deeply to read"))
    return ItemResult(custom_id, completion=answer.completion(wire.model_id(model), Stopwatch()))


def json_object(line: bytes, wire: BatchWire) -> dict[str, Any] | None:
    """One results line as a JSON object (depth-checked), or None for anything else."""
    try:
        value = parse_json(line, wire.limits.max_json_depth)
    except (LimitExceeded, ValueError):
        return None
    return value if isinstance(value, dict) else None


def as_object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (a field a server left out or mistyped)."""
    return value if isinstance(value, dict) else {}


def result_id(value: Any) -> str | None:
    """A custom_id as a vendor returns it: a string of the shape mmo sends, else None."""
    return value if isinstance(value, str) and CUSTOM_ID.fullmatch(value) else None


def whole_number(value: Any) -> int | None:
    """A count: a JSON number, or a decimal string (Google writes int64 as strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def unix_seconds(value: Any) -> float | None:
    """A time as Unix seconds: a number (OpenAI) or an RFC 3339 string (Anthropic, Google)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        text = value.replace("Z", "+00:00").replace("z", "+00:00")
        head, dot, rest = text.partition(".")
        if dot:  # Google writes nanoseconds; Python reads at most microseconds
            digits = len(rest) - len(rest.lstrip("0123456789"))
            text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            return None
    return None
