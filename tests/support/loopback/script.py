"""How the loopback server decides what each request gets.

A request is answered by the first of: the next ``Fault`` scripted for its model (a queue per
model, or for ``"*"``, any model), a random fault drawn by a ``FaultMix``, or the default
``Behaviour``. A ``Fault`` describes one response, including plain success (``Fault.ok()``), so a
script reads like the story a test wants to tell::

    server.script("gpt-x", Fault.rate_limited(retry_after_s=1), Fault.ok())
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from tests.support.loopback.wire import ERROR_KINDS, ErrorKind, Shape, kind_for_status, status_for

Action = Literal["answer", "error", "drop", "hang", "cut", "stream_error", "json_stream"]

ANY_MODEL = "*"


@dataclass(frozen=True)
class Behaviour:
    """The default answer: wait ``latency_s`` before the first byte, answer ``text`` (or an echo
    of the last user message), streamed in ``chunks`` pieces ``chunk_delay_s`` apart."""

    latency_s: float = 0.0
    text: str | None = None
    chunks: int = 5
    chunk_delay_s: float = 0.0


@dataclass(frozen=True)
class Fault:
    """One scripted response. Build it with the class methods; ``latency_s`` and ``text`` left
    as None fall back to the server's default ``Behaviour``."""

    action: Action
    latency_s: float | None = None
    text: str | None = None
    http_status: int | None = None
    error: ErrorKind | None = None
    message: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    retry_after_s: float | None = None
    retry_after_ms: int | None = None
    after_chunks: int = 2
    hang_s: float | None = None
    reset: bool = False

    # --- successes -------------------------------------------------------------------------

    @classmethod
    def ok(cls, text: str | None = None, latency_s: float | None = None) -> Fault:
        """A normal answer (optionally with its own text or latency)."""
        return cls("answer", latency_s=latency_s, text=text)

    @classmethod
    def slow(cls, latency_s: float) -> Fault:
        """A normal answer that takes ``latency_s`` before its first byte."""
        return cls("answer", latency_s=latency_s)

    # --- HTTP errors -----------------------------------------------------------------------

    @classmethod
    def status(
        cls,
        code: int,
        *,
        error: ErrorKind | None = None,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        retry_after_s: float | None = None,
        retry_after_ms: int | None = None,
        latency_s: float | None = None,
    ) -> Fault:
        """An HTTP error with the vendor's body for ``error`` (by default the kind the status
        stands for: 429 rate limit, 503/529 overloaded, ...). ``headers`` are sent as given."""
        if error is not None and error not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {error!r}; known: {', '.join(ERROR_KINDS)}")
        return cls("error", latency_s=latency_s, http_status=code, error=error or kind_for_status(code),
                   message=message, headers=tuple((headers or {}).items()),
                   retry_after_s=retry_after_s, retry_after_ms=retry_after_ms)

    @classmethod
    def error_of(cls, kind: ErrorKind, *, headers: dict[str, str] | None = None,
                 retry_after_s: float | None = None) -> Fault:
        """An HTTP error of a kind, with the status each vendor uses for it (Anthropic
        overloaded: 529, Gemini bad key: 400 API_KEY_INVALID, ...)."""
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}; known: {', '.join(ERROR_KINDS)}")
        return cls("error", error=kind, headers=tuple((headers or {}).items()), retry_after_s=retry_after_s)

    @classmethod
    def rate_limited(cls, retry_after_s: float | None = 1.0, retry_after_ms: int | None = None,
                     headers: dict[str, str] | None = None) -> Fault:
        """429 with the retry hint where the vendor puts it (header, or Gemini ``RetryInfo``)."""
        return cls.status(429, headers=headers, retry_after_s=retry_after_s, retry_after_ms=retry_after_ms)

    @classmethod
    def overloaded(cls) -> Fault:
        """Anthropic 529 ``overloaded_error``; 503 for OpenAI and Gemini."""
        return cls.error_of("overloaded")

    @classmethod
    def server_error(cls, code: int = 500) -> Fault:
        return cls.status(code, error="server")

    @classmethod
    def quota_exhausted(cls) -> Fault:
        """OpenAI 429 ``insufficient_quota``, Anthropic 402 ``billing_error``, Gemini per-day 429."""
        return cls.error_of("quota")

    @classmethod
    def auth_failed(cls) -> Fault:
        return cls.error_of("auth")

    @classmethod
    def model_not_found(cls) -> Fault:
        return cls.error_of("not_found")

    @classmethod
    def context_too_long(cls) -> Fault:
        return cls.error_of("context_too_long")

    # --- broken connections ----------------------------------------------------------------

    @classmethod
    def drop(cls, reset: bool = False) -> Fault:
        """Close the connection before any response byte (``reset``: with a TCP RST)."""
        return cls("drop", reset=reset)

    @classmethod
    def hang(cls, max_s: float | None = None) -> Fault:
        """Never answer: hold the connection until the client gives up, ``max_s`` passes or the
        server stops."""
        return cls("hang", hang_s=max_s)

    @classmethod
    def cut(cls, after_chunks: int = 2) -> Fault:
        """Send 200 and ``after_chunks`` text events (or half a JSON body), then close."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def stream_error(cls, error: ErrorKind = "overloaded", after_chunks: int = 2) -> Fault:
        """A 200 stream that carries the vendor's error event after ``after_chunks`` text events.
        A non-streaming request gets a 200 whose body is the vendor's error object."""
        return cls("stream_error", error=error, after_chunks=after_chunks)

    @classmethod
    def json_stream(cls, error: ErrorKind | None = None) -> Fault:
        """A stream request answered with ``application/json`` instead of an event stream, as a
        gateway that drops Gemini's ``alt=sse`` makes it: Gemini's chunks as one JSON array
        (with the vendor's error object after the first chunk when ``error`` is given); the other
        vendors' whole completion object."""
        return cls("json_stream", error=error)

    @classmethod
    def parse(cls, label: str, *, retry_after_s: float | None = 1.0, slow_s: float = 1.0) -> Fault:
        """A fault from its short name: an HTTP status ("429", "529"), an error kind
        ("overloaded"), or one of ok, slow, drop, reset, hang, cut, stream_error."""
        simple = {"ok": cls.ok(), "slow": cls.slow(slow_s), "drop": cls.drop(), "reset": cls.drop(reset=True),
                  "hang": cls.hang(), "cut": cls.cut(), "stream_error": cls.stream_error()}
        if label in simple:
            return simple[label]
        if label.isdigit():
            code = int(label)
            return cls.status(code, retry_after_s=retry_after_s if code == 429 else None)
        if label in ERROR_KINDS:
            return cls.error_of(label, retry_after_s=retry_after_s if label == "rate_limit" else None)  # type: ignore[arg-type]
        raise ValueError(f"unknown fault {label!r}")

    def label(self, shape: Shape) -> str:
        """The name this fault is counted under in the stats: the HTTP status for errors."""
        if self.action == "answer":
            return "slow" if self.latency_s else "ok"
        if self.action == "error":
            return str(self.resolved_status(shape))
        return self.action if not (self.action == "drop" and self.reset) else "reset"

    def resolved_status(self, shape: Shape) -> int:
        assert self.error is not None
        return self.http_status if self.http_status is not None else status_for(shape, self.error)


@dataclass(frozen=True)
class FaultMix:
    """Random fault injection: each request not scripted gets, with probability ``rate``, one
    of ``kinds`` (labels as for ``Fault.parse``), drawn from a generator seeded by ``seed``."""

    rate: float = 0.05
    kinds: tuple[str, ...] = ("429", "500", "drop", "hang")
    seed: int = 1
    retry_after_s: float | None = 1.0
    slow_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not self.kinds:
            raise ValueError("kinds must name at least one fault")
        for kind in self.kinds:
            Fault.parse(kind)  # fail at construction, not on the 5,000th request

    def faults(self) -> tuple[Fault, ...]:
        return tuple(Fault.parse(k, retry_after_s=self.retry_after_s, slow_s=self.slow_s) for k in self.kinds)


class Script:
    """The per-model queues, the random mix and the default, behind one lock: tests script from
    their own thread while the server's loop consumes."""

    def __init__(self, default: Behaviour, mix: FaultMix | None) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {}
        self._default = default
        self._set_mix(mix)

    def _set_mix(self, mix: FaultMix | None) -> None:
        self._mix = mix
        self._mix_faults = mix.faults() if mix else ()
        self._rng = random.Random(mix.seed if mix else 0)

    @property
    def default(self) -> Behaviour:
        return self._default

    def set_default(self, behaviour: Behaviour) -> None:
        self._default = behaviour

    def set_mix(self, mix: FaultMix | None) -> None:
        with self._lock:
            self._set_mix(mix)

    def push(self, model: str, faults: tuple[Fault, ...]) -> None:
        with self._lock:
            self._queues.setdefault(model, deque()).extend(faults)

    def pending(self, model: str | None = None) -> int:
        """Scripted faults not yet consumed (for one model, or all)."""
        with self._lock:
            if model is not None:
                return len(self._queues.get(model, ()))
            return sum(len(q) for q in self._queues.values())

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def choose(self, model: str) -> Fault:
        with self._lock:
            queue = self._queues.get(model) or self._queues.get(ANY_MODEL)
            if queue:
                return queue.popleft()
            if self._mix is not None and self._rng.random() < self._mix.rate:
                return self._rng.choice(self._mix_faults)
        return _OK


_OK = Fault.ok()


@dataclass(frozen=True)
class Plan:
    """A fault with the default behaviour filled in: exactly what the server will do."""

    fault: Fault
    latency_s: float
    text: str | None
    chunks: int
    chunk_delay_s: float


def plan_for(fault: Fault, default: Behaviour) -> Plan:
    latency = fault.latency_s if fault.latency_s is not None else default.latency_s
    text = fault.text if fault.text is not None else default.text
    return Plan(fault, latency, text, max(1, default.chunks), default.chunk_delay_s)


__all__ = ["ANY_MODEL", "Behaviour", "Fault", "FaultMix", "Plan", "Script", "plan_for"]
