"""A scripted provider for strategy tests: queued replies and errors per model, no HTTP.

::

    fake = FakeProvider()
    fake.script("small", RateLimited("slow down", retry_after=0.01), FakeReply("Paris"))
    fake.script("big", default=FakeReply("fallback answer"))

Each call takes the next outcome queued for its model: a ``FakeReply``, an exception instance
(raised at once) or a ``FakeError`` (raised after a delay). When a model's queue is empty the
``default`` given to ``script`` answers every further call; with no default the call raises
``ModelNotFound`` saying nothing is scripted, which a test sees as a plain provider error.

Every call is recorded in ``calls`` (also calls that fail or are cancelled; a stream when its
iteration starts), and every call cancelled while it waited in ``cancelled``. Delays use ``asyncio.sleep``, so hedges and timeouts
can cancel them; latency and time to first token are measured, not invented.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping, Sequence

from mmo.core.errors import ModelNotFound, StreamCut
from mmo.core.types import UNKNOWN_COST, Completion, Cost, Delta, FinishReason, RateLimitInfo, Request, ToolCall, Usage


@dataclass(frozen=True, slots=True)
class FakeReply:
    """A scripted answer. ``chunks`` are the stream's text pieces (default: the text split into
    words; when given, their concatenation is the text). ``cut_after_chunks=n`` makes a stream
    raise ``StreamCut`` after n chunks. ``delay_s`` passes before the answer (or the first chunk),
    ``chunk_delay_s`` between chunks. ``cost`` lets cost-aware tests skip the price library."""

    text: str = ""
    usage: Usage = field(default_factory=Usage)
    finish_reason: FinishReason = "stop"
    delay_s: float = 0.0
    chunks: Sequence[str] | None = None
    cut_after_chunks: int | None = None
    avg_logprob: float | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    cost: Cost = UNKNOWN_COST
    chunk_delay_s: float = 0.0
    rate_limits: RateLimitInfo | None = None

    def __post_init__(self) -> None:
        if self.chunks is None:
            return
        chunks = tuple(self.chunks)
        joined = "".join(chunks)
        if self.text and self.text != joined:
            raise ValueError(f"FakeReply chunks join to {joined!r}, not the text {self.text!r}")
        object.__setattr__(self, "chunks", chunks)
        object.__setattr__(self, "text", joined)

    def stream_chunks(self) -> tuple[str, ...]:
        if self.chunks is not None:
            return tuple(self.chunks)
        return tuple(re.findall(r"\s*\S+\s*", self.text)) or ((self.text,) if self.text else ())


@dataclass(frozen=True, slots=True)
class FakeError:
    """An error raised after ``delay_s`` seconds (a timeout that takes a while, a slow 500)."""

    error: BaseException
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class FakeCall:
    model: str
    request: Request
    stream: bool


Outcome = FakeReply | FakeError | BaseException
_NO_DEFAULT: Any = object()


class FakeProvider:
    """A ``Provider`` whose answers a test scripts in advance."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.calls: list[FakeCall] = []
        self.cancelled: list[str] = []
        self._queues: dict[str, deque[Outcome]] = {}
        self._defaults: dict[str, Outcome] = {}

    def script(self, model: str, *outcomes: Outcome, default: Outcome = _NO_DEFAULT) -> FakeProvider:
        """Queue outcomes for ``model`` (after any already queued); ``default`` answers once the
        queue is empty. Returns the provider, so scripts can be chained."""
        for outcome in outcomes:
            _check_outcome(outcome)
        self._queues.setdefault(model, deque()).extend(outcomes)
        if default is not _NO_DEFAULT:
            _check_outcome(default)
            self._defaults[model] = default
        return self

    def pending(self, model: str) -> int:
        """How many queued outcomes ``model`` has not used yet (the default is not counted)."""
        return len(self._queues.get(model, ()))

    def calls_to(self, model: str) -> list[FakeCall]:
        return [call for call in self.calls if call.model == model]

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "fake", "name": self.name}

    async def complete(self, request: Request, model: str) -> Completion:
        self.calls.append(FakeCall(model, request, stream=False))
        started = time.perf_counter()
        reply = await self._reply(model)
        await self._sleep(reply.delay_s, model)
        return self._completion(reply, model, started, ttft_ms=None)

    async def stream(self, request: Request, model: str) -> AsyncIterator[Delta]:
        self.calls.append(FakeCall(model, request, stream=True))
        started = time.perf_counter()
        reply = await self._reply(model)
        await self._sleep(reply.delay_s, model)
        ttft_ms: float | None = None
        sent: list[str] = []
        for index, chunk in enumerate(reply.stream_chunks()):
            if reply.cut_after_chunks is not None and index >= reply.cut_after_chunks:
                break
            if index:
                await self._sleep(reply.chunk_delay_s, model)
            ttft_ms = _elapsed_ms(started) if ttft_ms is None else ttft_ms
            sent.append(chunk)
            yield Delta(text=chunk)
        if reply.cut_after_chunks is not None:
            raise StreamCut("scripted stream cut", partial_text="".join(sent), provider=self.name, model=model)
        yield Delta(final=self._completion(reply, model, started, ttft_ms=ttft_ms))

    async def _reply(self, model: str) -> FakeReply:
        """The next scripted outcome for ``model``: a reply is returned, an error raised."""
        outcome = self._next_outcome(model)
        if isinstance(outcome, FakeError):
            await self._sleep(outcome.delay_s, model)
            outcome = outcome.error
        if isinstance(outcome, BaseException):
            # A default error is raised again and again: start each time from a clean traceback.
            raise outcome.with_traceback(None)
        return outcome

    def _next_outcome(self, model: str) -> Outcome:
        queue = self._queues.get(model)
        if queue:
            return queue.popleft()
        if model in self._defaults:
            return self._defaults[model]
        scripted = ", ".join(sorted(set(self._queues) | set(self._defaults))) or "none"
        raise ModelNotFound(
            f"nothing is scripted for model {model!r} on fake provider {self.name!r} "
            f"(models with a script: {scripted}); call script({model!r}, ...) first",
            provider=self.name,
            model=model,
        )

    async def _sleep(self, seconds: float, model: str) -> None:
        if seconds <= 0:
            return
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.append(model)
            raise

    def _completion(self, reply: FakeReply, model: str, started: float, *, ttft_ms: float | None) -> Completion:
        return Completion(
            text=reply.text,
            model_id=f"{self.name}:{model}",
            usage=reply.usage,
            finish_reason=reply.finish_reason,
            tool_calls=reply.tool_calls,
            reported_model=model,
            cost=reply.cost,
            latency_ms=_elapsed_ms(started),
            ttft_ms=ttft_ms,
            avg_logprob=reply.avg_logprob,
            rate_limits=reply.rate_limits,
        )


def _check_outcome(outcome: Any) -> None:
    if not isinstance(outcome, (FakeReply, FakeError, BaseException)):
        raise TypeError(f"a scripted outcome is a FakeReply, a FakeError or an exception, not {type(outcome).__name__}")


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
