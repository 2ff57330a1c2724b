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


class _Stage:
    """One layer of ``Content-Encoding``. ``deflate`` is zlib-wrapped by the standard, raw by
    some servers: the first bytes decide (as httpx does)."""

    __slots__ = ("_inflater", "_deflate_unsure")

    def __init__(self, encoding: str) -> None:
        gzip = encoding in ("gzip", "x-gzip")
        self._inflater = zlib.decompressobj(_GZIP_WBITS if gzip else zlib.MAX_WBITS)
        self._deflate_unsure = not gzip

    def inflate(self, data: bytes, room: int) -> bytes:
        """Up to ``room + 1`` bytes of output: one byte more than allowed tells the caller."""
        try:
            out = self._inflater.decompress(data, room + 1)
        except zlib.error:
            if not self._deflate_unsure:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._inflater.decompress(data, room + 1)
        self._deflate_unsure = False
        return out

    def flush(self) -> bytes:
        return self._inflater.flush()


class BoundedDecoder:
    """Undoes ``Content-Encoding`` (gzip, deflate; listed layers undone last first) chunk by
    chunk, raising ``LimitExceeded`` as soon as the output would pass ``limit`` bytes in all.
    Raw bytes count against the limit too, so an endless stream of empty compressed blocks ends
    as well. Any encoding other than gzip and deflate is left as it is, as httpx does."""

    __slots__ = ("_stages", "_limit", "_decoded", "_raw")

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        layers = [part.strip().lower() for part in (content_encoding or "").split(",")]
        self._stages = [_Stage(layer) for layer in reversed(layers) if layer in ("gzip", "x-gzip", "deflate")]
        self._limit = limit
        self._decoded = 0
        self._raw = 0

    def feed(self, data: bytes) -> bytes:
        self._raw += len(data)
        if self._raw > self._limit:
            raise LimitExceeded(f"answer larger than {describe_bytes(self._limit)} (max_response_mib)")
        return self._through_stages(data, final=False)

    def finish(self) -> bytes:
        """What the decoders still hold once the body has ended."""
        return self._through_stages(b"", final=True)

    def _through_stages(self, data: bytes, *, final: bool) -> bytes:
        try:
            for stage in self._stages:
                data = stage.inflate(data, self._limit - self._decoded) if data else b""
                if final:
                    data += stage.flush()
                if len(data) > self._limit - self._decoded:  # each layer is held to the limit
                    raise LimitExceeded(f"answer inflates past {describe_bytes(self._limit)} (max_response_mib)")
        except zlib.error as error:
            raise UnreadableBody(f"answer does not decode as its Content-Encoding says: {error}") from None
        self._decoded += len(data)
        if self._decoded > self._limit:
            raise LimitExceeded(f"answer larger than {describe_bytes(self._limit)} (max_response_mib)")
        return data


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


async def read_bounded(raw: AsyncIterator[bytes], headers: Mapping[str, str], limit: int) -> bytes:
    """A whole body, decoded, of at most ``limit`` bytes (the caller bounds the time)."""
    decoder = BoundedDecoder(content_encoding(headers), limit)
    parts = [decoder.feed(chunk) async for chunk in raw]
    parts.append(decoder.finish())
    return b"".join(parts)


def check_declared_length(headers: Mapping[str, str], limit: int) -> None:
    """Refuse a body whose ``Content-Length`` already says it is over the limit, unread."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise LimitExceeded(f"answer of {int(declared):,} bytes announced, over {describe_bytes(limit)} (max_response_mib)")
