"""A small HTTP/1.1 server connection on a raw asyncio Protocol.

Raw protocol rather than ``asyncio.start_server`` streams because the loopback must answer
thousands of requests per second on one core beside the client it measures: a Protocol parses
straight out of one buffer and writes each response with one ``transport.write``. It speaks just
enough HTTP/1.1 for clients like httpx and aiohttp: keep-alive, pipelining (answered in order),
``Content-Length`` and chunked request bodies, ``Expect: 100-continue``, chunked responses for
streams.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class Owner(Protocol):
    """What a connection reports to: the server that dispatches requests and tracks connections."""

    async def handle(self, request: HttpRequest, connection: HttpConnection) -> None: ...

    def opened(self, connection: HttpConnection) -> None: ...

    def closed(self, connection: HttpConnection) -> None: ...

    def failed(self, error: BaseException) -> None: ...


@dataclass(frozen=True, slots=True)
class _Head:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool
    chunked: bool
    length: int


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Overloaded" if status == 529 else "Unknown"


def response_head(status: int, headers: Iterable[tuple[str, str]], keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    if not keep_alive:
        lines.append("connection: close")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("latin-1")


class HttpConnection(asyncio.Protocol):
    """One client connection. Requests are queued as they are parsed and handled one at a time
    by a task that lives only while there is work, so an idle keep-alive connection costs nothing."""

    def __init__(self, owner: Owner) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._head: _Head | None = None
        self._queue: deque[HttpRequest] = deque()
        self._task: asyncio.Task[None] | None = None
        self._write_ready: asyncio.Future[None] | None = None
        self._lost = False
        self.keep_alive = True

    # --- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._owner.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._queue.clear()
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)
        if self._task is not None:
            self._task.cancel()  # a client that gave up ends its hang or latency wait
        self._owner.closed(self)

    def pause_writing(self) -> None:
        if self._write_ready is None or self._write_ready.done():
            self._write_ready = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while not self.is_closing and self._parse_next():
            pass
        if self._queue and self._task is None and not self.is_closing:
            self._task = self._loop.create_task(self._serve())

    # --- parsing -----------------------------------------------------------------------------

    def _parse_next(self) -> bool:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    self._reject(431)
                return False
            try:
                self._head = _parse_head(bytes(self._buffer[:end]))
            except ValueError:
                self._reject(400)
                return False
            del self._buffer[: end + 4]
            if self._head.length > MAX_BODY_BYTES:
                self._reject(413)
                return False
            if self._head.headers.get("expect", "").lower() == "100-continue":
                self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        head = self._head
        if head.chunked:
            try:
                parsed = _dechunk(self._buffer)
            except ValueError:
                self._reject(400)
                return False
            if parsed is None:
                if len(self._buffer) > MAX_BODY_BYTES:
                    self._reject(413)
                return False
            body, used = parsed
        else:
            if len(self._buffer) < head.length:
                return False
            body, used = bytes(self._buffer[: head.length]), head.length
        del self._buffer[:used]
        self._head = None
        self._queue.append(HttpRequest(head.method, head.target, head.headers, body, head.keep_alive))
        return True

    def _reject(self, status: int) -> None:
        self.write(response_head(status, [("content-length", "0")], keep_alive=False))
        self.close()

    # --- serving -----------------------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while self._queue and not self.is_closing:
                request = self._queue.popleft()
                self.keep_alive = request.keep_alive
                await self._owner.handle(request, self)
                if not self.keep_alive:
                    self.close()
        except asyncio.CancelledError:
            pass
        except Exception as error:  # a bug in the fake must show up in its stats, not vanish
            self._owner.failed(error)
            self.abort()
        finally:
            self._task = None

    # --- writing -----------------------------------------------------------------------------

    @property
    def is_closing(self) -> bool:
        return self._lost or self._transport is None or self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.is_closing:
            assert self._transport is not None
            self._transport.write(data)

    async def drain(self) -> None:
        if self._write_ready is not None and not self._write_ready.done():
            await self._write_ready

    def send(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """A whole response with a Content-Length, in one write."""
        all_headers = [*headers, ("content-length", str(len(body)))]
        self.write(response_head(status, all_headers, self.keep_alive) + body)

    def start_chunked(self, status: int, headers: Iterable[tuple[str, str]], first: bytes = b"") -> None:
        all_headers = [*headers, ("transfer-encoding", "chunked")]
        self.write(response_head(status, all_headers, self.keep_alive) + (chunk(first) if first else b""))

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.write(chunk(data))

    def end_chunked(self) -> None:
        self.write(b"0\r\n\r\n")

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0) rather than a FIN: the client sees a reset."""
        if self._transport is not None and not self._transport.is_closing():
            sock = self._transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._transport.abort()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _parse_head(raw: bytes) -> _Head:
    lines = raw.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(version)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise ValueError(line)
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    length = 0 if chunked else int(headers.get("content-length") or 0)
    if length < 0:
        raise ValueError("negative content-length")
    return _Head(method, target, headers, keep_alive, chunked, length)


def _dechunk(buffer: bytearray) -> tuple[bytes, int] | None:
    """A complete chunked body at the start of ``buffer`` and the bytes it used, or None when
    more bytes are needed."""
    pos, parts = 0, []
    while True:
        eol = buffer.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buffer[pos:eol]).split(b";", 1)[0].strip(), 16)
        pos = eol + 2
        if size == 0:
            while True:  # optional trailer lines, then the blank line
                eol = buffer.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return b"".join(parts), eol + 2
                pos = eol + 2
        if len(buffer) < pos + size + 2:
            return None
        parts.append(bytes(buffer[pos : pos + size]))
        pos += size + 2
