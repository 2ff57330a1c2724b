"""Reading an answer's body within the provider's limits (``mmo.core.transport_limits``): the
``Content-Encoding`` undone chunk by chunk, never inflating past the size limit
(``BoundedDecoder``), and the chunks of a body counted, decoded and waited for against the
attempt's deadline (``bounded_chunks``, ``read_bounded``).

Both HTTP paths read this way: httpx's (``mmo ask``, streams, a batch behind a proxy) through
``Response.aiter_raw`` and aiohttp's direct JSON POST of a batch (``auto_decompress=False``), so
neither client inflates a body on its own. A breach raises ``LimitExceeded`` (the caller knows the
call and makes it an ``AnswerOverLimit``); reading stops there, so a 1 MB gzip body that inflates
to 1 GiB costs about the limit in memory, not the gigabyte.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import AsyncGenerator, AsyncIterator, Mapping

from mmo.core.transport_limits import describe_bytes


class LimitExceeded(Exception):
    """A body broke a transport limit; the message names it (``mmo.core.transport_limits``)."""


class UnreadableBody(Exception):
    """A body whose ``Content-Encoding`` does not decode (a corrupt gzip stream)."""


# The encodings mmo asks for (``ACCEPT_ENCODING``) and undoes itself; any other is read as is.
ACCEPT_ENCODING = "gzip, deflate"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_STEP = 1 << 20  # bytes of output per zlib call


class _Overflow(Exception):
    """A layer inflated past the room it was given."""


class _Stage:
    """One layer of ``Content-Encoding``. ``deflate`` is zlib-wrapped by the standard, raw by
    some servers: the first bytes decide (as httpx does)."""

    __slots__ = ("_inflater", "_deflate_unsure")

    def __init__(self, encoding: str) -> None:
        gzip = encoding in ("gzip", "x-gzip")
        self._inflater = zlib.decompressobj(_GZIP_WBITS if gzip else zlib.MAX_WBITS)
        self._deflate_unsure = not gzip

    def inflate(self, data: bytes, room: int) -> bytes:
        """Up to ``room + 1`` bytes of output (one byte more than allowed tells the caller),
        inflated ``_STEP`` bytes at a time: zlib builds each output in blocks and copies it once
        more at the end, so one call for the whole room would cost twice the room in memory."""
        pieces: list[bytes] = []
        produced = 0
        while data and produced <= room:
            piece = self._decompress(data, min(_STEP, room + 1 - produced))
            pieces.append(piece)
            produced += len(piece)
            data = self._inflater.unconsumed_tail
        if produced > room:
            # Before joining: the pieces alone are the limit's worth of memory. Dropped before
            # raising, since the error's traceback keeps this frame (and callers keep the error).
            pieces.clear()
            raise _Overflow
        return b"".join(pieces) if len(pieces) != 1 else pieces[0]

    def _decompress(self, data: bytes, most: int) -> bytes:
        try:
            out = self._inflater.decompress(data, most)
        except zlib.error:
            if not self._deflate_unsure:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, most)
        self._deflate_unsure = False
        return out

    def flush(self) -> bytes:
        return self._inflater.flush()


class AnswersInFlight:
    """The decoded bytes that every whole-body read of one client holds at once, against one
    limit: a batch reading many hostile answers together (128 gzip bombs at ``-c 128``) costs
    about this much memory, not 128 times ``max_response_mib``. Each read holds its first
    ``free_per_answer`` bytes outside it, so ordinary answers (kilobytes) never meet it; past
    that, a read that would take the total over ``limit`` fails like an answer over its own limit
    (retryable: the row is sent again later). One event loop reads: no lock is needed."""

    __slots__ = ("limit", "free_per_answer", "held")

    def __init__(self, limit: int = 48 << 20, free_per_answer: int = 1 << 20) -> None:
        self.limit, self.free_per_answer = limit, free_per_answer
        self.held = 0

    def room(self, counted: int, decoded: int) -> int:
        """How many more bytes a read that decoded ``decoded`` (``counted`` of them held here)
        may decode before the shared limit is reached."""
        return self.free_per_answer + self.limit - self.held + counted - decoded

    def grow(self, counted: int, decoded: int) -> int:
        """A read that has decoded ``decoded`` bytes and already holds ``counted`` of them here:
        hold what is past its free share; returns what it holds now."""
        wanted = max(0, decoded - self.free_per_answer)
        if self.held + wanted - counted > self.limit:
            raise LimitExceeded(f"answers being read at once hold more than {describe_bytes(self.limit)} together (max_response_mib)")
        self.held += wanted - counted
        return wanted

    def release(self, counted: int) -> None:
        self.held -= counted


class BoundedDecoder:
    """Undoes ``Content-Encoding`` (gzip, deflate; listed layers undone last first) chunk by
    chunk, raising ``LimitExceeded`` as soon as the output would pass ``limit`` bytes in all.
    Raw bytes count against the limit too, so an endless stream of empty compressed blocks ends
    as well. Any encoding other than gzip and deflate is left as it is, as httpx does."""

    __slots__ = ("_stages", "_limit", "_decoded", "_raw", "_shared", "_counted")

    def __init__(self, content_encoding: str | None, limit: int, shared: AnswersInFlight | None = None) -> None:
        layers = [part.strip().lower() for part in (content_encoding or "").split(",")]
        self._stages = [_Stage(layer) for layer in reversed(layers) if layer in ("gzip", "x-gzip", "deflate")]
        self._limit = limit
        self._decoded = 0
        self._raw = 0
        self._shared = shared  # with it, never inflate past what the client's reads may hold together
        self._counted = 0  # bytes of this read held in ``shared``

    def release(self) -> None:
        """Give back what this read holds in the shared bound (once the body is used or dropped)."""
        if self._shared is not None:
            self._shared.release(self._counted)
            self._counted = 0

    def _room(self) -> int:
        room = self._limit - self._decoded
        if self._shared is not None:
            room = min(room, self._shared.room(self._counted, self._decoded))
        return room

    def feed(self, data: bytes) -> bytes:
        self._raw += len(data)
        if self._raw > self._limit:
            raise LimitExceeded(f"answer larger than {describe_bytes(self._limit)} (max_response_mib)")
        return self._through_stages(data, final=False)

    def finish(self) -> bytes:
        """What the decoders still hold once the body has ended."""
        return self._through_stages(b"", final=True)

    def _through_stages(self, data: bytes, *, final: bool) -> bytes:
        room = self._room()  # each call inflates at most this much: memory grows in checked steps
        try:
            for stage in self._stages:
                data = stage.inflate(data, room) if data else b""
                if final:
                    data += stage.flush()
                if len(data) > room:  # each layer is held to the limit
                    raise _Overflow
        except zlib.error as error:
            raise UnreadableBody(f"answer does not decode as its Content-Encoding says: {error}") from None
        except _Overflow:
            data = b""  # not kept alive by the error's traceback (see ``_Stage.inflate``)
            raise self._over(f"answer inflates past {describe_bytes(self._limit)} (max_response_mib)") from None
        if len(data) > room:
            data = b""
            raise self._over(f"answer larger than {describe_bytes(self._limit)} (max_response_mib)")
        self._decoded += len(data)
        if self._shared is not None and self._decoded > self._shared.free_per_answer:
            self._counted = self._shared.grow(self._counted, self._decoded)
        return data

    def _over(self, own: str) -> LimitExceeded:
        """The breach, named: this answer's own limit, or the bound the client's reads share."""
        if self._shared is not None and self._shared.room(self._counted, self._decoded) < self._limit - self._decoded:
            return LimitExceeded(f"answers being read at once hold more than {describe_bytes(self._shared.limit)} together (max_response_mib)")
        return LimitExceeded(own)


def content_encoding(headers: Mapping[str, str]) -> str | None:
    return headers.get("content-encoding") or None


async def bounded_chunks(
    raw: AsyncIterator[bytes], decoder: BoundedDecoder, deadline_at: float | None
) -> AsyncGenerator[bytes, None]:
    """The decoded chunks of ``raw``. With ``deadline_at`` (an event-loop time), every wait for a
    chunk is bounded by it and ends in ``TimeoutError``; the bound covers only the wait, never the
    caller's own work between chunks (a timeout around a ``yield`` would cancel the caller)."""
    iterator = raw.__aiter__()
    while True:
        try:
            if deadline_at is None:
                chunk = await anext(iterator)
            else:
                async with asyncio.timeout_at(deadline_at):
                    chunk = await anext(iterator)
        except StopAsyncIteration:
            break
        decoded = decoder.feed(chunk)
        if decoded:
            yield decoded
    tail = decoder.finish()
    if tail:
        yield tail


async def read_bounded(raw: AsyncIterator[bytes], headers: Mapping[str, str], limit: int, shared: AnswersInFlight | None = None) -> bytes:
    """A whole body, decoded, of at most ``limit`` bytes, and within ``shared`` with every other
    read of the client (the caller bounds the time)."""
    decoder = BoundedDecoder(content_encoding(headers), limit, shared)
    try:
        parts = [decoder.feed(chunk) async for chunk in raw]
        parts.append(decoder.finish())
        return b"".join(parts)
    finally:
        decoder.release()


def check_declared_length(headers: Mapping[str, str], limit: int) -> None:
    """Refuse a body whose ``Content-Length`` already says it is over the limit, unread."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LimitExceeded(f"answer of {int(declared):,} bytes announced, over {describe_bytes(limit)} (max_response_mib)")
