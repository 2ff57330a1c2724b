"""Reading how long a provider asks us to wait: ``Retry-After`` headers, Go durations, and the
rate-limit headers (``x-ratelimit-*``, ``anthropic-ratelimit-*``) of an answer."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Mapping

from mmo.core.types import RateLimitInfo

_GO_DURATION = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|μs|ns)")
_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ns": 1e-9}


def parse_go_duration(text: str | None) -> float | None:
    """Seconds in a Go duration string (``6m0s``, ``1h2m3.5s``, ``2ms``, ``0``) as OpenAI sends in
    ``x-ratelimit-reset-*``; also reads protobuf durations (Gemini's ``"37s"``). ``None`` when the
    text is not one, or is negative."""
    text = (text or "").strip()
    if text == "0":
        return 0.0
    if not text or _GO_DURATION.sub("", text):
        return None
    total = 0.0
    for piece in _GO_DURATION.findall(text):
        unit = piece.lstrip("0123456789.")
        total += float(piece[: len(piece) - len(unit)]) * _GO_UNITS[unit]
    return total


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` first, then ``retry-after`` (seconds or an HTTP
    date). Never negative; ``None`` when absent or unreadable."""
    millis = _finite(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _finite(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse_rate_limits(headers: Mapping[str, str], *, now: datetime | None = None) -> RateLimitInfo | None:
    """OpenAI-style ``x-ratelimit-*`` (Go-duration resets) or Anthropic ``anthropic-ratelimit-*``
    (RFC 3339 resets); ``None`` when the answer carries neither."""
    names = [k.lower() for k in headers]  # one pass over the names (httpx.Headers rebuilds them per pass)
    if any(k.startswith("anthropic-ratelimit-") for k in names):
        at = now or datetime.now(UTC)

        def anthropic(kind: str, part: str) -> str | None:
            return headers.get(f"anthropic-ratelimit-{kind}-{part}")

        return RateLimitInfo(
            _count(anthropic("requests", "limit")), _count(anthropic("requests", "remaining")), _until(anthropic("requests", "reset"), at),
            _count(anthropic("tokens", "limit")), _count(anthropic("tokens", "remaining")), _until(anthropic("tokens", "reset"), at),
        )
    if any(k.startswith("x-ratelimit-") for k in names):

        def openai(part: str) -> str | None:
            return headers.get(f"x-ratelimit-{part}")

        return RateLimitInfo(
            _count(openai("limit-requests")), _count(openai("remaining-requests")), parse_go_duration(openai("reset-requests")),
            _count(openai("limit-tokens")), _count(openai("remaining-tokens")), parse_go_duration(openai("reset-tokens")),
        )
    return None


def _count(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


def _until(text: str | None, now: datetime) -> float | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
