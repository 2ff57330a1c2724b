"""Server-sent events from the bytes of a body, each event bounded in size (``EventParser``).

It reads the event-stream format as httpx-sse does (the WHATWG rules: lines end in ``\\r\\n``,
``\\n`` or ``\\r``; ``:`` starts a comment; ``data`` lines join with ``\\n``; a blank line ends an
event; ``id`` persists), but from bytes the caller has already counted and decoded within the
provider's limits, and it refuses an event (or a line still without its end) longer than
``max_event_bytes`` instead of buffering it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmo.core.transport_limits import describe_bytes
from mmo.providers.bounded_body import LimitExceeded


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event, with httpx-sse's fields and defaults (mmo's own: importing httpx-sse imports
    httpx, which a call that does not stream never needs)."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None

    def __post_init__(self) -> None:
        if not self.event:  # an event without a type is a "message" (as httpx-sse has it)
            object.__setattr__(self, "event", "message")


class EventParser:
    """Feed it the body's bytes as they come; it returns the events they complete."""

    __slots__ = ("_limit", "_partial", "_partial_bytes", "_event_bytes", "_cr_pending", "_event", "_data", "_last_id", "_retry")

    def __init__(self, max_event_bytes: int) -> None:
        self._limit = max_event_bytes
        self._partial: list[bytes] = []  # a line whose end has not arrived yet
        self._partial_bytes = 0
        self._event_bytes = 0  # the complete lines of the event being read
        self._cr_pending = False
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._cr_pending:  # a "\r" that ended the last chunk: maybe half of a "\r\n"
            chunk, self._cr_pending = b"\r" + chunk, False
        if chunk.endswith(b"\r"):
            chunk, self._cr_pending = chunk[:-1], True
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pieces = chunk.split(b"\n")
        if len(pieces) > 1:
            first = b"".join([*self._partial, pieces[0]]) if self._partial else pieces[0]
            self._partial, self._partial_bytes = [], 0
            events = [event for line in (first, *pieces[1:-1]) if (event := self._line(line)) is not None]
        else:
            events = []
        if pieces[-1]:
            self._partial.append(pieces[-1])
            self._partial_bytes += len(pieces[-1])
        self._check_size()
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        self._event_bytes += len(raw) + 1
        self._check_size()
        if raw.startswith(b":"):
            return None
        name, _, value = raw.decode("utf-8", "replace").partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self._event_bytes = 0
        if not (self._event or self._data or self._last_id or self._retry is not None):
            return None
        event = ServerSentEvent(event=self._event, data="\n".join(self._data), id=self._last_id, retry=self._retry)
        self._event, self._data, self._retry = "", [], None
        return event

    def _check_size(self) -> None:
        if self._event_bytes + self._partial_bytes > self._limit:
            raise LimitExceeded(f"stream event larger than {describe_bytes(self._limit)} (max_event_mib)")
