"""The single-call HTTP client (``mmo.providers.light_http``) against scripted loopback servers:
the answer's framings, connection reuse and a reused connection the server had closed, a head
that breaks its bounds or is not HTTP, a connection that drops, a refused connect naming the URL,
and a proxy in the environment handing every request to httpx. That ``mmo ask``'s call imports
no httpx at all is checked on a real process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from mmo.catalog.endpoints import ProviderSettings
from mmo.core.errors import ConnectionFailed, ProviderError, StreamCut
from mmo.core.transport_limits import TransportLimits
from mmo.core.types import Request
from mmo.providers.http import CLIENT_HEADERS, make_client
from mmo.providers.light_http import MAX_HEADERS, MAX_LINE, LightClient
from mmo.providers.openai import OpenAIProvider
from tests.support.loop_profile import loop_profile
from tests.support.loopback import LoopbackServer

LIMITS = TransportLimits(connect_timeout_s=1.0, read_idle_timeout_s=1.0, attempt_deadline_s=3.0)
ANSWER = json.dumps({"id": "x", "object": "chat.completion", "model": "m",
                     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi there"}, "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 1, "completion_tokens": 2}}).encode()
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return await reader.readexactly(length)


def _answer(extra: bytes = b"", body: bytes = ANSWER, framing: str = "length") -> bytes:
    if framing == "chunked":
        middle = len(body) // 2
        chunks = b"".join(f"{len(part):x};ext=1\r\n".encode() + part + b"\r\n" for part in (body[:middle], body[middle:]))
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n" + extra + b"\r\n" + chunks + b"0\r\nx-trailer: 1\r\n\r\n"
    if framing == "close":
        return b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n" + extra + b"\r\n" + body
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


async def _calls(script: Script, count: int = 1, environ: dict[str, str] | None = None) -> tuple[list[str | ProviderError], int]:
    """``count`` calls through the OpenAI adapter on one light client; their texts (or errors),
    and the connections the server accepted."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            await script(reader, writer, connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LightClient(make_client, environ or {}, headers=CLIENT_HEADERS)
    provider = OpenAIProvider(ProviderSettings("light", "openai", f"http://127.0.0.1:{port}/v1", needs_key=False, transport=LIMITS), None, client)  # type: ignore[arg-type]
    results: list[str | ProviderError] = []
    try:
        for n in range(count):
            try:
                results.append((await provider.complete(Request.from_prompt(f"hello {n}"), "m")).text)
            except ProviderError as error:
                results.append(error)
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    return results, connections


def _run(script: Script, count: int = 1, environ: dict[str, str] | None = None) -> tuple[list[str | ProviderError], int]:
    return asyncio.run(_calls(script, count, environ))


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_each_framing_of_an_answer_is_read_whole(framing: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        body = json.loads(await _read_request(reader))
        assert body["messages"][-1]["content"] == "hello 0"
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + _answer(framing=framing))
        await writer.drain()

    assert _run(script) == (["hi there"], 1)


def test_a_connection_is_reused_and_one_the_server_closed_is_replaced() -> None:
    async def keeps_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        for _ in range(3):
            await _read_request(reader)
            writer.write(_answer())
            await writer.drain()

    assert _run(keeps_open, 3) == (["hi there"] * 3, 1)

    async def closes_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await _read_request(reader)
        writer.write(_answer())  # says nothing of closing, then closes (a keep-alive that ran out)
        await writer.drain()

    results, connections = _run(closes_after_one, 2)
    assert results == ["hi there", "hi there"] and connections == 2  # the second call went on a new connection


def _fails(script: Script) -> ProviderError:
    (result,), _ = _run(script)
    assert isinstance(result, ProviderError), result
    return result


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (b"HTTP/1.1 200 OK\r\nx-long: " + b"a" * (MAX_LINE + 10) + b"\r\n\r\n", f"over {MAX_LINE} bytes"),
        (b"HTTP/1.1 200 OK\r\n" + b"x-many: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n", f"more than {MAX_HEADERS} headers"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 12x\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{\"partial", "before the whole body"),
        (b"HTTP/1.1 200 OK\r\ncontent-", "mid-answer"),
    ],
    ids=["long-header-line", "too-many-headers", "not-http", "bad-header", "bad-chunk-size", "bad-length", "short-body", "cut-head"],
)
def test_a_broken_or_hostile_answer_is_a_connection_failure_saying_what(answer: bytes, says: str) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _: int) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()

    error = _fails(script)
    assert type(error) is ConnectionFailed and error.failover and error.retryable
    assert says in error.one_line() and "(trying http://127.0.0.1:" in error.one_line(), error.one_line()


def test_a_refused_connect_names_the_url_tried() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def call() -> ProviderError:
        client = LightClient(make_client, {}, headers=CLIENT_HEADERS)
        provider = OpenAIProvider(ProviderSettings("light", "openai", f"http://127.0.0.1:{port}/v1", needs_key=False, transport=LIMITS), None, client)  # type: ignore[arg-type]
        try:
            await provider.complete(Request.from_prompt("hi"), "m")
        except ProviderError as error:
            return error
        finally:
            await client.aclose()
        raise AssertionError("the call did not fail")

    error = asyncio.run(call())
    assert type(error) is ConnectionFailed
    assert f"(trying http://127.0.0.1:{port}/v1/chat/completions)" in error.one_line(), error.one_line()


def test_with_a_proxy_set_every_request_goes_through_httpx(loopback: LoopbackServer) -> None:
    async def answer() -> tuple[object, str]:
        client = LightClient(make_client, {"HTTPS_PROXY": "http://proxy.invalid:3128"}, headers=CLIENT_HEADERS)
        try:
            direct = await client.post_json_answer(loopback.openai_base_url + "/chat/completions", json={}, headers={}, limits=LIMITS)
            provider = OpenAIProvider(ProviderSettings("loop", "openai", loopback.openai_base_url, needs_key=False), None, client)  # type: ignore[arg-type]
            text = (await provider.complete(Request.from_prompt("proxied"), "m")).text  # http:// is not proxied by HTTPS_PROXY
        finally:
            await client.aclose()
        return direct, text

    direct, text = asyncio.run(answer())
    assert direct is None and text == "echo: proxied"


def test_ask_makes_its_call_without_importing_httpx(loopback: LoopbackServer, tmp_path: Path) -> None:
    profile = loop_profile(tmp_path / "loop.yaml", loopback)
    env = {"MMO_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mmo", "ask", "-P", str(profile), "--no-cache", "hello"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "echo: hello" in done.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "mmo.providers.http" in imported  # the call was made over HTTP...
    assert not {"httpx", "httpcore", "h11", "anyio"} & imported  # ...on the light client's own connection


@pytest.mark.parametrize(
    ("url", "headers"),
    [("http://user:secret@127.0.0.1:9/v1/chat", {}), ("http://127.0.0.1:9/v1/a b", {}), ("http://127.0.0.1:9/v1/chat", {"x-team": "a\r\nx-evil: 1"}),
     ("http://127.0.0.1:9/v1/chat", {"x-team": "équipe"}), ("ftp://127.0.0.1:9/v1/chat", {})],
    ids=["credentials", "space-in-path", "line-break-in-header", "non-ascii-header", "not-http"],
)
def test_what_httpx_would_send_otherwise_is_left_to_httpx(url: str, headers: dict[str, str]) -> None:
    async def direct() -> object:
        client = LightClient(make_client, {}, headers=CLIENT_HEADERS)
        try:
            return await client.post_json_answer(url, json={}, headers=headers, limits=LIMITS)
        finally:
            await client.aclose()

    assert asyncio.run(direct()) is None  # nothing sent (a connection to port 9 would have failed)


def test_a_stream_goes_on_the_light_client_and_a_cut_keeps_its_text() -> None:
    def event(text: str) -> bytes:
        chunk = {"id": "x", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return f"data: {json.dumps(chunk)}\n\n".encode()

    async def run(cut: bool) -> str | ProviderError:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n" + event("hel") + event("lo"))
            if not cut:
                writer.write(b"data: [DONE]\n\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = LightClient(make_client, {}, headers=CLIENT_HEADERS)
        provider = OpenAIProvider(ProviderSettings("light", "openai", f"http://127.0.0.1:{port}/v1", needs_key=False, transport=LIMITS), None, client)  # type: ignore[arg-type]
        try:
            return "".join([delta.text async for delta in provider.stream(Request.from_prompt("hi"), "m")])
        except ProviderError as error:
            return error
        finally:
            assert client._client is None  # httpx was never made
            await client.aclose()
            server.close()
            await server.wait_closed()

    assert asyncio.run(run(cut=False)) == "hello"
    cut = asyncio.run(run(cut=True))
    assert isinstance(cut, StreamCut) and cut.partial_text == "hello", cut
