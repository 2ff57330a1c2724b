"""A hostile (or broken) LLM endpoint on 127.0.0.1, for tests and benchmarks of the transport
limits: it answers every POST with one scripted misbehaviour and counts what it sent::

    with HostileServer(Hostility.gzip_bomb(inflated_bytes=1 << 30)) as server:
        ... point a provider at server.base_url (any path: /v1/chat/completions, /v1/messages ...)
        record = server.wait_for_connections(1)[0]   # bytes_sent, client_closed, seconds

Misbehaviours (``Hostility``), each a class method:

* ``gzip_bomb(inflated_bytes)``: a 200 JSON answer, ``Content-Encoding: gzip``, padded with
  whitespace so it inflates to ``inflated_bytes`` (about 1,000 times what is sent); a streaming
  request gets the same as an event stream. It is made from one compressed block repeated, so
  even a gigabyte costs the server nothing;
* ``deep_json(depth)``: a 200 JSON answer (or one stream event) holding ``depth`` nested arrays;
* ``endless_stream(interval_s)``: a 200 event stream of text chunks that never ends;
* ``trickle(interval_s)``: a 200 answer (an event stream when asked for one) sent one byte every
  ``interval_s``, never finishing in a test's time;
* ``stall(after_bytes)``: a 200 head and ``after_bytes`` of an event stream, then silence;
* ``huge_event(size)``: an event stream whose first event carries ``size`` bytes of data.

Bodies are OpenAI-shaped: what matters is how the bytes arrive, which every wire reads alike.
``blackholed_port()`` is a port whose connects never complete (for connect timeouts). Like the
loopback server, it binds only 127.0.0.1 and stops by itself after ``lifetime_s``; it runs its own
event loop in a background thread, so sync tests, async tests and benchmark scripts use it alike.
``python -m tests.support.hostile gzip_bomb --port 0`` runs one in the foreground.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Literal

HOST = "127.0.0.1"
Kind = Literal["gzip_bomb", "deep_json", "endless_stream", "trickle", "stall", "huge_event"]
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Hostility:
    """One misbehaviour, with its size or pace; see the module docstring."""

    kind: Kind
    inflated_bytes: int = 1 << 30
    depth: int = 100_000
    interval_s: float = 0.0
    after_bytes: int = 0
    size: int = 64 * 1024 * 1024

    @classmethod
    def gzip_bomb(cls, inflated_bytes: int = 1 << 30) -> Hostility:
        return cls("gzip_bomb", inflated_bytes=inflated_bytes)

    @classmethod
    def deep_json(cls, depth: int = 100_000) -> Hostility:
        return cls("deep_json", depth=depth)

    @classmethod
    def endless_stream(cls, interval_s: float = 0.0) -> Hostility:
        return cls("endless_stream", interval_s=interval_s)

    @classmethod
    def trickle(cls, interval_s: float = 0.1) -> Hostility:
        return cls("trickle", interval_s=interval_s)

    @classmethod
    def stall(cls, after_bytes: int = 0) -> Hostility:
        return cls("stall", after_bytes=after_bytes)

    @classmethod
    def huge_event(cls, size: int = 64 * 1024 * 1024) -> Hostility:
        return cls("huge_event", size=size)


@dataclass
class ConnectionRecord:
    """One request: its path, whether it asked for a stream, the body bytes written to the
    socket, whether the client closed first, and how long the connection lived."""

    path: str = ""
    stream: bool = False
    bytes_sent: int = 0
    client_closed: bool = False
    seconds: float = 0.0
    done: bool = field(default=False, repr=False)


class HostileServer:
    """See the module docstring."""

    def __init__(self, hostility: Hostility, *, port: int = 0, lifetime_s: float = 60.0) -> None:
        if lifetime_s <= 0:
            raise ValueError("lifetime_s must be positive: the server must stop by itself")
        self.hostility = hostility
        self._port, self._lifetime_s = port, lifetime_s
        self._records: list[ConnectionRecord] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # --- lifecycle (any thread) ------------------------------------------------------------

    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="hostile-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; add ``/v1`` for an OpenAI-compatible provider."""
        return f"http://{HOST}:{self._port}"

    def records(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._records)

    def wait_for_connections(self, count: int, timeout_s: float = 10.0) -> list[ConnectionRecord]:
        """The first ``count`` requests once each has ended (the client closed, or the server)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            finished = [r for r in self.records() if r.done]
            if len(finished) >= count:
                return finished[:count]
            time.sleep(0.01)
        raise AssertionError(f"fewer than {count} requests ended within {timeout_s} s: {self.records()}")

    # --- the server (its own loop) ---------------------------------------------------------

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._handle, HOST, self._port)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._lifetime_s)
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        record, started = ConnectionRecord(), time.monotonic()
        with self._lock:
            self._records.append(record)
        try:
            record.path, record.stream = await _read_request(reader)
            sending = asyncio.ensure_future(self._send(writer, record))
            closing = asyncio.ensure_future(reader.read())  # b"" once the client closes its side
            await asyncio.wait({sending, closing}, return_when=asyncio.FIRST_COMPLETED)
            if not sending.done():
                record.client_closed = True
            for task in (sending, closing):
                task.cancel()
            await asyncio.gather(sending, closing, return_exceptions=True)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # a client gone before its request was read, or the server stopping
        finally:
            record.seconds = time.monotonic() - started
            record.done = True
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, record: ConnectionRecord) -> None:
        try:
            async for piece in _misbehave(self.hostility, record.stream):
                writer.write(piece)
                record.bytes_sent += len(piece)
                await writer.drain()
        except ConnectionError:
            record.client_closed = True


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, bool]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    path = head.split(" ", 2)[1]
    length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n") if line.lower().startswith("content-length:")), 0)
    body = json.loads(await reader.readexactly(length)) if length else {}
    return path, bool(body.get("stream")) or "streamGenerateContent" in path


# --- what is sent --------------------------------------------------------------------------


def _head(content_type: str, *extra: str) -> bytes:
    lines = ["HTTP/1.1 200 OK", f"content-type: {content_type}", "transfer-encoding: chunked", "connection: close", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _answer(text: str = "hello") -> bytes:
    body = {"id": "hostile", "object": "chat.completion", "model": "hostile",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    return json.dumps(body).encode()


def _event(text: str) -> bytes:
    chunk = {"id": "hostile", "object": "chat.completion.chunk", "model": "hostile",
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _content_type(stream: bool) -> str:
    return "text/event-stream" if stream else "application/json"


async def _misbehave(hostility: Hostility, stream: bool) -> AsyncIterator[bytes]:
    kind = hostility.kind
    if kind == "gzip_bomb":
        yield _head(_content_type(stream), "content-encoding: gzip")
        for piece in _gzip_bomb(hostility.inflated_bytes, _event("boom") if stream else _answer("boom")):
            yield _chunk(piece)
        yield _chunk(b"")
    elif kind == "deep_json":
        deep = b"[" * hostility.depth + b"]" * hostility.depth
        body = b"data: " + deep + b"\n\n" if stream else _answer()[:-1] + b', "deep": ' + deep + b"}"
        yield _head(_content_type(stream)) + _chunk(body) + _chunk(b"")
    elif kind == "endless_stream":
        yield _head("text/event-stream")
        while True:
            yield _chunk(_event("tick ") * 16)
            await asyncio.sleep(hostility.interval_s)
    elif kind == "trickle":
        yield _head(_content_type(stream))
        body = _event("slow ") * 10_000 if stream else _answer("slow " * 10_000)
        for byte in body:
            yield _chunk(bytes([byte]))
            await asyncio.sleep(hostility.interval_s)
        yield _chunk(b"")
    elif kind == "stall":
        yield _head("text/event-stream")
        if hostility.after_bytes:
            yield _chunk((_event("first ") * (hostility.after_bytes // 100 + 1))[: hostility.after_bytes])
        await asyncio.sleep(3600)
    elif kind == "huge_event":
        yield _head("text/event-stream") + _chunk(b"data: ")
        for start in range(0, hostility.size, _BLOCK):
            yield _chunk(b"x" * min(_BLOCK, hostility.size - start))
        yield _chunk(b"\n\n") + _chunk(b"")


def _gzip_bomb(inflated_bytes: int, tail: bytes) -> Iterator[bytes]:
    """A gzip stream of ``inflated_bytes`` of whitespace, then ``tail`` (so it is valid JSON once
    inflated): one compressed MiB of spaces, flushed so it stands alone, repeated."""
    block = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    spaces = b" " * _BLOCK
    repeated = block.compress(spaces) + block.flush(zlib.Z_FULL_FLUSH)
    crc, size = 0, 0
    yield b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # gzip header: deflate, no name, no time
    for _ in range(max(0, inflated_bytes - len(tail)) // _BLOCK):
        crc, size = zlib.crc32(spaces, crc), size + _BLOCK
        yield repeated
    last = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc, size = zlib.crc32(tail, crc), size + len(tail)
    yield last.compress(tail) + last.flush() + crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")


@contextlib.contextmanager
def blackholed_port() -> Iterator[int]:
    """A port whose connects never complete: a listener that never accepts, its accept queue
    already full, so the kernel drops further SYNs (loopback only, nothing leaves)."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((HOST, port))
            fillers.append(filler)
        time.sleep(0.05)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.hostile", description=__doc__.split("::")[0])
    parser.add_argument("kind", choices=["gzip_bomb", "deep_json", "endless_stream", "trickle", "stall", "huge_event"])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--lifetime-s", type=float, default=600.0)
    args = parser.parse_args(argv)
    hostility = getattr(Hostility, args.kind)()  # with that misbehaviour's default size or pace
    with HostileServer(hostility, port=args.port, lifetime_s=args.lifetime_s) as server:
        print(f"listening on {server.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while server.running:
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
