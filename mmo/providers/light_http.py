"""The HTTP client of one command's few calls (``mmo ask``, ``mmo chat``): a JSON POST and its
answer (whole, or as it streams) over HTTP/1.1 on asyncio's own streams, so the call does not wait for httpx,
httpcore, h11 and anyio to be imported (about 70 ms, the largest part of ``mmo ask``'s start-up
that was not mmo's own). Everything else goes to an httpx client made on first need and kept:
a provider batch's uploads, and every request at all when the environment sets a
proxy (``HTTP(S)_PROXY``, ``ALL_PROXY``, in either case), whose rules stay httpx's.

It sends an event stream's request too (``open_json_stream``: the answer's body read as it comes),
never reusing that connection. What it does as httpx does, so the answer and its errors are the
same whichever client sent it:
the body is ``json=`` encoded as httpx encodes it, with the client headers of
``mmo.providers.http.CLIENT_HEADERS``; redirects are not followed; the answer's body is read raw
and decoded within the transport limits by ``bounded_body`` (``Content-Length``, chunked, or up
to the connection's end); TLS uses the same deferred-roots context (``mmo.providers.tls``).
Connecting is bounded by the connect timeout, every silence by the read timeout; the caller
bounds the whole attempt. A failure is a ``LightHttpError`` naming what happened and the URL
tried, which ``http.failures_as_errors`` maps as it maps httpx's.

Hostile servers are held to fixed bounds before the body: a status line or header line of at
most ``MAX_LINE`` bytes, at most ``MAX_HEADERS`` headers, a chunk-size line of at most
``MAX_LINE`` bytes. A connection is reused for the next request to its origin when the answer
was read whole and the server did not ask to close it; a reused connection the server closed
meanwhile (nothing came back) is replaced once, as keep-alive clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as json_module
import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, Mapping
from urllib.parse import SplitResult, urlsplit

from mmo.core.transport_limits import TransportLimits
from mmo.providers.bounded_body import check_declared_length, read_bounded

if TYPE_CHECKING:
    import httpx

MAX_LINE = 16 * 1024
MAX_HEADERS = 200
MAX_IDLE_PER_ORIGIN = 16  # a bench judge or tune session may have a few calls in flight at once
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
_JSON_BODY = json_module.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def json_body(body: Any) -> bytes:
    """The body exactly as httpx encodes ``json=`` (one encoder, not one per call)."""
    return _JSON_BODY(body).encode("utf-8")


class LightHttpError(Exception):
    """A request that failed below HTTP: ``kind`` is connect, connect_timeout, read_timeout,
    write_timeout, dropped (the connection ended mid-answer) or protocol (not HTTP/1.x)."""

    def __init__(self, kind: str, detail: str, url: str) -> None:
        super().__init__(detail)
        self.kind, self.detail, self.url = kind, detail, url


class _Stale(Exception):
    """A reused connection ended before any byte of the answer: send again on a new one."""


class Headers(Mapping[str, str]):
    """An answer's headers, names case-insensitive; repeated ones joined by ", " as httpx does."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._raw = pairs
        self._joined: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._joined[key] = f"{self._joined[key]}, {value}" if key in self._joined else value

    def __getitem__(self, name: str) -> str:
        return self._joined[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._joined)

    def __len__(self) -> int:
        return len(self._joined)

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._raw)


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LightClient:
    """``post_json_answer`` on its own connections; any other attribute is the httpx client's
    (``fallback``, made on first use)."""

    def __init__(self, fallback: Callable[[], httpx.AsyncClient], environ: Mapping[str, str] | None = None, *,
                 headers: Mapping[str, str] | None = None, tls: ssl.SSLContext | None = None) -> None:
        env = os.environ if environ is None else environ
        self._direct = not any(env.get(name) or env.get(name.upper()) for name in _PROXY_VARIABLES)
        self._fallback = fallback
        self._client: httpx.AsyncClient | None = None
        self._headers = {name.lower(): value for name, value in (headers or {}).items()}
        self._tls = tls
        self._idle: dict[_Origin, list[_Connection]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._httpx(), name)

    def _httpx(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = self._fallback()
        return self._client

    async def post_json_answer(self, url: str, *, json: Any, headers: Mapping[str, str], limits: TransportLimits) -> tuple[int, Headers, bytes] | None:
        """The status, headers and decoded body of a JSON POST; ``None`` when it must go through
        httpx (a proxy is set, or a request it does not send as httpx would: ``_plain_request``)."""
        answer = await self.open_json_stream(url, json=json, headers=headers, limits=limits)
        if answer is None:
            return None
        try:
            check_declared_length(answer.headers, limits.max_response_bytes)
            content = await read_bounded(answer.aiter_raw(), answer.headers, limits.max_response_bytes)
        except BaseException:
            await answer.aclose()
            raise
        self._keep_or_close(answer)
        return answer.status_code, answer.headers, content

    async def open_json_stream(self, url: str, *, json: Any, headers: Mapping[str, str], limits: TransportLimits) -> LightResponse | None:
        """Send a JSON POST and read the answer's head: the answer, its body still to be read
        (``aiter_raw``), then closed (``aclose``); ``None`` as for ``post_json_answer``."""
        parts = urlsplit(url)
        if not self._direct or parts.hostname is None or not _plain_request(parts, headers):
            return None
        origin = _Origin(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        request = self._request(parts.path or "/", parts.query, parts.netloc.rpartition("@")[2], headers, json_body(json))
        shown = parts._replace(query="", fragment="").geturl()
        for _ in range(2):  # a stale reused connection, then a new one
            connection, reused = await self._connection(origin, limits, shown)
            try:
                return await _send(connection, origin, request, limits, shown, reused)
            except _Stale:
                connection.close()
                self._drop_idle(origin)  # closed together (the server restarted, or its keep-alive ran out)
            except BaseException:
                connection.close()
                raise
        raise LightHttpError("dropped", "the server closed the connection without answering", shown)

    def _keep_or_close(self, answer: LightResponse) -> None:
        """A connection whose answer was read whole, and not asked to close, serves the next request."""
        idle = self._idle.setdefault(answer.origin, [])
        if answer.reusable() and len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(answer.connection)
        else:
            answer.connection.close()

    def _request(self, path: str, query: str, host: str, headers: Mapping[str, str], body: bytes) -> bytes:
        merged = {**self._headers, **{name.lower(): value for name, value in headers.items()}}
        merged.update({"host": host, "content-type": "application/json", "content-length": str(len(body))})
        merged.setdefault("accept", "*/*")
        target = f"{path}?{query}" if query else path
        head = f"POST {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in merged.items()) + "\r\n"
        return head.encode("utf-8") + body

    async def _connection(self, origin: _Origin, limits: TransportLimits, shown: str) -> tuple[_Connection, bool]:
        idle = self._idle.get(origin, [])
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection, True
            connection.close()
        tls = None
        if origin.scheme == "https":
            tls = self._tls if self._tls is not None else _default_tls()
        try:
            async with asyncio.timeout(limits.connect_timeout_s):
                reader, writer = await asyncio.open_connection(origin.host, origin.port, ssl=tls, limit=MAX_LINE,
                                                               server_hostname=origin.host if tls else None)
        except TimeoutError:
            raise LightHttpError("connect_timeout", "ConnectTimeout", shown) from None
        except (OSError, ssl.SSLError, UnicodeError) as error:
            raise LightHttpError("connect", f"ConnectError: {error}", shown) from None
        return _Connection(reader, writer), False

    def _drop_idle(self, origin: _Origin) -> None:
        for connection in self._idle.pop(origin, []):
            connection.close()

    async def aclose(self) -> None:
        for origin in list(self._idle):
            self._drop_idle(origin)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _plain_request(parts: SplitResult, headers: Mapping[str, str]) -> bool:
    """A request this client sends exactly as httpx would: plain http or https, no credentials in
    the URL (httpx turns them into a header), a path and query of printable ASCII, and header
    names and values of ASCII without line breaks. Anything else is left to httpx, to send or to
    refuse in its own words."""
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None or parts.password is not None:
        return False
    target = parts.path + parts.query
    if not (target.isascii() and target.isprintable() and " " not in target):
        return False
    return all(_header_text(name) and _header_text(value) for name, value in headers.items())


def _header_text(text: str) -> bool:
    return text.isascii() and not any(char in text for char in "\r\n\0")


def _default_tls() -> ssl.SSLContext:
    from mmo.providers.tls import deferred_trust_context

    return deferred_trust_context()


async def _send(connection: _Connection, origin: _Origin, request: bytes, limits: TransportLimits, shown: str, reused: bool) -> LightResponse:
    """Send ``request`` and read its answer's status line and headers."""
    try:
        connection.writer.write(request)
        async with asyncio.timeout(limits.read_idle_timeout_s):
            await connection.writer.drain()
    except TimeoutError:
        raise LightHttpError("write_timeout", "WriteTimeout", shown) from None
    except OSError as error:
        if reused:
            raise _Stale() from None
        raise LightHttpError("dropped", f"RemoteProtocolError: {error}", shown) from None
    reader = _Reader(connection.reader, limits.read_idle_timeout_s, shown)
    first = await reader.line(allow_eof=reused)
    if first is None:
        raise _Stale()
    status, version = _status_line(first, shown)
    while 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
        await _header_lines(reader)
        status, version = _status_line(await reader.line(), shown)
    return LightResponse(status, await _header_lines(reader), version, origin, connection, reader)


class LightResponse:
    """An answer whose head was read: ``aiter_raw`` yields its body as received (once)."""

    def __init__(self, status: int, headers: Headers, version: str, origin: _Origin, connection: _Connection, reader: _Reader) -> None:
        self.status_code, self.headers, self.version = status, headers, version
        self.origin, self.connection, self._reader = origin, connection, reader
        self._read_whole = False

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        async for chunk in _body(self._reader, self.headers):
            yield chunk
        self._read_whole = True

    def reusable(self) -> bool:
        return (self._read_whole and self._reader.framed and self.version == "HTTP/1.1"
                and "close" not in self.headers.get("connection", "").lower())

    async def aclose(self) -> None:
        self.connection.close()


class _Reader:
    """Reads of one answer, each silence bounded by ``idle_s``, every failure a ``LightHttpError``."""

    def __init__(self, stream: asyncio.StreamReader, idle_s: float, shown: str) -> None:
        self.stream, self.idle_s, self.shown = stream, idle_s, shown
        self.framed = True  # the body's end was known (not "until the connection closes")

    async def line(self, *, allow_eof: bool = False) -> bytes | None:
        try:
            async with asyncio.timeout(self.idle_s):
                line = await self.stream.readuntil(b"\n")
        except TimeoutError:
            raise LightHttpError("read_timeout", "ReadTimeout", self.shown) from None
        except asyncio.IncompleteReadError as partial:
            if allow_eof and not partial.partial:
                return None
            raise LightHttpError("dropped", "RemoteProtocolError: the server closed the connection mid-answer", self.shown) from None
        except asyncio.LimitOverrunError:
            raise LightHttpError("protocol", f"RemoteProtocolError: a line of the answer's head is over {MAX_LINE} bytes", self.shown) from None
        except OSError as error:
            raise LightHttpError("dropped", f"ReadError: {error}", self.shown) from None
        return line

    async def read(self, size: int) -> bytes:
        try:
            async with asyncio.timeout(self.idle_s):
                return await self.stream.read(size)
        except TimeoutError:
            raise LightHttpError("read_timeout", "ReadTimeout", self.shown) from None
        except OSError as error:
            raise LightHttpError("dropped", f"ReadError: {error}", self.shown) from None

    async def exactly(self, size: int) -> AsyncIterator[bytes]:
        left = size
        while left:
            chunk = await self.read(min(left, 65536))
            if not chunk:
                raise LightHttpError("dropped", "RemoteProtocolError: the server closed the connection before the whole body", self.shown)
            left -= len(chunk)
            yield chunk


def _status_line(line: bytes | None, shown: str) -> tuple[int, str]:
    parts = (line or b"").decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise LightHttpError("protocol", f"RemoteProtocolError: not an HTTP/1.x answer: {(line or b'')[:80]!r}", shown)
    return int(parts[1]), parts[0]


async def _header_lines(reader: _Reader) -> Headers:
    pairs: list[tuple[str, str]] = []
    while True:
        line = await reader.line()
        assert line is not None
        if line in (b"\r\n", b"\n"):
            return Headers(pairs)
        if len(pairs) >= MAX_HEADERS:
            raise LightHttpError("protocol", f"RemoteProtocolError: more than {MAX_HEADERS} headers", reader.shown)
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise LightHttpError("protocol", f"RemoteProtocolError: malformed header line {line[:80]!r}", reader.shown)
        pairs.append((name, value.strip()))


async def _body(reader: _Reader, headers: Headers) -> AsyncIterator[bytes]:
    """The raw body: chunked, of ``Content-Length`` bytes, or up to the connection's end."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        async for chunk in _chunks(reader):
            yield chunk
        return
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise LightHttpError("protocol", f"RemoteProtocolError: bad Content-Length {declared[:40]!r}", reader.shown)
        async for chunk in reader.exactly(int(declared)):
            yield chunk
        return
    reader.framed = False
    while chunk := await reader.read(65536):
        yield chunk


async def _chunks(reader: _Reader) -> AsyncIterator[bytes]:
    while True:
        line = await reader.line()
        assert line is not None
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise LightHttpError("protocol", f"RemoteProtocolError: bad chunk size {size_text[:40]!r}", reader.shown) from None
        if size < 0:
            raise LightHttpError("protocol", "RemoteProtocolError: negative chunk size", reader.shown)
        if size == 0:
            await _header_lines(reader)  # trailers, bounded as headers are
            return
        async for piece in reader.exactly(size):
            yield piece
        if await reader.line() not in (b"\r\n", b"\n"):
            raise LightHttpError("protocol", "RemoteProtocolError: a chunk did not end where its size said", reader.shown)
