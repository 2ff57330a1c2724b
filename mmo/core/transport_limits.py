"""How much one HTTP attempt may cost in bytes and time, whatever the endpoint (or a proxy in
front of it) sends: ``TransportLimits``, one per provider (a profile's ``providers: NAME:
transport:`` block overrides the defaults).

* ``max_response_bytes``: the decoded size of one answer (a stream's events counted together, an
  error body too). A compressed body is inflated chunk by chunk against this bound, so a small
  gzip body that would inflate to gigabytes costs the memory of the limit, not of the payload.
* ``max_event_bytes``: one server-sent event (its lines until the blank line that ends it).
* ``max_json_depth``: the nesting of brackets in one JSON answer or event, checked before it is
  parsed, so a deeply nested answer is a failed call and never a ``RecursionError``.
* ``connect_timeout_s``: opening the connection (TCP and TLS).
* ``read_idle_timeout_s``: the longest silence between two reads, the wait for the answer's first
  byte included.
* ``attempt_deadline_s``: the whole attempt, from sending to the last byte, streams included.

A request's ``timeout_s`` (``-p timeout_s=N``, a profile's ``defaults:``, a batch row's params) is
that request's deadline instead of ``attempt_deadline_s``, and then also lifts the idle bound to
itself when it is longer: a slow reasoning model answering a non-streamed call says nothing until
it is done, and whoever sets ``timeout_s: 600`` means to wait that long.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024

DEFAULT_MAX_RESPONSE_MIB = 32
DEFAULT_MAX_EVENT_MIB = 8
DEFAULT_MAX_JSON_DEPTH = 256
MAX_JSON_DEPTH_CEILING = 512  # deeper would leave too little of Python's recursion limit to read it
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_READ_IDLE_TIMEOUT_S = 60.0
DEFAULT_ATTEMPT_DEADLINE_S = 900.0


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """The bounds of one HTTP attempt; see the module docstring."""

    max_response_bytes: int = DEFAULT_MAX_RESPONSE_MIB * MIB
    max_event_bytes: int = DEFAULT_MAX_EVENT_MIB * MIB
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_idle_timeout_s: float = DEFAULT_READ_IDLE_TIMEOUT_S
    attempt_deadline_s: float = DEFAULT_ATTEMPT_DEADLINE_S
    deadline_from_request: bool = False  # set by ``for_attempt``: the deadline is a request's ``timeout_s``

    def for_attempt(self, timeout_s: float | None) -> TransportLimits:
        """These limits for a request with ``timeout_s`` (see the module docstring)."""
        if timeout_s is None:
            return self
        idle = max(self.read_idle_timeout_s, timeout_s)
        return TransportLimits(self.max_response_bytes, self.max_event_bytes, self.max_json_depth, self.connect_timeout_s, idle, timeout_s, True)

    @property
    def deadline_name(self) -> str:
        """The setting the deadline comes from, for error messages."""
        return "timeout_s" if self.deadline_from_request else "attempt_deadline_s"


DEFAULT_TRANSPORT_LIMITS = TransportLimits()


def describe_bytes(count: int) -> str:
    """A byte limit as a message names it: ``32 MiB``, ``512 KiB``, ``1,500 bytes``."""
    if count and count % MIB == 0:
        return f"{count // MIB} MiB"
    if count and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count:,} bytes"
