"""The times ``mmo logs --since/--until`` and ``mmo logs stats`` take: an ISO date or time
(``2026-12-01``, ``2026-12-01T08:00``, with an offset or taken as UTC), a span back from now
(``30m``, ``24h``, ``7d``, ``2w``), or ``today`` / ``yesterday`` (UTC days, as the daily budget
counts them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from mmo.core.errors import ConfigError

_SPAN = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_moment(text: str, flag: str, now: datetime | None = None) -> datetime:
    """A ``--since`` / ``--until`` value as a UTC time; a ``ConfigError`` saying what is accepted."""
    now = now or datetime.now(UTC)
    value = text.strip().lower()
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    if value == "today":
        return midnight
    if value == "yesterday":
        return midnight - timedelta(days=1)
    span = _SPAN.match(value)
    if span:
        return now - timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: give an ISO date or time (2026-12-01, 2026-12-01T08:00), a span back from now "
                          "(30m, 24h, 7d, 2w), today or yesterday") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
